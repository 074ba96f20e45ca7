// Package importer reads bulk import files: one member a line, with its
// tags, status, tier and opening balances (available lots with their expiry,
// pending lots with their release time, lifetime and qualifying points) and,
// optionally, its payment history. Two formats say the same thing: CSV with
// a header line, and JSON Lines (the README's "Bulk import" documents both;
// events/import-members.csv and .jsonl are samples).
//
// The reader is pure (an io.Reader in, records out) and strict: every value
// is checked (types, ranges, ids, times, currencies, categories, periods),
// unknown columns and fields are refused, and a bad line is reported with
// its line number, the field and the reason (*LineError) while the reader
// goes on with the next line: bad lines never stop the good ones. Whether a
// member fits the partner's program (its tier, its lots' dates against the
// time of the import) is the ledger's decision (ledger.Import), not the
// reader's.
//
// One member is one physical line: CSV fields may be quoted but cannot hold a
// line break. So a line number always names one member, and a reader can
// resume at any line from its byte offset (Resume), which is how an
// interrupted import continues.
package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/accrue/accrue/shared/ledger"
)

// Format of an import file.
type Format string

// The formats.
const (
	CSV   Format = "csv"
	JSONL Format = "jsonl"
)

// ParseFormat reads a format name: csv, jsonl (or ndjson).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "csv":
		return CSV, nil
	case "jsonl", "ndjson":
		return JSONL, nil
	}
	return "", fmt.Errorf("format %q: csv or jsonl", s)
}

// FormatOf is the format a file name says: .csv, .jsonl or .ndjson.
func FormatOf(name string) (Format, bool) {
	f, err := ParseFormat(strings.TrimPrefix(path.Ext(name), "."))
	return f, err == nil
}

// Limits of an import file.
const (
	// MaxLineBytes bounds one line (one member).
	MaxLineBytes = 256 * 1024
	// MaxLots bounds a member's available and pending lots together.
	MaxLots = 64
	// MaxPayments bounds a member's payment history.
	MaxPayments = 400
	// MaxPoints bounds every points value.
	MaxPoints = 1_000_000_000_000_000
	// MaxTags and MaxTagBytes: a member's tags, as POST /v1/members takes them.
	MaxTags     = 20
	MaxTagBytes = 64
	// MaxTierBytes bounds a tier name.
	MaxTierBytes = 64
)

// Record is one member read from a line.
type Record struct {
	// Line is its line number (the first line is 1; in CSV, the header).
	Line    int64
	Opening ledger.Opening
}

// LineError is a bad line: its number, the member it names (when it could be
// read), the field (a JSON path: "available[1].expires_at"; "" for the line as
// a whole) and the reason.
type LineError struct {
	Line     int64
	MemberID string
	Field    string
	Reason   string
}

func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
}

// fieldError is a bad field, before the reader gives it its line.
type fieldError struct{ field, reason string }

func (e *fieldError) Error() string { return e.field + ": " + e.reason }

func bad(field, format string, args ...any) error {
	return &fieldError{field: field, reason: fmt.Sprintf(format, args...)}
}

// ErrHeader: a CSV file whose header line is not a valid header. The file
// cannot be read at all.
var ErrHeader = errors.New("invalid CSV header")

// Reader reads an import file line by line.
type Reader struct {
	r      *bufio.Reader
	format Format
	cols   []string // CSV columns, in header order
	header string   // the CSV header line as read
	line   int64    // the number of the last line read
	offset int64    // bytes read: where the next line starts
}

// NewReader reads an import file of format f from its start. A CSV file's
// header is read and checked first (an error wrapping ErrHeader when it is
// not a header).
func NewReader(r io.Reader, f Format) (*Reader, error) {
	rd, err := newReader(r, f, 0, 0)
	if err != nil {
		return nil, err
	}
	if f != CSV {
		return rd, nil
	}
	raw, err := rd.readLine()
	switch {
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%w: the file is empty", ErrHeader)
	case err != nil:
		var le *LineError
		if errors.As(err, &le) {
			return nil, fmt.Errorf("%w: %s", ErrHeader, le.Reason)
		}
		return nil, err
	}
	if err := rd.setHeader(string(raw)); err != nil {
		return nil, err
	}
	return rd, nil
}

// Resume reads an import file of format f from the start of line line+1,
// which is at byte offset in the file: r must start there. header is the CSV
// file's header line (Reader.Header of a reader of the same file).
func Resume(r io.Reader, f Format, header string, line, offset int64) (*Reader, error) {
	if line < 0 || offset < 0 {
		return nil, fmt.Errorf("resume at line %d, offset %d", line, offset)
	}
	rd, err := newReader(r, f, line, offset)
	if err != nil {
		return nil, err
	}
	if f == CSV {
		if err := rd.setHeader(header); err != nil {
			return nil, err
		}
	}
	return rd, nil
}

func newReader(r io.Reader, f Format, line, offset int64) (*Reader, error) {
	if f != CSV && f != JSONL {
		return nil, fmt.Errorf("format %q: csv or jsonl", f)
	}
	return &Reader{r: bufio.NewReaderSize(r, 64*1024), format: f, line: line, offset: offset}, nil
}

// Header is the CSV header line ("" for JSON Lines).
func (r *Reader) Header() string { return r.header }

// Line is the number of the last line read.
func (r *Reader) Line() int64 { return r.line }

// Offset is the byte offset, in the file, of the start of the next line.
func (r *Reader) Offset() int64 { return r.offset }

// Next reads the next member. At the end it returns io.EOF. A bad line is a
// *LineError: the reader has moved past it, and the next call reads the
// line after. Blank lines are skipped. Any other error is the underlying
// reader's.
func (r *Reader) Next() (Record, error) {
	for {
		raw, err := r.readLine()
		if err != nil {
			return Record{}, err
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		var o ledger.Opening
		if r.format == CSV {
			o, err = r.parseCSV(string(raw))
		} else {
			o, err = parseJSON(raw)
		}
		if err != nil {
			le := &LineError{Line: r.line, MemberID: o.MemberID, Reason: err.Error()}
			var fe *fieldError
			if errors.As(err, &fe) {
				le.Field, le.Reason = fe.field, fe.reason
			}
			return Record{}, le
		}
		return Record{Line: r.line, Opening: o}, nil
	}
}

// utf8BOM may start a file (spreadsheets write it).
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// readLine reads one physical line without its line ending. A line longer
// than MaxLineBytes is skipped whole and reported as a *LineError.
func (r *Reader) readLine() ([]byte, error) {
	var line []byte
	tooLong := false
	n := int64(0)
	for {
		chunk, err := r.r.ReadSlice('\n')
		n += int64(len(chunk))
		if !tooLong {
			if len(line)+len(chunk) > MaxLineBytes+2 { // +2: the line ending
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read line %d: %w", r.line+1, err)
		}
		if n == 0 && errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		break
	}
	start := r.offset
	r.line++
	r.offset += n
	if tooLong {
		return nil, &LineError{Line: r.line, Reason: fmt.Sprintf("longer than %d bytes", MaxLineBytes)}
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if start == 0 {
		line = bytes.TrimPrefix(line, utf8BOM)
	}
	if len(line) > MaxLineBytes {
		return nil, &LineError{Line: r.line, Reason: fmt.Sprintf("longer than %d bytes", MaxLineBytes)}
	}
	if !utf8.Valid(line) {
		return nil, &LineError{Line: r.line, Reason: "not valid UTF-8"}
	}
	return line, nil
}
