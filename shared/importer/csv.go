package importer

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/accrue/accrue/shared/ledger"
)

// CSV columns: the JSON fields, one a column. member_id is required; the
// others may be left out of the header (or empty on a line).
//
//	member_id      the partner's id of the member
//	tags           tags separated by ";"
//	status         active (default) or suspended
//	tier           a tier of the program (default: the tier the qualifying points reach)
//	available      lots separated by ";": POINTS or POINTS@EXPIRES_AT
//	pending        lots separated by ";": POINTS@AVAILABLE_AT or POINTS@AVAILABLE_AT@EXPIRES_AT
//	lifetime       lifetime points (default: the least consistent value)
//	qualifying     tier-qualifying points counted from the import
//	last_activity  RFC 3339 time of the member's last activity
//	payments       the payment history: a JSON array, as in JSON Lines
var Columns = []string{"member_id", "tags", "status", "tier", "available", "pending", "lifetime", "qualifying", "last_activity", "payments"}

// setHeader checks a CSV header line and takes its columns.
func (r *Reader) setHeader(line string) error {
	rec, err := csvFields(line)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrHeader, err)
	}
	seen := map[string]bool{}
	for i, c := range rec {
		c = strings.TrimSpace(c)
		switch {
		case !slices.Contains(Columns, c):
			return fmt.Errorf("%w: column %d %q is not one of %s", ErrHeader, i+1, c, strings.Join(Columns, ", "))
		case seen[c]:
			return fmt.Errorf("%w: column %q appears twice", ErrHeader, c)
		}
		seen[c] = true
		rec[i] = c
	}
	if !seen["member_id"] {
		return fmt.Errorf("%w: no member_id column", ErrHeader)
	}
	r.cols, r.header = rec, line
	return nil
}

// csvFields reads exactly one CSV record from a line.
func csvFields(line string) ([]string, error) {
	cr := csv.NewReader(strings.NewReader(line))
	cr.FieldsPerRecord = -1
	rec, err := cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("not valid CSV: %v", pe.Err)
		}
		return nil, fmt.Errorf("not valid CSV: %w", err)
	}
	if _, err := cr.Read(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not valid CSV: more than one record on the line")
	}
	return rec, nil
}

// parseCSV reads one CSV line into the member it describes.
func (r *Reader) parseCSV(line string) (ledger.Opening, error) {
	rec, err := csvFields(line)
	if err != nil {
		return ledger.Opening{}, err
	}
	id := ""
	if i := slices.Index(r.cols, "member_id"); i < len(rec) {
		id = rec[i]
	}
	if len(rec) != len(r.cols) {
		return ledger.Opening{MemberID: id}, fmt.Errorf("%d fields, the header has %d", len(rec), len(r.cols))
	}
	var w wireMember
	for i, c := range r.cols {
		if err := w.setCSV(c, rec[i]); err != nil {
			return ledger.Opening{MemberID: id}, err
		}
	}
	return w.opening()
}

// setCSV sets the field of column c from its CSV text v.
func (w *wireMember) setCSV(c, v string) error {
	switch c {
	case "member_id":
		w.MemberID = v
	case "status":
		w.Status = v
	case "tier":
		w.Tier = v
	case "last_activity":
		w.LastActivity = v
	case "tags":
		if v != "" {
			w.Tags = strings.Split(v, ";")
		}
	case "lifetime", "qualifying":
		if v == "" {
			return nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return bad(c, "%q: an integer", v)
		}
		if c == "lifetime" {
			w.Lifetime = &n
		} else {
			w.Qualifying = &n
		}
	case "available", "pending":
		ls, err := csvLots(c, v)
		if err != nil {
			return err
		}
		if c == "available" {
			w.Available = ls
		} else {
			w.Pending = ls
		}
	case "payments":
		if v == "" {
			return nil
		}
		var raws []json.RawMessage
		if err := json.Unmarshal([]byte(v), &raws); err != nil {
			return bad("payments", "a JSON array of payments, as in JSON Lines: %v", err)
		}
		return decodeEach("payments", raws, &w.Payments)
	}
	return nil
}

// csvLots reads the lots of an available or pending column: items separated
// by ";", each POINTS, POINTS@EXPIRES_AT (available) or
// POINTS@AVAILABLE_AT[@EXPIRES_AT] (pending).
func csvLots(c, v string) ([]wireLot, error) {
	if v == "" {
		return nil, nil
	}
	items := strings.Split(v, ";")
	if len(items) > MaxLots {
		return nil, bad(c, "%d lots: at most %d", len(items), MaxLots)
	}
	out := make([]wireLot, 0, len(items))
	for i, it := range items {
		f := fmt.Sprintf("%s[%d]", c, i)
		parts := strings.Split(it, "@")
		n, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			return nil, bad(f+".points", "%q: an integer (a lot is POINTS%s)", parts[0], lotSyntax(c))
		}
		l := wireLot{Points: &n}
		switch {
		case c == "available" && len(parts) == 2:
			l.ExpiresAt = parts[1]
		case len(parts) == 1: // a pending lot without its time: required, said later
		case c == "pending" && len(parts) == 2:
			l.AvailableAt = parts[1]
		case c == "pending" && len(parts) == 3:
			l.AvailableAt, l.ExpiresAt = parts[1], parts[2]
		default:
			return nil, bad(f, "%q: a lot is POINTS%s", it, lotSyntax(c))
		}
		out = append(out, l)
	}
	return out, nil
}

func lotSyntax(c string) string {
	if c == "pending" {
		return "@AVAILABLE_AT or POINTS@AVAILABLE_AT@EXPIRES_AT"
	}
	return " or POINTS@EXPIRES_AT"
}
