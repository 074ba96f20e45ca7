package api_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

// A merge through the API: both merge entries and balances in the answer;
// the absorbed id answers as the survivor on every route (its member view
// says so, its ledger, redemptions, activities and payments are the
// survivor's); a second merge of it is 409 member-merged; the client errors
// of the route are problems naming what is wrong, and change nothing.
func TestMergeAPI(t *testing.T) {
	h := newHarness(t)
	h.seed("m1", 100000)         // 10 points
	h.seed("m2", 100000, 200000) // 30 points
	h.call("POST", "/v1/members/m2/activities", "telco/app", map[string]any{"name": "autopay_enabled"}).expect(t, 201, "")
	const admin = "telco/admin"
	r := h.call("POST", "/v1/members/m1/merge", admin, map[string]any{"absorbed_member_id": "m2", "reason": "one person"}).expect(t, 201, "")
	if str(r.Body, "survivor", "member_id") != "m1" || str(r.Body, "absorbed", "member_id") != "m2" ||
		num(t, r.Body, "survivor", "balances", "available") != 340 || num(t, r.Body, "absorbed", "balances", "available") != 0 ||
		str(r.Body, "survivor", "entry", "kind") != "merge" || str(r.Body, "absorbed", "entry", "kind") != "merge" ||
		str(r.Body, "survivor", "entry", "counterpart", "member_id") != "m2" || str(r.Body, "absorbed", "entry", "counterpart", "member_id") != "m1" ||
		num(t, r.Body, "survivor", "entry", "counterpart", "entry_seq") != num(t, r.Body, "absorbed", "entry", "seq") ||
		str(r.Body, "survivor", "entry", "reason") != "one person" {
		t.Fatalf("merge: %s", r.Raw)
	}
	h.audits(t, "m1", "m2")

	// The absorbed id answers as the survivor.
	m := h.call("GET", "/v1/members/m2", "telco/app", nil).expect(t, 200, "")
	if str(m.Body, "member_id") != "m1" || str(m.Body, "merged_into") != "m1" || num(t, m.Body, "balances", "available") != 340 {
		t.Fatalf("GET the absorbed id: %s", m.Raw)
	}
	m = h.call("GET", "/v1/members/m1", "telco/app", nil).expect(t, 200, "")
	if _, ok := m.Body["merged_into"]; ok || !strings.Contains(string(m.Raw), `"merged_ids":["m2"]`) {
		t.Fatalf("GET the survivor: %s", m.Raw)
	}
	l := h.call("GET", "/v1/members/m2/ledger?limit=100", "telco/app", nil).expect(t, 200, "")
	if es := l.Body["data"].([]any); str(es[0], "kind") != "merge" || str(es[0], "counterpart", "member_id") != "m2" {
		t.Fatalf("the absorbed id's ledger: %s", l.Raw)
	}
	h.call("POST", "/v1/members/m2/activities", "telco/app", map[string]any{"name": "autopay_enabled"}).expect(t, 409, "conflict")
	red := h.call("POST", "/v1/members/m2/redemptions", "telco/app", map[string]any{"points": 5}).expect(t, 201, "")
	if str(red.Body, "redemption", "member_id") != "m1" {
		t.Fatalf("a redemption on the absorbed id: %s", red.Raw)
	}
	h.call("POST", "/v1/members/m2/redemptions/"+str(red.Body, "redemption", "id")+"/capture", "telco/app", nil).expect(t, 200, "")
	ev := h.call("POST", "/v1/events", "telco/app", event("telco", "m2", "after-merge", 100000)).expect(t, 201, "")
	if num(t, ev.Body, "balances", "available") != 345 {
		t.Fatalf("a payment of the absorbed id: %s", ev.Raw)
	}
	if again := h.call("POST", "/v1/events", "telco/app", event("telco", "m2", "m2-p0", 100000)).expect(t, 200, ""); str(again.Body, "status") != "duplicate" {
		t.Fatalf("a payment of m2 from before the merge, again: %s", again.Raw)
	}
	h.call("POST", "/v1/members", "telco/app", map[string]any{"member_id": "m2"}).expect(t, 409, "already-exists")
	// A simulation of the member's history replays the person's payments:
	// the survivor's and the absorbed member's.
	for _, id := range []string{"m1", "m2"} {
		sim := h.call("POST", "/v1/program/simulate", admin, map[string]any{"program": rawProgram(h), "member_id": id}).expect(t, 200, "")
		if ps := sim.Body["payments"].([]any); len(ps) != 4 || !strings.Contains(string(sim.Raw), `"payment_id":"m2-p1"`) {
			t.Fatalf("simulation of %s's history: %s", id, sim.Raw)
		}
	}
	h.audits(t, "m1", "m2")

	h.seed("m3")
	h.call("PATCH", "/v1/members/m3", "telco/app", map[string]any{"status": "suspended"}).expect(t, 200, "")
	h.seed("m4", 100000)
	h.call("POST", "/v1/members/m4/redemptions", "telco/app", map[string]any{"points": 1}).expect(t, 201, "") // an open hold
	h.seed("m5", 100000)
	before := h.snapshot(t)
	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		problem    string
		field      string
	}{
		{"itself", "/v1/members/m1/merge", map[string]any{"absorbed_member_id": "m1"}, 400, "validation-error", "absorbed_member_id"},
		{"into an id of its own", "/v1/members/m2/merge", map[string]any{"absorbed_member_id": "m1"}, 400, "validation-error", "absorbed_member_id"},
		{"no absorbed member", "/v1/members/m1/merge", map[string]any{"reason": "x"}, 400, "validation-error", "absorbed_member_id"},
		{"bad absorbed id", "/v1/members/m1/merge", map[string]any{"absorbed_member_id": "a b"}, 400, "validation-error", "absorbed_member_id"},
		{"absorbed id not a string", "/v1/members/m1/merge", map[string]any{"absorbed_member_id": 5}, 400, "validation-error", "absorbed_member_id"},
		{"reason too long", "/v1/members/m1/merge", map[string]any{"absorbed_member_id": "m5", "reason": strings.Repeat("é", 501)}, 400, "validation-error", "reason"},
		{"blank reason", "/v1/members/m1/merge", map[string]any{"absorbed_member_id": "m5", "reason": "  "}, 400, "validation-error", "reason"},
		{"unknown field", "/v1/members/m1/merge", map[string]any{"absorbed_member_id": "m5", "points": 1}, 400, "validation-error", "points"},
		{"not JSON", "/v1/members/m1/merge", `{"absorbed_member_id":`, 400, "malformed-request", ""},
		{"no such survivor", "/v1/members/nobody/merge", map[string]any{"absorbed_member_id": "m5"}, 404, "not-found", ""},
		{"no such absorbed member", "/v1/members/m1/merge", map[string]any{"absorbed_member_id": "nobody"}, 404, "not-found", ""},
		{"merged before", "/v1/members/m5/merge", map[string]any{"absorbed_member_id": "m2"}, 409, "member-merged", ""},
		{"suspended absorbed member", "/v1/members/m1/merge", map[string]any{"absorbed_member_id": "m3"}, 409, "member-inactive", ""},
		{"suspended survivor", "/v1/members/m3/merge", map[string]any{"absorbed_member_id": "m5"}, 409, "member-inactive", ""},
		{"an open hold", "/v1/members/m1/merge", map[string]any{"absorbed_member_id": "m4"}, 409, "merge-blocked", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call("POST", tc.path, admin, tc.body).expect(t, tc.status, tc.problem)
			if tc.field != "" && !strings.Contains(string(r.Raw), `"field":"`+tc.field+`"`) {
				t.Fatalf("field %s not named: %s", tc.field, r.Raw)
			}
			if tc.problem == "merge-blocked" && !strings.Contains(str(r.Body, "detail"), "1 open holds") {
				t.Fatalf("the detail does not say why: %s", r.Raw)
			}
		})
	}
	// The app key may not merge.
	h.call("POST", "/v1/members/m1/merge", "telco/app", map[string]any{"absorbed_member_id": "m5"}).expect(t, http.StatusForbidden, "forbidden")
	if after := h.snapshot(t); after != before {
		t.Fatal("a refused merge changed the table")
	}
	// The audit trail of each id has the merge.
	for _, id := range []string{"m1", "m2"} {
		recs := h.call("GET", "/v1/audit?member_id="+id, admin, nil).expect(t, 200, "").Body["data"].([]any)
		found := false
		for _, rec := range recs {
			found = found || (str(rec, "action") == "member.merge" && str(rec, "member_id") == "m1" && str(rec, "other_member_id") == "m2")
		}
		if !found {
			t.Fatalf("audit trail of %s: %v", id, recs)
		}
	}
	// The export of either id is the person's: the absorbed member's data too.
	x := h.call("GET", "/v1/members/m2/data", admin, nil).expect(t, 200, "")
	if str(x.Body, "member_id") != "m1" || str(x.Body["merged"].([]any)[0], "member_id") != "m2" || str(x.Body["merged"].([]any)[0], "status") != "merged" {
		t.Fatalf("export: %s", x.Raw)
	}
	h.audits(t, "m1", "m2", "m3", "m4", "m5")
}

