package importer

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
)

// readAll reads every line: the records and the bad lines.
func readAll(t testing.TB, data []byte, f Format) ([]Record, []*LineError) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), f)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var recs []Record
	var bads []*LineError
	for {
		rec, err := r.Next()
		var le *LineError
		switch {
		case errors.Is(err, io.EOF):
			return recs, bads
		case errors.As(err, &le):
			bads = append(bads, le)
		case err != nil:
			t.Fatalf("Next: %v", err)
		default:
			recs = append(recs, rec)
		}
	}
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ts(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func i64(n int64) *int64 { return &n }

// The two samples in events/ say the same thing, line for line (the CSV's
// header is its line 1).
func TestSamples(t *testing.T) {
	csvRecs, csvBad := readAll(t, sample(t, "import-members.csv"), CSV)
	jsonRecs, jsonBad := readAll(t, sample(t, "import-members.jsonl"), JSONL)
	if len(csvBad)+len(jsonBad) > 0 {
		t.Fatalf("bad lines in the samples: %v %v", csvBad, jsonBad)
	}
	if len(csvRecs) != 3 || len(jsonRecs) != 3 {
		t.Fatalf("%d CSV and %d JSON members, want 3 each", len(csvRecs), len(jsonRecs))
	}
	for i := range csvRecs {
		if csvRecs[i].Line != jsonRecs[i].Line+1 {
			t.Errorf("member %d: CSV line %d, JSON line %d", i, csvRecs[i].Line, jsonRecs[i].Line)
		}
		if !reflect.DeepEqual(csvRecs[i].Opening, jsonRecs[i].Opening) {
			t.Errorf("member %d differs:\ncsv  %+v\njson %+v", i, csvRecs[i].Opening, jsonRecs[i].Opening)
		}
	}
	want := ledger.Opening{
		MemberID: "cust-1001", Tags: []string{"autopay", "family"}, Status: ledger.StatusActive, Tier: "silver",
		Available: []ledger.OpeningLot{{Points: 1200, ExpiresAt: ts("2028-12-31T20:59:59Z")}, {Points: 350, ExpiresAt: ts("2029-06-30T20:59:59Z")}},
		Pending:   []ledger.OpeningLot{{Points: 80, AvailableAt: ts("2027-01-15T00:00:00Z")}},
		Lifetime:  i64(15400), Qualifying: 6200, LastActivity: ts("2026-11-28T09:12:00Z"),
	}
	if !reflect.DeepEqual(jsonRecs[0].Opening, want) {
		t.Errorf("first member %+v\nwant %+v", jsonRecs[0].Opening, want)
	}
	p := jsonRecs[2].Opening.Payments
	if len(p) != 2 || p[1].PaymentID != "bill-2026-11" || p[1].Points != 13 || p[1].AmountMinor != 129900 ||
		p[1].Recurring == nil || p[1].Recurring.Period != "2026-11" || p[1].Type != payment.TypeSucceeded {
		t.Errorf("payments %+v", p)
	}
}

// Every kind of bad line is reported with its line number, field and
// reason, and the lines after it are read.
func TestBadLines(t *testing.T) {
	good := `{"member_id":"ok"}`
	cases := []struct {
		name, line, field, reason string
	}{
		{"not JSON", `{"member_id":`, "", "not valid JSON"},
		{"not an object", `[1,2]`, "", "not a JSON object"},
		{"two objects", `{"member_id":"a"} {"member_id":"b"}`, "", "data after the JSON object"},
		{"unknown field", `{"member_id":"a","balance":5}`, "balance", "unknown field"},
		{"no member id", `{"tags":["x"]}`, "member_id", "required"},
		{"member id with a space", `{"member_id":"a b"}`, "member_id", "printable characters without spaces"},
		{"too many tags", `{"member_id":"a","tags":["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17","18","19","20","21"]}`, "tags", "at most 20"},
		{"empty tag", `{"member_id":"a","tags":[""]}`, "tags[0]", "printable"},
		{"bad status", `{"member_id":"a","status":"erased"}`, "status", "active or suspended"},
		{"points as a string", `{"member_id":"a","available":[{"points":"5"}]}`, "available[0].points", "an integer"},
		{"fractional points", `{"member_id":"a","available":[{"points":5},{"points":1.5}]}`, "available[1].points", "an integer"},
		{"a lot not an object", `{"member_id":"a","pending":[5]}`, "pending[0]", "must be an object"},
		{"tags not strings", `{"member_id":"a","tags":[5]}`, "tags", "must be a string"},
		{"zero points", `{"member_id":"a","available":[{"points":0}]}`, "available[0].points", "from 1"},
		{"points missing", `{"member_id":"a","available":[{"expires_at":"2027-01-01T00:00:00Z"}]}`, "available[0].points", "required"},
		{"too many points", `{"member_id":"a","lifetime":1000000000000000001}`, "lifetime", "an integer from 0"},
		{"negative qualifying", `{"member_id":"a","qualifying":-1}`, "qualifying", "from 0"},
		{"bad expiry", `{"member_id":"a","available":[{"points":5,"expires_at":"2027-01-01"}]}`, "available[0].expires_at", "RFC 3339"},
		{"pending without release", `{"member_id":"a","pending":[{"points":5}]}`, "pending[0].available_at", "required"},
		{"available with a release time", `{"member_id":"a","available":[{"points":5,"available_at":"2027-01-01T00:00:00Z"}]}`, "available[0].available_at", "only for pending"},
		{"bad last activity", `{"member_id":"a","last_activity":"yesterday"}`, "last_activity", "RFC 3339"},
		{"payment without id", `{"member_id":"a","payments":[{"paid_at":"2026-01-01T00:00:00Z","amount_minor":1,"currency":"RUB","category":"telecom"}]}`, "payments[0].payment_id", "required"},
		{"duplicate payment", `{"member_id":"a","payments":[` + pay("p1") + `,` + pay("p1") + `]}`, "payments[1].payment_id", "payments[0] already"},
		{"payment currency", `{"member_id":"a","payments":[{"payment_id":"p","paid_at":"2026-01-01T00:00:00Z","amount_minor":1,"currency":"XAU","category":"telecom"}]}`, "payments[0].currency", "currency"},
		{"payment category", `{"member_id":"a","payments":[{"payment_id":"p","paid_at":"2026-01-01T00:00:00Z","amount_minor":1,"currency":"RUB","category":"food"}]}`, "payments[0].category", "one of"},
		{"payment amount", `{"member_id":"a","payments":[{"payment_id":"p","paid_at":"2026-01-01T00:00:00Z","amount_minor":0,"currency":"RUB","category":"telecom"}]}`, "payments[0].amount_minor", "between 1"},
		{"payment period", `{"member_id":"a","payments":[{"payment_id":"p","paid_at":"2026-01-01T00:00:00Z","amount_minor":1,"currency":"RUB","category":"telecom","recurring":{"subscription_id":"s","period":"2026-13","due_date":"2026-01-10"}}]}`, "payments[0].recurring.period", "YYYY-MM"},
		{"payment unknown field", `{"member_id":"a","payments":[{"payment_id":"p","amount":1}]}`, "payments[0].amount", "unknown field"},
		{"invalid UTF-8", "{\"member_id\":\"a\xff\"}", "", "UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := good + "\n" + tc.line + "\n\n" + good + "\n"
			recs, bads := readAll(t, []byte(data), JSONL)
			if len(recs) != 2 || recs[0].Line != 1 || recs[1].Line != 4 {
				t.Fatalf("good lines %+v", recs)
			}
			if len(bads) != 1 {
				t.Fatalf("bad lines %v", bads)
			}
			b := bads[0]
			if b.Line != 2 || b.Field != tc.field || !strings.Contains(b.Reason, tc.reason) {
				t.Fatalf("got line %d field %q reason %q; want line 2 field %q reason ~%q", b.Line, b.Field, b.Reason, tc.field, tc.reason)
			}
		})
	}
}

