package api_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/keys"
)

// keyIDs lists the ids on every page of GET /v1/keys with key, limit a page.
func (h *harness) keyIDs(t *testing.T, key string, limit int) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		path := fmt.Sprintf("/v1/keys?limit=%d", limit)
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := h.call("GET", path, key, nil).expect(t, 200, "")
		data, _ := r.Body["data"].([]any)
		if len(data) > limit {
			t.Fatalf("a page of %d keys, limit %d", len(data), limit)
		}
		for _, k := range data {
			ids = append(ids, str(k, "id"))
		}
		if cursor = str(r.Body, "next_cursor"); cursor == "" {
			return ids
		}
		if pages > 100 {
			t.Fatal("no end of pages")
		}
	}
}

// Keys through the API: an admin creates a key (shown once), lists the
// partner's keys page by page (never a key or its hash), revokes one (it
// fails at its next request), and cannot revoke the partner's last active
// admin key; an app key gets 403 on every key route.
func TestKeysAPI(t *testing.T) {
	h := newHarness(t)
	const admin = "telco/admin"
	created := h.call("POST", "/v1/keys", admin, map[string]any{"role": "admin", "label": "back office"}).expect(t, 201, "")
	secret, id := str(created.Body, "secret"), str(created.Body, "key", "id")
	if !strings.HasPrefix(secret, keys.Prefix) || len(secret) != keys.Len || str(created.Body, "key", "role") != "admin" ||
		str(created.Body, "key", "label") != "back office" || str(created.Body, "key", "last4") != secret[len(secret)-4:] {
		t.Fatalf("created: %s", created.Raw)
	}
	// The new key works at once.
	h.call("GET", "/v1/keys", "Bearer "+secret, nil).expect(t, 200, "")
	for i := range 5 {
		h.call("POST", "/v1/keys", admin, map[string]any{"role": "app", "label": fmt.Sprint("app ", i)}).expect(t, 201, "")
	}
	// 1 admin + 1 app + 1 revoked (the harness's) + 6 here: listed in pages.
	for _, limit := range []int{1, 2, 4, 100} {
		ids := h.keyIDs(t, admin, limit)
		seen := map[string]bool{}
		for _, k := range ids {
			if seen[k] {
				t.Fatalf("limit %d: key %s listed twice", limit, k)
			}
			seen[k] = true
		}
		if len(ids) != 9 || !seen[id] {
			t.Fatalf("limit %d: %d keys listed, want 9 with %s", limit, len(ids), id)
		}
	}
	list := h.call("GET", "/v1/keys?limit=100", admin, nil).expect(t, 200, "")
	if strings.Contains(string(list.Raw), secret[len(keys.Prefix):len(keys.Prefix)+20]) || strings.Contains(string(list.Raw), keys.Hash(secret)) ||
		strings.Contains(string(list.Raw), "hash") || strings.Contains(string(list.Raw), "secret") {
		t.Fatalf("the list shows a key or its hash: %s", list.Raw)
	}

	// Revocation: at once; twice is fine.
	revoked := h.call("DELETE", "/v1/keys/"+id, admin, nil).expect(t, 200, "")
	if str(revoked.Body, "revoked_at") == "" || str(revoked.Body, "id") != id {
		t.Fatalf("revoked: %s", revoked.Raw)
	}
	h.call("GET", "/v1/keys", "Bearer "+secret, nil).expect(t, 401, "unauthenticated")
	again := h.call("DELETE", "/v1/keys/"+id, admin, nil).expect(t, 200, "")
	if str(again.Body, "revoked_at") != str(revoked.Body, "revoked_at") {
		t.Fatalf("revoked again: %s, first %s", again.Raw, revoked.Raw)
	}

	// The last active admin key: never revoked, also by itself.
	var adminID string
	for _, k := range h.call("GET", "/v1/keys?limit=100", admin, nil).Body["data"].([]any) {
		if str(k, "role") == "admin" && str(k, "revoked_at") == "" {
			adminID = str(k, "id")
		}
	}
	h.call("DELETE", "/v1/keys/"+adminID, admin, nil).expect(t, 409, "last-admin-key")
	h.call("GET", "/v1/keys", admin, nil).expect(t, 200, "")
	// With a second admin key, the first can go (by itself: its own last request).
	second := h.call("POST", "/v1/keys", admin, map[string]any{"role": "admin"}).expect(t, 201, "")
	h.call("DELETE", "/v1/keys/"+adminID, admin, nil).expect(t, 200, "")
	h.call("GET", "/v1/keys", admin, nil).expect(t, 401, "unauthenticated")
	h.keys["telco/admin2"] = str(second.Body, "secret")
	h.call("DELETE", "/v1/keys/"+str(second.Body, "key", "id"), "telco/admin2", nil).expect(t, 409, "last-admin-key")

	// Client errors, and another partner's key.
	for _, tc := range []struct {
		method, path  string
		body          any
		status        int
		problem, fied string
	}{
		{"POST", "/v1/keys", map[string]any{"role": "root"}, 400, "validation-error", "role"},
		{"POST", "/v1/keys", map[string]any{}, 400, "validation-error", "role"},
		{"POST", "/v1/keys", map[string]any{"role": "app", "label": strings.Repeat("x", 101)}, 400, "validation-error", "label"},
		{"POST", "/v1/keys", map[string]any{"role": "app", "label": "tab\there"}, 400, "validation-error", "label"},
		{"POST", "/v1/keys", map[string]any{"role": "app", "secret": "mine"}, 400, "validation-error", "secret"},
		{"POST", "/v1/keys", `{"role":`, 400, "malformed-request", ""},
		{"GET", "/v1/keys?limit=0", nil, 400, "validation-error", "limit"},
		{"GET", "/v1/keys?cursor=%21%21", nil, 400, "validation-error", "cursor"},
		{"DELETE", "/v1/keys/nope", nil, 400, "validation-error", "id"},
		{"DELETE", "/v1/keys/0000000000000000000000000a", nil, 404, "not-found", ""},
		{"PUT", "/v1/keys", nil, 405, "method-not-allowed", ""},
	} {
		r := h.call(tc.method, tc.path, "telco/admin2", tc.body).expect(t, tc.status, tc.problem)
		if tc.fied != "" && !strings.Contains(string(r.Raw), `"field":"`+tc.fied+`"`) {
			t.Fatalf("%s %s: field %s not named: %s", tc.method, tc.path, tc.fied, r.Raw)
		}
	}
	otherKey := h.keyIDs(t, "other/admin", 100)[0]
	h.call("DELETE", "/v1/keys/"+otherKey, "telco/admin2", nil).expect(t, 404, "not-found")
	for _, k := range h.call("GET", "/v1/keys?limit=100", "other/admin", nil).Body["data"].([]any) {
		if str(k, "revoked_at") != "" {
			t.Fatalf("telco's admin revoked other's key: %v", k)
		}
	}
}

