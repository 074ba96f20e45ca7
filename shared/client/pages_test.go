package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// pager serves a list of items as the API does: ?limit= items per page from
// ?cursor= (here the index of the page's first item, "c<i>"), next_cursor
// until the last page; failAt makes the page from that index a 500 problem
// (once, so that retries see it again: a 500 is not retried anyway).
type pager struct {
	pageSpec
	mu      sync.Mutex
	queries []url.Values
}

// pageSpec is what a pager serves.
type pageSpec struct {
	items   []string
	failAt  int
	stuckAt int // the page from that index answers its own cursor as next
}

func (p *pager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	p.queries = append(p.queries, q)
	p.mu.Unlock()
	from := 0
	if c := q.Get("cursor"); c != "" {
		from, _ = strconv.Atoi(strings.TrimPrefix(c, "c"))
	}
	limit := 50
	if l := q.Get("limit"); l != "" {
		limit, _ = strconv.Atoi(l)
	}
	if p.failAt > 0 && from == p.failAt {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(500)
		_, _ = fmt.Fprint(w, `{"type":"https://accrue.dev/problems/internal-error","title":"Internal error","status":500}`)
		return
	}
	to := min(from+limit, len(p.items))
	page := map[string]any{"data": []map[string]any{}}
	var data []map[string]any
	for _, id := range p.items[from:to] {
		data = append(data, map[string]any{"id": id, "reason": id, "message_id": id}) // each item type reads one of them
	}
	if data != nil {
		page["data"] = data
	}
	switch {
	case p.stuckAt > 0 && from == p.stuckAt:
		page["next_cursor"] = q.Get("cursor")
	case to < len(p.items):
		page["next_cursor"] = "c" + strconv.Itoa(to)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

func (p *pager) cursors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, q := range p.queries {
		out = append(out, q.Get("cursor"))
	}
	return out
}

// lister is a paging helper, the path it pages and how to collect the ids of
// its items (stopping after stop items; 0: all).
type lister struct {
	name string
	path string
	ids  func(ctx context.Context, a *Accrue, limit int, start *string, stop int) ([]string, error)
}

// collect gathers the first stop items (0: all) of seq, with id giving each
// item's id.
func collect[T any](seq iter.Seq2[T, error], id func(T) string, stop int) ([]string, error) {
	var out []string
	for item, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, id(item))
		if len(out) == stop {
			break
		}
	}
	return out, nil
}

var listers = []lister{
	{"LedgerEntries", "/v1/members/cust-42/ledger", func(ctx context.Context, a *Accrue, limit int, start *string, stop int) ([]string, error) {
		return collect(a.LedgerEntries(ctx, "cust-42", GetLedgerParams{Limit: &limit, Cursor: start}), func(e Entry) string { return *e.Reason }, stop)
	}},
	{"ReviewItems", "/v1/review", func(ctx context.Context, a *Accrue, limit int, start *string, stop int) ([]string, error) {
		return collect(a.ReviewItems(ctx, ListReviewParams{Limit: &limit, Cursor: start}), func(r ReviewItem) string { return r.Id }, stop)
	}},
	{"RejectedEvents", "/v1/rejected-events", func(ctx context.Context, a *Accrue, limit int, start *string, stop int) ([]string, error) {
		return collect(a.RejectedEvents(ctx, ListRejectedEventsParams{Limit: &limit, Cursor: start}), func(r Rejection) string { return r.MessageId }, stop)
	}},
	{"AuditRecords", "/v1/audit", func(ctx context.Context, a *Accrue, limit int, start *string, stop int) ([]string, error) {
		return collect(a.AuditRecords(ctx, ListAuditParams{Limit: &limit, Cursor: start}), func(r AuditRecord) string { return *r.Id }, stop)
	}},
	{"Keys", "/v1/keys", func(ctx context.Context, a *Accrue, limit int, start *string, stop int) ([]string, error) {
		return collect(a.Keys(ctx, ListKeysParams{Limit: &limit, Cursor: start}), func(k Key) string { return k.Id }, stop)
	}},
	{"Webhooks", "/v1/webhooks", func(ctx context.Context, a *Accrue, limit int, start *string, stop int) ([]string, error) {
		return collect(a.Webhooks(ctx, ListWebhooksParams{Limit: &limit, Cursor: start}), func(w Webhook) string { return w.Id }, stop)
	}},
	{"WebhookDeliveries", "/v1/webhooks/wh_1/deliveries", func(ctx context.Context, a *Accrue, limit int, start *string, stop int) ([]string, error) {
		return collect(a.WebhookDeliveries(ctx, "wh_1", ListWebhookDeliveriesParams{Limit: &limit, Cursor: start}), func(d Delivery) string { return d.Id }, stop)
	}},
	{"ImportRejectedLines", "/v1/imports/" + testImportID, func(ctx context.Context, a *Accrue, limit int, start *string, stop int) ([]string, error) {
		return collect(a.ImportRejectedLines(ctx, testImportID, GetImportParams{Limit: &limit, Cursor: start}), func(r ImportRejection) string { return r.Reason }, stop)
	}},
}

