package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/accrue/accrue/shared/keys"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// partnerCreate: accrue partner create --id ID --program FILE [--update] [--no-key] [--label TEXT].
func partnerCreate(ctx context.Context, c *cli, args []string) error {
	const name = "partner create"
	fs := c.flags(name)
	id := fs.String("id", "", "the partner id: lower-case letters, digits and dashes, 2 to 63 characters (required)")
	file := fs.String("program", "", "the program JSON file (required)")
	update := fs.Bool("update", false, "replace the program of an existing partner")
	noKey := fs.Bool("no-key", false, "do not create the first admin key")
	label := fs.String("label", "first admin key", "the label of the admin key")
	if err := c.parse(name, fs, args); err != nil {
		return err
	}
	switch {
	case *id == "":
		return usagef(name, "--id is required")
	case !payment.ValidPartnerID(*id):
		return usagef(name, "--id %q: lower-case letters, digits and dashes, 2 to 63 characters", *id)
	case *file == "":
		return usagef(name, "--program is required")
	}
	if err := c.requireTable(name); err != nil {
		return err
	}

	prog, err := readProgram(*file)
	if err != nil {
		return err
	}
	db, err := c.newDynamoDB(ctx)
	if err != nil {
		return err
	}
	st := store.New(db, c.table, store.WithProgramCacheTTL(0))
	cur, err := st.Program(ctx, *id)
	exists := err == nil
	switch {
	case exists && !*update:
		return fmt.Errorf("partner %s already exists (program version %d); use --update to replace its program", *id, cur.Version)
	case err != nil && !errors.Is(err, store.ErrUnknownPartner):
		return fmt.Errorf("look up partner %s: %w", *id, err)
	}
	version, err := st.PutProgram(ctx, *id, prog)
	if err != nil {
		return fmt.Errorf("store the program of %s: %w", *id, err)
	}
	if exists {
		fmt.Fprintf(c.stderr, "Updated the program of partner %s to version %d (%q).\n", *id, version, prog.Name)
		return nil
	}
	fmt.Fprintf(c.stderr, "Created partner %s with program version %d (%q).\n", *id, version, prog.Name)
	if *noKey {
		fmt.Fprintf(c.stderr, "No API key was created (--no-key): accrue key create --partner %s --role admin\n", *id)
		return nil
	}
	plain, k, err := keys.New(db, c.table).Create(ctx, *id, keys.RoleAdmin, *label)
	if err != nil {
		return fmt.Errorf("partner %s was created, but not its admin key (run: accrue key create --partner %s --role admin): %w", *id, *id, err)
	}
	c.printKey(plain, k)
	return nil
}

// readProgram reads and validates a program file; a validation error names
// every offending field, one a line.
func readProgram(file string) (*program.Program, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the program: %w", err)
	}
	p, err := program.Parse(data)
	var ve *program.ValidationError
	if errors.As(err, &ve) {
		var b strings.Builder
		fmt.Fprintf(&b, "invalid program in %s:", file)
		for _, fe := range ve.Errors {
			b.WriteString("\n  " + fe.Error())
		}
		return nil, errors.New(b.String())
	}
	if err != nil {
		return nil, fmt.Errorf("invalid program in %s: %w", file, err)
	}
	return p, nil
}