// An app key gets 403 on every key route and on the audit trail.
func TestKeysAndAuditNeedAdmin(t *testing.T) {
	h := newHarness(t)
	id := h.keyIDs(t, "telco/admin", 100)[0]
	for _, r := range []struct{ method, path string }{
		{"POST", "/v1/keys"}, {"GET", "/v1/keys"}, {"DELETE", "/v1/keys/" + id}, {"GET", "/v1/audit"}, {"GET", "/v1/audit?member_id=m1"},
	} {
		var body any
		if r.method == "POST" {
			body = map[string]any{"role": "admin"}
		}
		h.call(r.method, r.path, "telco/app", body).expect(t, 403, "forbidden")
	}
	if ids := h.keyIDs(t, "telco/admin", 100); len(ids) != 3 {
		t.Fatalf("keys after the app's attempts: %v", ids)
	}
}

// POST /v1/keys with an Idempotency-Key, 10 times at once and then again:
// one key; the first answer has the key, replays have its metadata only
// (the key is never stored, not even with the response).
func TestCreateKeyIdempotent(t *testing.T) {
	h := newHarness(t)
	before := len(h.keyIDs(t, "telco/admin", 100))
	var wg sync.WaitGroup
	replies := make([]reply, 10)
	for i := range replies {
		wg.Go(func() {
			replies[i] = h.call("POST", "/v1/keys", "telco/admin", map[string]any{"role": "app", "label": "once"}, "Idempotency-Key", "key-once")
		})
	}
	wg.Wait()
	replies = append(replies, h.call("POST", "/v1/keys", "telco/admin", map[string]any{"role": "app", "label": "once"}, "Idempotency-Key", "key-once"))
	ids, secrets := map[string]bool{}, 0
	for _, r := range replies {
		switch r.Status {
		case 201:
			ids[str(r.Body, "key", "id")] = true
			if str(r.Body, "secret") != "" {
				secrets++
				if r.Header.Get("Idempotent-Replayed") != "" {
					t.Fatalf("a replay shows the key: %s", r.Raw)
				}
			}
		case 409:
			r.expect(t, 409, "request-in-progress")
		default:
			t.Fatalf("status %d: %s", r.Status, r.Raw)
		}
	}
	if len(ids) != 1 || secrets != 1 || len(h.keyIDs(t, "telco/admin", 100)) != before+1 {
		t.Fatalf("%d key ids answered, %d secrets, keys %d → %d", len(ids), secrets, before, len(h.keyIDs(t, "telco/admin", 100)))
	}
	if last := replies[len(replies)-1]; last.Header.Get("Idempotent-Replayed") != "true" || str(last.Body, "secret") != "" {
		t.Fatalf("the replay: %v %s", last.Header, last.Raw)
	}
	if strings.Contains(h.snapshot(t), keys.Prefix) {
		t.Fatal("the table holds a key")
	}
}

