package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/store"
)

// Rejected events are kept under the partner they came from, or, when the
// partner is unknown or unreadable, in the operators' partition that no
// partner's API shows. These commands show both.
//
// A rejection's id on the command line is "{partner}/{received unix
// nanoseconds}/{message id}", with "OPS" for the operators' partition (partner
// ids are lower case, so it names no partner): it is what the list prints and
// what show takes.

// opsScope names the operators' partition in rejection ids.
const opsScope = "OPS"

// rejectionID is the command-line id of r.
func rejectionID(r store.Rejection) string {
	scope := r.PartnerID
	if scope == "" {
		scope = opsScope
	}
	return fmt.Sprintf("%s/%d/%s", scope, r.ReceivedAt.UnixNano(), r.MessageID)
}

// parseRejectionID splits a rejection id into its partner ("" for the
// operators'), time received and message id.
func parseRejectionID(id string) (partner string, at time.Time, msg string, err error) {
	scope, rest, ok1 := strings.Cut(id, "/")
	nanos, msg, ok2 := strings.Cut(rest, "/")
	n, perr := strconv.ParseInt(nanos, 10, 64)
	switch {
	case !ok1 || !ok2 || msg == "" || perr != nil || n <= 0:
		return "", time.Time{}, "", fmt.Errorf("rejection id %q: want PARTNER/NANOSECONDS/MESSAGE_ID as accrue rejected list prints it", id)
	case scope == opsScope:
		scope = ""
	case partnerFlag(scope) != "":
		return "", time.Time{}, "", fmt.Errorf("rejection id %q: %q is neither a partner id nor %s", id, scope, opsScope)
	}
	return scope, time.Unix(0, n).UTC(), msg, nil
}

// rejectionView is a rejection as --json prints it: with its id.
type rejectionView struct {
	ID string `json:"id"`
	store.Rejection
}

// rejectedList: accrue rejected list [--partner ID | --ops] [--reason R] [--since T] [--until T] [--limit N] [--cursor C] [--json].
func rejectedList(ctx context.Context, c *cli, args []string) error {
	const name = "rejected list"
	fs := c.flags(name)
	partner := fs.String("partner", "", "list this partner's rejected events")
	ops := fs.Bool("ops", false, "list the operators' partition: events whose partner is unknown or unreadable (the default)")
	reason := fs.String("reason", "", "only this reason: "+strings.Join(ingest.Reasons(), ", "))
	since := fs.String("since", "", "only events received at or after: RFC 3339 time, YYYY-MM-DD (UTC), or a duration ago such as 24h")
	until := fs.String("until", "", "only events received at or before (same forms as --since; a date means its end)")
	limit := fs.Int("limit", 20, fmt.Sprintf("the most events to print (1 to %d)", store.MaxRejectionsLimit))
	cursor := fs.String("cursor", "", "continue a previous list (the cursor it printed)")
	asJSON := fs.Bool("json", false, `print {"data": [...], "next_cursor": "..."} with each event's raw body`)
	if err := c.parse(name, fs, args); err != nil {
		return err
	}
	q := store.RejectionQuery{Partner: *partner, Reason: *reason, Limit: int32(*limit), Cursor: *cursor}
	switch {
	case *partner != "" && *ops:
		return usagef(name, "--partner and --ops exclude each other")
	case *partner != "" && partnerFlag(*partner) != "":
		return usagef(name, "%s", partnerFlag(*partner))
	case *reason != "" && !slices.Contains(ingest.Reasons(), *reason):
		return usagef(name, "--reason %q: one of %s", *reason, strings.Join(ingest.Reasons(), ", "))
	case *limit < 1 || *limit > store.MaxRejectionsLimit:
		return usagef(name, "--limit %d: 1 to %d", *limit, store.MaxRejectionsLimit)
	}
	now := time.Now()
	var err error
	if q.Since, err = parseTime(*since, now, false); err != nil {
		return usagef(name, "--since: %v", err)
	}
	if q.Until, err = parseTime(*until, now, true); err != nil {
		return usagef(name, "--until: %v", err)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return usagef(name, "--until is before --since")
	}
	db, err := c.tableDB(ctx, name)
	if err != nil {
		return err
	}
	rs, next, err := store.New(db, c.table).ListRejections(ctx, q)
	if errors.Is(err, store.ErrBadCursor) {
		return usagef(name, "--cursor: not a cursor of this list (same --partner/--ops, --since and --until)")
	}
	if err != nil {
		return err
	}
	if *asJSON {
		out := struct {
			Data       []rejectionView `json:"data"`
			NextCursor string          `json:"next_cursor,omitempty"`
		}{Data: []rejectionView{}, NextCursor: next}
		for _, r := range rs {
			out.Data = append(out.Data, rejectionView{rejectionID(r), r})
		}
		return writeJSON(c.stdout, out)
	}
	where := "partner " + *partner
	if *partner == "" {
		where = "the operators' partition (partner unknown or unreadable)"
	}
	if len(rs) == 0 {
		fmt.Fprintf(c.stderr, "No rejected events in %s.\n", where)
	} else {
		fmt.Fprintf(c.stderr, "Rejected events in %s, newest first:\n", where)
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tRECEIVED\tREASON\tFIELD\tCLAIMED PARTNER\tSOURCE\tDETAIL")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", terminalSafe(rejectionID(r)), r.ReceivedAt.UTC().Format(time.RFC3339Nano),
				r.Reason, dash(terminalSafe(r.Field)), dash(terminalSafe(r.ClaimedPartnerID)), r.Source, terminalSafe(clip(r.Detail, 80)))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write the list: %w", err)
		}
	}
	if next != "" {
		fmt.Fprintf(c.stderr, "More: add --cursor %s\n", next)
	}
	return nil
}