// Partner isolation: another partner's key on telco's members, or telco's
// key naming another partner's member, is 404 and changes nothing.
func TestMergeIsolation(t *testing.T) {
	h := newHarness(t)
	h.seed("m1", 100000)
	h.seed("m2", 100000)
	h.call("POST", "/v1/members", "other/app", map[string]any{"member_id": "o1"}).expect(t, 201, "")
	before := h.snapshot(t)
	h.call("POST", "/v1/members/m1/merge", "other/admin", map[string]any{"absorbed_member_id": "m2"}).expect(t, 404, "not-found")
	h.call("POST", "/v1/members/m1/merge", "other/admin", map[string]any{"absorbed_member_id": "o1"}).expect(t, 404, "not-found")
	h.call("POST", "/v1/members/o1/merge", "other/admin", map[string]any{"absorbed_member_id": "m1"}).expect(t, 404, "not-found")
	h.call("POST", "/v1/members/m1/merge", "telco/admin", map[string]any{"absorbed_member_id": "o1"}).expect(t, 404, "not-found")
	if after := h.snapshot(t); after != before {
		t.Fatal("a merge across partners changed the table")
	}
	h.audits(t, "m1", "m2")
}

// The same merge 10 times at once, with one Idempotency-Key, then once more:
// one merge; every answer is the first one (201), replayed, or 409
// request-in-progress while it runs. Without a key, 10 at once: one merge,
// the others 409 member-merged.
func TestMergeIdempotent(t *testing.T) {
	h := newHarness(t)
	h.seed("m1", 100000)
	h.seed("m2", 100000, 200000)
	h.seed("m3", 100000)
	h.seed("m4", 100000)
	body := map[string]any{"absorbed_member_id": "m2"}
	h.oneAnswer(t, "/v1/members/m1/merge", "telco/admin", body, "merge-1")
	h.call("POST", "/v1/members/m1/merge", "telco/admin", map[string]any{"absorbed_member_id": "m3"}, "Idempotency-Key", "merge-1").
		expect(t, 409, "idempotency-key-reused")

	var created, merged int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			r := h.call("POST", "/v1/members/m3/merge", "telco/admin", map[string]any{"absorbed_member_id": "m4"})
			mu.Lock()
			defer mu.Unlock()
			switch r.Status {
			case 201:
				created++
			case 409:
				r.expect(t, 409, "member-merged")
				merged++
			default:
				t.Errorf("status %d: %s", r.Status, r.Raw)
			}
		})
	}
	wg.Wait()
	if created != 1 || merged != 9 {
		t.Fatalf("%d merges, %d member-merged; want 1 and 9", created, merged)
	}
	for _, m := range []string{"m1", "m3"} {
		if got := num(t, h.call("GET", "/v1/members/"+m, "telco/app", nil).Body, "balances", "available"); got != map[string]int64{"m1": 40, "m3": 20}[m] {
			t.Fatalf("%s has %d points", m, got)
		}
	}
	recs := 0
	for _, rec := range h.call("GET", "/v1/audit", "telco/admin", nil).expect(t, 200, "").Body["data"].([]any) {
		if str(rec, "action") == "member.merge" {
			recs++
		}
	}
	if recs != 2 {
		t.Fatalf("%d merge records, want 2", recs)
	}
	h.audits(t, "m1", "m2", "m3", "m4")
}