// The audit trail through the API: every admin action and transfer, newest
// first, with the acting key's id; by member; by time; page by page; bad
// parameters are 400 naming the parameter, an unknown member 404.
func TestAuditAPI(t *testing.T) {
	// A clock a millisecond later at every reading: the records' order is
	// the actions' order.
	var tick atomic.Int64
	h := buildWith(t, harnessOptions{clock: func() time.Time { return now.Add(time.Duration(tick.Add(1)) * time.Millisecond) }})
	t.Cleanup(func() { checkOpenAPI(t, h.exchanges()) })
	const admin, app = "telco/admin", "telco/app"
	h.seed("m1", 100000, 200000)
	h.seed("m2", 100000)
	ids := map[string]string{}
	for _, k := range h.call("GET", "/v1/keys?limit=100", admin, nil).Body["data"].([]any) {
		if str(k, "revoked_at") == "" {
			ids[str(k, "role")] = str(k, "id")
		}
	}
	h.call("POST", "/v1/members/m1/adjustments", admin, map[string]any{"points": 7, "reason": "goodwill"}).expect(t, 201, "")
	h.call("POST", "/v1/members/m1/transfers", app, map[string]any{"to_member_id": "m2", "points": 5, "reason": "gift"}).expect(t, 201, "")
	h.call("PUT", "/v1/program", admin, programJSON(t)).expect(t, 200, "")
	h.call("PUT", "/v1/rewards", admin, map[string]any{"rewards": []any{map[string]any{"id": "mug", "name": "Mug", "cost": 5}}}).expect(t, 200, "")
	k := h.call("POST", "/v1/keys", admin, map[string]any{"role": "app", "label": "audited"}).expect(t, 201, "")
	h.call("DELETE", "/v1/keys/"+str(k.Body, "key", "id"), admin, nil).expect(t, 200, "")

	all := h.call("GET", "/v1/audit?limit=100", admin, nil).expect(t, 200, "")
	var actions, actors []string
	for _, r := range all.Body["data"].([]any) {
		actions, actors = append(actions, str(r, "action")), append(actors, str(r, "actor"))
	}
	// Then the harness's own (operator) program creations and key creations.
	want := "key.revoke key.create rewards.update program.update points.transfer adjust"
	wantActors := []string{ids["admin"], ids["admin"], ids["admin"], ids["admin"], ids["app"], ids["admin"]}
	if got := strings.Join(actions, " "); !strings.HasPrefix(got, want) || !slices.Equal(actors[:6], wantActors) {
		t.Fatalf("actions, newest first: %s by %v, want %s … by %v", got, actors, want, wantActors)
	}
	for i, a := range actors[6:] {
		if a != "operator" || (actions[6+i] != "program.update" && actions[6+i] != "key.create" && actions[6+i] != "key.revoke") {
			t.Fatalf("record %d: %s by %s", 6+i, actions[6+i], a)
		}
	}
	if strings.Contains(string(all.Raw), str(k.Body, "secret")) {
		t.Fatal("the audit trail shows a key")
	}
	// Pages of 2 give the same records.
	var paged []string
	for cursor := ""; ; {
		path := "/v1/audit?limit=2"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := h.call("GET", path, admin, nil).expect(t, 200, "")
		for _, rec := range r.Body["data"].([]any) {
			paged = append(paged, str(rec, "action"))
		}
		if cursor = str(r.Body, "next_cursor"); cursor == "" {
			break
		}
	}
	if strings.Join(paged, " ") != strings.Join(actions, " ") {
		t.Fatalf("paged %v, whole %v", paged, actions)
	}
	// By member: m2 was only the transfer's receiver.
	for member, wantActions := range map[string]string{"m1": "points.transfer adjust", "m2": "points.transfer"} {
		r := h.call("GET", "/v1/audit?member_id="+member, admin, nil).expect(t, 200, "")
		var got []string
		for _, rec := range r.Body["data"].([]any) {
			got = append(got, str(rec, "action"))
		}
		if strings.Join(got, " ") != wantActions {
			t.Fatalf("member %s: %v, want %s", member, got, wantActions)
		}
	}
	tr := h.call("GET", "/v1/audit?member_id=m2", admin, nil).Body["data"].([]any)[0]
	if str(tr, "member_id") != "m1" || str(tr, "other_member_id") != "m2" || num(t, tr, "points") != 5 || str(tr, "reason") != "gift" {
		t.Fatalf("transfer record %v", tr)
	}
	// By time: everything happened within seconds from 12:00 UTC.
	for _, q := range []string{"from=2026-11-05", "to=2026-11-05", "from=2026-11-05T12:00:00Z&to=2026-11-05T13:00:00Z", "from=2026-11-05T15:00:00%2B03:00"} {
		r := h.call("GET", "/v1/audit?limit=100&"+q, admin, nil).expect(t, 200, "")
		if n := len(r.Body["data"].([]any)); n != len(actions) {
			t.Fatalf("%s: %d records, want %d", q, n, len(actions))
		}
	}
	for _, q := range []string{"from=2026-11-06", "to=2026-11-04", "to=2026-11-05T11:59:59.999Z"} {
		r := h.call("GET", "/v1/audit?"+q, admin, nil).expect(t, 200, "")
		if n := len(r.Body["data"].([]any)); n != 0 {
			t.Fatalf("%s: %d records, want none", q, n)
		}
	}
	first := h.call("GET", "/v1/audit?limit=1", admin, nil).expect(t, 200, "")
	for _, tc := range []struct {
		query, status, field string
	}{
		{"from=yesterday", "400", "from"},
		{"to=2026-13-01", "400", "to"},
		{"from=2026-11-05T10:00:00", "400", "from"}, // no zone
		{"from=2026-11-06&to=2026-11-05", "400", "to"},
		{"member_id=" + url.QueryEscape("a b"), "400", "member_id"},
		{"member_id=", "400", "member_id"},
		{"limit=101", "400", "limit"},
		{"cursor=%21", "400", "cursor"},
		{"to=2026-11-04&cursor=" + url.QueryEscape(str(first.Body, "next_cursor")), "400", "cursor"},
		{"member_id=m1&cursor=" + url.QueryEscape(str(first.Body, "next_cursor")), "400", "cursor"},
		{"member_id=nobody", "404", ""},
	} {
		r := h.call("GET", "/v1/audit?"+tc.query, admin, nil)
		if fmt.Sprint(r.Status) != tc.status || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s: %d %s", tc.query, r.Status, r.Raw)
		}
		if tc.field != "" && !strings.Contains(string(r.Raw), `"field":"`+tc.field+`"`) {
			t.Fatalf("%s: field %s not named: %s", tc.query, tc.field, r.Raw)
		}
	}
	// Another partner's member, and another partner's trail.
	h.call("GET", "/v1/audit?member_id=m1", "other/admin", nil).expect(t, 404, "not-found")
	if r := h.call("GET", "/v1/audit?limit=100", "other/admin", nil).expect(t, 200, ""); strings.Contains(string(r.Raw), "points.transfer") || strings.Contains(string(r.Raw), "goodwill") {
		t.Fatalf("other sees telco's trail: %s", r.Raw)
	}
	if err := h.st.Audit(context.Background(), "telco", "m1"); err != nil {
		t.Fatal(err)
	}
}

// The audit actions the document lists are exactly the store's AuditAction
// constants (shared/store/audit.go), so that an action added there cannot
// reach the API undocumented.
func TestOpenAPIAuditActions(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "store", "audit.go"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range regexp.MustCompile(`(?m)^\s*Audit\w+\s+AuditAction = "([^"]+)"`).FindAllStringSubmatch(string(src), -1) {
		want = append(want, m[1])
	}
	if len(want) < 9 {
		t.Fatalf("found only %d audit actions in audit.go: did their lines change shape?", len(want))
	}
	got := schemaEnum(t, "AuditRecord", "action")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("AuditRecord.action enum = %v, want the AuditAction constants %v", got, want)
	}
}