// rejectedShow: accrue rejected show ID [--json | --raw].
func rejectedShow(ctx context.Context, c *cli, args []string) error {
	const name = "rejected show"
	fs := c.flags(name)
	asJSON := fs.Bool("json", false, "print the rejection as JSON")
	raw := fs.Bool("raw", false, "print only the raw body, byte for byte (e.g. to a file)")
	pos, err := c.parseArgs(name, fs, args, 1)
	if err != nil {
		return err
	}
	id := ""
	if len(pos) == 1 {
		id = pos[0]
	}
	switch {
	case id == "":
		return usagef(name, "the rejection ID is required (accrue rejected list prints it)")
	case *asJSON && *raw:
		return usagef(name, "--json and --raw exclude each other")
	}
	partner, at, msg, err := parseRejectionID(id)
	if err != nil {
		return usagef(name, "%v", err)
	}
	db, err := c.tableDB(ctx, name)
	if err != nil {
		return err
	}
	// The events received at that nanosecond (one, as a rule), by the listing.
	rs, _, err := store.New(db, c.table).ListRejections(ctx, store.RejectionQuery{Partner: partner, Since: at, Until: at, Limit: store.MaxRejectionsLimit})
	if err != nil {
		return err
	}
	i := slices.IndexFunc(rs, func(r store.Rejection) bool { return r.MessageID == msg })
	if i < 0 {
		return fmt.Errorf("no rejected event %s (see accrue rejected list)", id)
	}
	r := rs[i]
	switch {
	case *raw:
		_, err := io.WriteString(c.stdout, r.Body)
		return err
	case *asJSON:
		return writeJSON(c.stdout, rejectionView{id, r})
	}
	kept := "partner " + r.PartnerID
	if r.PartnerID == "" {
		kept = "the operators' partition (partner unknown or unreadable)"
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	for _, l := range [][2]string{
		{"id", id}, {"kept under", kept}, {"claimed partner", dash(r.ClaimedPartnerID)},
		{"received", r.ReceivedAt.UTC().Format(time.RFC3339Nano)}, {"source", r.Source}, {"message id", r.MessageID},
		{"event id", dash(r.EventID)}, {"reason", r.Reason}, {"field", dash(r.Field)}, {"detail", r.Detail},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", l[0], terminalSafe(l[1]))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write the rejection: %w", err)
	}
	fmt.Fprintf(c.stdout, "body (%d bytes; control characters escaped, --raw prints it as received):\n%s\n", len(r.Body), terminalSafe(r.Body))
	return nil
}

// parseTime reads a time bound: RFC 3339, a UTC date (its start, or with
// end its last nanosecond), or a duration before now; "" is no bound.
func parseTime(s string, now time.Time, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			t = t.AddDate(0, 0, 1).Add(-time.Nanosecond)
		}
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time, a YYYY-MM-DD date or a duration such as 24h", s)
}

// terminalSafe escapes what a terminal would act on instead of showing:
// control characters (but newlines and tabs), bytes that are not UTF-8, and
// Unicode's bidirectional controls. A rejected event's body and fields are
// whatever its sender sent.
func terminalSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}
