package api_test

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/shared/payment"
)

// snapshot is the whole table as text: what "nothing changed" compares.
func (h *harness) snapshot(t testing.TB) string {
	t.Helper()
	var rows []string
	p := dynamodb.NewScanPaginator(h.db, &dynamodb.ScanInput{TableName: aws.String(h.table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			var m map[string]any
			if err := attributevalue.UnmarshalMap(it, &m); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, fmt.Sprint(m))
		}
	}
	sort.Strings(rows)
	return strings.Join(rows, "\n")
}

// FuzzIDsAndCursors: any string given as an id (in a path or a body) or as a
// cursor of any list answers a 4xx problem+json — never a 5xx — and changes
// nothing (issue #9, item 4: a 10,000-character member_id to simulate, or a
// review cursor with an empty sort key, used to answer 500). The seeds run in
// every `go test`; `go test ./shared/api -fuzz FuzzIDsAndCursors` explores.
func FuzzIDsAndCursors(f *testing.F) {
	for _, seed := range []string{
		"", "x", strings.Repeat("a", 10_000), strings.Repeat("é", 700), "m1\x00", "a/b", "..", "%2F", " ",
		"\xff\xfe", "P#telco#M#m1", "UCN0ZWxjbyNSRVZJRVci", // base64url of "P#telco#REVIEW"
		"IlAjdGVsY28jUkVWSUVXIiIi",               // "P#telco#REVIEW" then an empty sort key
		"IlAjdGVsY28jTSNtMSIiUEFZI3AjUyIiTCMxIg", // a ledger cursor with a short lsk
		"IlAjb3RoZXIjUkVWSUVXIiIxIg",             // another partner's review partition
	} {
		f.Add(seed)
	}
	h := build(f)
	h.norecord = true
	h.seed("m1", 100000)
	imp := str(h.call("POST", "/v1/imports", "telco/admin", map[string]any{"format": "csv"}).Body, "id")
	before := h.snapshot(f)
	f.Fuzz(func(t *testing.T, s string) {
		esc := url.PathEscape(s)
		q := url.QueryEscape(s)
		type req struct {
			method, path string
			body         any
		}
		reqs := []req{
			{"GET", "/v1/members/" + esc, nil},
			{"PATCH", "/v1/members/" + esc, map[string]any{"tags": []string{"x"}}},
			{"GET", "/v1/members/" + esc + "/ledger", nil},
			{"POST", "/v1/members/" + esc + "/activities", map[string]any{"name": "autopay_enabled"}},
			{"POST", "/v1/members/" + esc + "/redemptions", map[string]any{"points": 1}},
			{"POST", "/v1/members/m1/redemptions/" + esc + "/capture", nil},
			{"POST", "/v1/members/m1/redemptions/" + esc + "/cancel", nil},
			{"POST", "/v1/members/" + esc + "/adjustments", map[string]any{"points": 1, "reason": "fuzz"}},
			{"GET", "/v1/members/" + esc + "/data", nil},
			{"DELETE", "/v1/members/" + esc + "/data", nil},
			{"POST", "/v1/review/" + esc + "/approve", nil},
			{"POST", "/v1/review/" + esc + "/reject", map[string]any{"reason": "fuzz"}},
			{"POST", "/v1/program/simulate", map[string]any{"program": rawProgram(h), "member_id": s}},
			{"GET", "/v1/members/m1/ledger?cursor=" + q, nil},
			{"GET", "/v1/review?cursor=" + q, nil},
			{"GET", "/v1/rejected-events?cursor=" + q, nil},
			{"POST", "/v1/members/" + esc + "/transfers", map[string]any{"to_member_id": "m1", "points": 1}},
			{"POST", "/v1/members/m1/transfers", map[string]any{"to_member_id": s, "points": 1}},
			{"DELETE", "/v1/keys/" + esc, nil},
			{"GET", "/v1/keys?cursor=" + q, nil},
			{"GET", "/v1/audit?cursor=" + q, nil},
			{"GET", "/v1/audit?member_id=" + q, nil},
			{"GET", "/v1/audit?member_id=m1&cursor=" + q, nil},
			{"GET", "/v1/audit?from=" + q + "&to=" + q, nil},
			{"GET", "/v1/imports/" + esc, nil},
			{"GET", "/v1/imports/" + imp + "?cursor=" + q, nil},
		}
		if !payment.ValidExternalID(s) {
			// A valid new id may be enrolled (a change, by design); an
			// invalid one never is.
			reqs = append(reqs, req{"POST", "/v1/members", map[string]any{"member_id": s}})
		}
		for _, r := range reqs {
			if s == "m1" && strings.HasPrefix(r.path, "/v1/members/m1") && !strings.HasSuffix(r.path, "/transfers") {
				continue // the seeded member itself: a real change
			}
			got := h.callT(t, r.method, r.path, "telco/admin", r.body)
			if got.Status >= 500 {
				t.Fatalf("%s %s → %d: %s", r.method, r.path, got.Status, got.Raw)
			}
			if got.Status >= 400 && got.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%s %s → %d with %q", r.method, r.path, got.Status, got.Header.Get("Content-Type"))
			}
			if got.Status < 400 && !(r.method == "GET" || r.path == "/v1/program/simulate") {
				t.Fatalf("%s %s with a fuzzed id succeeded: %d %s", r.method, r.path, got.Status, got.Raw)
			}
		}
		if after := h.snapshot(t); after != before {
			t.Fatalf("id %q changed the table", s)
		}
	})
}