// testImportID is an import id of the paging tests.
const testImportID = "imp_00000000000000000000000000000042"

func TestPaging(t *testing.T) {
	items := []string{"i0", "i1", "i2", "i3", "i4"}
	cases := []struct {
		name    string
		p       pageSpec
		limit   int
		start   *string
		stop    int
		want    []string
		cursors []string // the cursors of the requests made
		problem string   // the error's problem type slug
		err     string   // or a substring of the error
	}{
		{name: "every page", p: pageSpec{items: items}, limit: 2,
			want: items, cursors: []string{"", "c2", "c4"}},
		{name: "one page", p: pageSpec{items: items}, limit: 100,
			want: items, cursors: []string{""}},
		{name: "an empty list", p: pageSpec{items: nil}, limit: 10,
			want: nil, cursors: []string{""}},
		{name: "from a cursor", p: pageSpec{items: items}, limit: 2, start: Ptr("c3"),
			want: []string{"i3", "i4"}, cursors: []string{"c3"}},
		{name: "a break fetches no more pages", p: pageSpec{items: items}, limit: 2, stop: 3,
			want: []string{"i0", "i1", "i2"}, cursors: []string{"", "c2"}},
		{name: "an error page ends it with the problem", p: pageSpec{items: items, failAt: 2}, limit: 2,
			want: []string{"i0", "i1"}, cursors: []string{"", "c2"}, problem: "internal-error"},
		{name: "a cursor that does not advance ends it", p: pageSpec{items: items, stuckAt: 2}, limit: 2,
			want: []string{"i0", "i1", "i2", "i3"}, cursors: []string{"", "c2"}, err: "the next page's cursor is the page's own"},
	}
	for _, l := range listers {
		for _, tc := range cases {
			t.Run(l.name+"/"+tc.name, func(t *testing.T) {
				p := &pager{pageSpec: tc.p}
				mux := http.NewServeMux()
				mux.Handle("GET "+l.path, p)
				srv := httptest.NewServer(mux)
				defer srv.Close()
				a, err := New(Config{BaseURL: srv.URL, APIKey: "k"})
				if err != nil {
					t.Fatal(err)
				}
				got, err := l.ids(context.Background(), a, tc.limit, tc.start, tc.stop)
				switch {
				case tc.problem != "" && !IsProblem(err, tc.problem):
					t.Fatalf("error %v, want the problem %s", err, tc.problem)
				case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
					t.Fatalf("error %v, want %q", err, tc.err)
				case tc.problem == "" && tc.err == "" && err != nil:
					t.Fatal(err)
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("items %v, want %v", got, tc.want)
				}
				if c := p.cursors(); !slices.Equal(c, tc.cursors) {
					t.Fatalf("requests' cursors %q, want %q", c, tc.cursors)
				}
				for _, q := range p.queries {
					if q.Get("limit") != strconv.Itoa(tc.limit) {
						t.Fatalf("limit %q, want %d", q.Get("limit"), tc.limit)
					}
				}
			})
		}
	}
}

// The document's paginated operations (those that take the Cursor
// parameter) are exactly the ones with a helper, and its POSTs without an
// Idempotency-Key are exactly the ones the client gives none: a list or a
// read-only POST added to the API fails here until the client knows it.
func TestHelpersCoverTheDocument(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "api", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Ref string `json:"$ref"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var paged, unkeyedPOSTs []string
	for path, item := range doc.Paths {
		for method, op := range item {
			takes := func(ref string) bool {
				return slices.ContainsFunc(op.Parameters, func(p struct {
					Ref string `json:"$ref"`
				}) bool {
					return p.Ref == ref
				})
			}
			if takes("#/components/parameters/Cursor") {
				paged = append(paged, path)
			}
			if method == "post" && !takes("#/components/parameters/IdempotencyKey") {
				unkeyedPOSTs = append(unkeyedPOSTs, path)
			}
		}
	}
	var helpers []string
	for _, l := range listers {
		helpers = append(helpers, strings.NewReplacer("cust-42", "{id}", "wh_1", "{id}", testImportID, "{id}").Replace(l.path))
	}
	slices.Sort(paged)
	slices.Sort(helpers)
	if !slices.Equal(paged, helpers) {
		t.Errorf("paginated operations %v, paging helpers for %v", paged, helpers)
	}
	slices.Sort(unkeyedPOSTs)
	if !slices.Equal(unkeyedPOSTs, readOnlyPOSTs) {
		t.Errorf("POSTs without Idempotency-Key %v, the client's read-only POSTs %v", unkeyedPOSTs, readOnlyPOSTs)
	}
}