func pay(id string) string {
	return `{"payment_id":"` + id + `","paid_at":"2026-01-01T00:00:00Z","amount_minor":100,"currency":"RUB","category":"telecom"}`
}

func TestBadCSVLines(t *testing.T) {
	header := "member_id,available,pending,lifetime,tags,payments"
	cases := []struct {
		name, line, field, reason string
	}{
		{"too few fields", `a,5`, "", "2 fields, the header has 6"},
		{"bad quoting", `"a,5,,,,`, "", "not valid CSV"},
		{"lot without points", `a,@2027-01-01T00:00:00Z,,,,`, "available[0].points", "an integer"},
		{"lot with two dates", `a,5@2027-01-01T00:00:00Z@2028-01-01T00:00:00Z,,,,`, "available[0]", "POINTS or POINTS@EXPIRES_AT"},
		{"pending without date", `a,,5,,,`, "pending[0].available_at", "required"},
		{"second lot bad", `a,5;x,,,,`, "available[1].points", "an integer"},
		{"lifetime not a number", `a,,,lots,,`, "lifetime", "an integer"},
		{"empty tag", `a,,,,x;;y,`, "tags[1]", "printable"},
		{"payments not JSON", `a,,,,,[{`, "payments", "a JSON array"},
		{"payment field", `a,,,,,"[{""payment_id"":""p"",""paid_at"":""x""}]"`, "payments[0].paid_at", "RFC 3339"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := header + "\r\n" + "ok,5,,,,\r\n" + tc.line + "\r\n" + "ok2,,,7,,\r\n"
			recs, bads := readAll(t, []byte(data), CSV)
			if len(recs) != 2 || recs[0].Line != 2 || recs[1].Line != 4 || *recs[1].Opening.Lifetime != 7 {
				t.Fatalf("good lines %+v", recs)
			}
			if len(bads) != 1 || bads[0].Line != 3 || bads[0].Field != tc.field || !strings.Contains(bads[0].Reason, tc.reason) {
				t.Fatalf("bad lines %+v; want line 3 field %q reason ~%q", bads, tc.field, tc.reason)
			}
			if bads[0].MemberID != "a" && tc.name != "bad quoting" {
				t.Errorf("member id %q", bads[0].MemberID)
			}
		})
	}
}

