package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/accrue/accrue/shared/keys"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/store"
)

// printKey prints a new key: the key alone on stdout, the rest on stderr.
func (c *cli) printKey(plain string, k keys.Key) {
	label := ""
	if k.Label != "" {
		label = fmt.Sprintf(", label %q", k.Label)
	}
	fmt.Fprintf(c.stderr, "Created %s key %s for partner %s%s. The key:\n", k.Role, k.ID, k.PartnerID, label)
	fmt.Fprintln(c.stdout, plain)
	fmt.Fprintln(c.stderr, "WARNING: this key is shown only once. Store it in a secret manager now;")
	fmt.Fprintln(c.stderr, "Accrue keeps only its hash and cannot show it again (revoke it and create another if lost).")
}

// partnerFlag validates --partner.
func partnerFlag(partner string) string {
	switch {
	case partner == "":
		return "--partner is required"
	case !payment.ValidPartnerID(partner):
		return fmt.Sprintf("--partner %q: lower-case letters, digits and dashes, 2 to 63 characters", partner)
	}
	return ""
}

// keyCreate: accrue key create --partner ID --role admin|app [--label TEXT].
func keyCreate(ctx context.Context, c *cli, args []string) error {
	const name = "key create"
	fs := c.flags(name)
	partner := fs.String("partner", "", "the partner id (required)")
	role := fs.String("role", "", "admin (program, rewards, keys, review) or app (member operations) (required)")
	label := fs.String("label", "", "a label to tell keys apart (up to 100 characters)")
	if err := c.parse(name, fs, args); err != nil {
		return err
	}
	if msg := partnerFlag(*partner); msg != "" {
		return usagef(name, "%s", msg)
	}
	if !keys.ValidRole(*role) {
		return usagef(name, "--role %q: must be %s or %s", *role, keys.RoleAdmin, keys.RoleApp)
	}
	db, err := c.tableDB(ctx, name)
	if err != nil {
		return err
	}
	// A key of a partner that does not exist would authenticate requests that
	// then fail: refuse it.
	if _, err := store.New(db, c.table, store.WithProgramCacheTTL(0)).Program(ctx, *partner); errors.Is(err, store.ErrUnknownPartner) {
		return fmt.Errorf("unknown partner %s (create it with: accrue partner create --id %s --program FILE)", *partner, *partner)
	} else if err != nil {
		return fmt.Errorf("look up partner %s: %w", *partner, err)
	}
	plain, k, err := keys.New(db, c.table).Create(ctx, *partner, *role, *label)
	if errors.Is(err, keys.ErrInvalid) {
		return usagef(name, "%v", err)
	}
	if err != nil {
		return err
	}
	c.printKey(plain, k)
	return nil
}

// keyList: accrue key list --partner ID [--json].
func keyList(ctx context.Context, c *cli, args []string) error {
	const name = "key list"
	fs := c.flags(name)
	partner := fs.String("partner", "", "the partner id (required)")
	asJSON := fs.Bool("json", false, "print a JSON array")
	if err := c.parse(name, fs, args); err != nil {
		return err
	}
	if msg := partnerFlag(*partner); msg != "" {
		return usagef(name, "%s", msg)
	}
	db, err := c.tableDB(ctx, name)
	if err != nil {
		return err
	}
	ks := keys.New(db, c.table)
	all := []keys.Key{}
	for cursor := ""; ; {
		page, next, err := ks.List(ctx, *partner, keys.MaxListLimit, cursor)
		if err != nil {
			return err
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if *asJSON {
		return writeJSON(c.stdout, all)
	}
	if len(all) == 0 {
		fmt.Fprintf(c.stderr, "Partner %s has no keys.\n", *partner)
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tLABEL\tCREATED\tREVOKED\tLAST4")
	for _, k := range all {
		label, revoked := k.Label, "-"
		if label == "" {
			label = "-"
		}
		if k.RevokedAt != nil {
			revoked = k.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Role, label, k.CreatedAt.UTC().Format(time.RFC3339), revoked, k.Last4)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write the list: %w", err)
	}
	return nil
}

// keyRevoke: accrue key revoke --partner ID --id KEY_ID.
func keyRevoke(ctx context.Context, c *cli, args []string) error {
	const name = "key revoke"
	fs := c.flags(name)
	partner := fs.String("partner", "", "the partner id (required)")
	id := fs.String("id", "", "the key id, from accrue key list (required)")
	if err := c.parse(name, fs, args); err != nil {
		return err
	}
	if msg := partnerFlag(*partner); msg != "" {
		return usagef(name, "%s", msg)
	}
	if *id == "" {
		return usagef(name, "--id is required")
	}
	db, err := c.tableDB(ctx, name)
	if err != nil {
		return err
	}
	k, err := keys.New(db, c.table).Revoke(ctx, *partner, *id)
	if errors.Is(err, keys.ErrNotFound) {
		return fmt.Errorf("partner %s has no key %s (see accrue key list --partner %s)", *partner, *id, *partner)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Key %s of partner %s (%s, last4 %s) is revoked since %s.\n",
		k.ID, k.PartnerID, k.Role, k.Last4, k.RevokedAt.UTC().Format(time.RFC3339))
	return nil
}
