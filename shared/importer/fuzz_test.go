package importer

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/accrue/accrue/shared/payment"
)

// FuzzReader: on any bytes, in either format, the reader never panics, every
// error is a *LineError (or the CSV header's ErrHeader) and the reader goes
// on after it; line numbers only grow; at the end the whole input was read
// (Offset); every record is valid (its ids, points, lots and payments within
// the format's limits); and resuming from the offset of any line reads the
// same lines.
//
//	go test ./shared/importer -fuzz FuzzReader
func FuzzReader(f *testing.F) {
	for _, name := range []string{"import-members.csv", "import-members.jsonl"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, filepath.Ext(name) == ".csv")
		f.Add(b[:len(b)/2], filepath.Ext(name) == ".csv")
	}
	for _, s := range []string{
		"member_id\n\n\na\n", "member_id,available\r\nx,5@2027-01-01T00:00:00Z;6\r\n", "\xEF\xBB\xBFmember_id\nx",
		`{"member_id":"a","available":[{"points":9223372036854775807}]}`, `{"member_id":"a","payments":[{}]}`,
		"{}\n[]\nnull\n\"x\"\n", "member_id,payments\na,\"[{\"\"payment_id\"\":1}]\"\n", "\x00\xff\n",
	} {
		f.Add([]byte(s), s[0] != '{')
	}
	f.Fuzz(func(t *testing.T, data []byte, isCSV bool) {
		format := JSONL
		if isCSV {
			format = CSV
		}
		r, err := NewReader(bytes.NewReader(data), format)
		if err != nil {
			if !isCSV || !errors.Is(err, ErrHeader) {
				t.Fatalf("NewReader: %v", err)
			}
			return
		}
		var lines []int64
		var offsets []int64
		last := r.Line()
		for {
			lines, offsets = append(lines, r.Line()), append(offsets, r.Offset())
			rec, err := r.Next()
			var le *LineError
			switch {
			case errors.Is(err, io.EOF):
				if r.Offset() != int64(len(data)) {
					t.Fatalf("at the end, offset %d of %d bytes", r.Offset(), len(data))
				}
				resumeSame(t, data, format, r.Header(), lines, offsets)
				return
			case errors.As(err, &le):
				if le.Line <= last || le.Reason == "" {
					t.Fatalf("bad line %+v after line %d", le, last)
				}
				last = le.Line
			case err != nil:
				t.Fatalf("Next: %v", err)
			default:
				if rec.Line <= last {
					t.Fatalf("line %d after line %d", rec.Line, last)
				}
				last = rec.Line
				valid(t, rec)
			}
		}
	})
}

func valid(t *testing.T, rec Record) {
	o := rec.Opening
	if !payment.ValidExternalID(o.MemberID) || len(o.Tags) > MaxTags || len(o.Available)+len(o.Pending) > MaxLots || len(o.Payments) > MaxPayments {
		t.Fatalf("invalid record accepted: %+v", o)
	}
	for _, l := range o.Available {
		if l.Points < 1 || l.Points > MaxPoints || l.AvailableAt != nil {
			t.Fatalf("invalid lot accepted: %+v", l)
		}
	}
	for _, l := range o.Pending {
		if l.Points < 1 || l.Points > MaxPoints || l.AvailableAt == nil {
			t.Fatalf("invalid pending lot accepted: %+v", l)
		}
	}
	for _, p := range o.Payments {
		if !payment.ValidExternalID(p.PaymentID) || p.AmountMinor < 1 || p.Points < 0 || p.Time.IsZero() {
			t.Fatalf("invalid payment accepted: %+v", p)
		}
	}
}

// resumeSame resumes at a few of the lines read and checks that the same
// lines follow.
func resumeSame(t *testing.T, data []byte, format Format, header string, lines, offsets []int64) {
	for _, i := range []int{0, len(lines) / 2, len(lines) - 1} {
		r, err := Resume(bytes.NewReader(data[offsets[i]:]), format, header, lines[i], offsets[i])
		if err != nil {
			t.Fatalf("Resume at line %d: %v", lines[i], err)
		}
		for j := i + 1; ; j++ {
			_, err := r.Next()
			var le *LineError
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil && !errors.As(err, &le) {
				t.Fatalf("resumed Next: %v", err)
			}
			if j >= len(lines) || r.Line() != lines[j] {
				t.Fatalf("resumed at line %d: read line %d, the first read %v", lines[i], r.Line(), lines)
			}
		}
	}
}