func TestCSVHeader(t *testing.T) {
	for _, tc := range []struct{ data, reason string }{
		{"", "empty"},
		{"tags,tier\n", "no member_id"},
		{"member_id,points\n", `"points" is not one of`},
		{"member_id,tags,member_id\n", "twice"},
		{"\"member_id\n", "not valid CSV"},
	} {
		_, err := NewReader(strings.NewReader(tc.data), CSV)
		if !errors.Is(err, ErrHeader) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%q: %v, want ErrHeader ~%q", tc.data, err, tc.reason)
		}
	}
	// A BOM and spaces around column names are fine; columns in any order.
	r, err := NewReader(strings.NewReader("\xEF\xBB\xBFtier , member_id\nsilver,m1\n"), CSV)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := r.Next()
	if err != nil || rec.Opening.MemberID != "m1" || rec.Opening.Tier != "silver" || rec.Line != 2 {
		t.Fatalf("%+v %v", rec, err)
	}
}

// A line longer than MaxLineBytes is one bad line; the next is read.
func TestLongLine(t *testing.T) {
	long := `{"member_id":"a","tags":["` + strings.Repeat("x", MaxLineBytes) + `"]}`
	recs, bads := readAll(t, []byte(long+"\n"+`{"member_id":"b"}`), JSONL)
	if len(bads) != 1 || bads[0].Line != 1 || !strings.Contains(bads[0].Reason, "longer than") {
		t.Fatalf("bad lines %v", bads)
	}
	if len(recs) != 1 || recs[0].Line != 2 || recs[0].Opening.MemberID != "b" {
		t.Fatalf("records %+v", recs)
	}
}

// Resuming from any line's offset reads the same records as reading on.
func TestResume(t *testing.T) {
	for _, f := range []Format{CSV, JSONL} {
		data := sample(t, "import-members."+string(f))
		data = append(data, []byte("bad line\n")...)
		all, allBad := readAll(t, data, f)
		r, err := NewReader(bytes.NewReader(data), f)
		if err != nil {
			t.Fatal(err)
		}
		for {
			line, off := r.Line(), r.Offset()
			rr, err := Resume(bytes.NewReader(data[off:]), f, r.Header(), line, off)
			if err != nil {
				t.Fatal(err)
			}
			var got []Record
			var gotBad []*LineError
			for {
				rec, err := rr.Next()
				var le *LineError
				if errors.Is(err, io.EOF) {
					break
				} else if errors.As(err, &le) {
					gotBad = append(gotBad, le)
				} else if err != nil {
					t.Fatal(err)
				} else {
					got = append(got, rec)
				}
			}
			var want []Record
			for _, rec := range all {
				if rec.Line > line {
					want = append(want, rec)
				}
			}
			var wantBad []*LineError
			for _, b := range allBad {
				if b.Line > line {
					wantBad = append(wantBad, b)
				}
			}
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotBad, wantBad) {
				t.Fatalf("%s from line %d: %d records, %v; want %d", f, line, len(got), gotBad, len(want))
			}
			if _, err := r.Next(); errors.Is(err, io.EOF) {
				break
			}
		}
	}
}

func TestFormatOf(t *testing.T) {
	for name, want := range map[string]Format{"a.csv": CSV, "dir/b.CSV": CSV, "c.jsonl": JSONL, "d.ndjson": JSONL, "e.json": "", "f": ""} {
		got, ok := FormatOf(name)
		if got != want || ok != (want != "") {
			t.Errorf("FormatOf(%q) = %q, %v", name, got, ok)
		}
	}
}
