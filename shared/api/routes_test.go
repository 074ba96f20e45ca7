package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// route is one route of spec §4 with a request that succeeds for member "m1"
// of partner telco (prepared by prepare).
type route struct {
	method, path string
	admin        bool
	body         any
	status       int // success status
}

// routes lists every route. {rid} and {review} are filled in per test.
func routes() []route {
	return []route{
		{"GET", "/v1/program", false, nil, 200},
		{"PUT", "/v1/program", true, "PROGRAM", 200},
		{"POST", "/v1/program/simulate", true, map[string]any{"program": "PROGRAM", "member_id": "m1"}, 200},
		{"POST", "/v1/members", false, map[string]any{"member_id": "new-1"}, 201},
		{"GET", "/v1/members/m1", false, nil, 200},
		{"PATCH", "/v1/members/m1", false, map[string]any{"tags": []string{"gold-card"}}, 200},
		{"GET", "/v1/members/m1/ledger", false, nil, 200},
		{"POST", "/v1/members/m1/activities", false, map[string]any{"name": "autopay_enabled"}, 201},
		{"POST", "/v1/members/m1/redemptions", false, map[string]any{"points": 5}, 201},
		{"POST", "/v1/members/m1/redemptions/{rid}/capture", false, nil, 200},
		{"POST", "/v1/members/m1/redemptions/{rid2}/cancel", false, nil, 200},
		{"POST", "/v1/members/m1/adjustments", true, map[string]any{"points": 10, "reason": "goodwill"}, 201},
		{"GET", "/v1/members/m1/data", true, nil, 200},
		{"DELETE", "/v1/members/m2/data", true, nil, 200},
		{"GET", "/v1/rewards", false, nil, 200},
		{"PUT", "/v1/rewards", true, map[string]any{"rewards": []any{map[string]any{"id": "mug", "name": "Mug", "cost": 50, "stock": 10}}}, 200},
		{"GET", "/v1/stats?from=2026-11-01&to=2026-11-30", true, nil, 200},
		{"GET", "/v1/review", true, nil, 200},
		{"POST", "/v1/review/{review}/approve", true, nil, 200},
		{"POST", "/v1/review/{review2}/reject", true, map[string]any{"reason": "chargeback risk"}, 200},
		{"GET", "/v1/rejected-events", true, nil, 200},
		{"POST", "/v1/events", false, "EVENT", 201},
		{"GET", "/v1/event-types", false, nil, 200},
		{"GET", "/v1/event-types/points.earned", false, nil, 200},
		{"GET", "/v1/event-types/points.earned/versions/1", false, nil, 200},
		{"POST", "/v1/members/m1/transfers", false, map[string]any{"to_member_id": "m3", "points": 1, "reason": "gift"}, 201},
		{"POST", "/v1/members/m1/merge", true, map[string]any{"absorbed_member_id": "m4", "reason": "one person"}, 201},
		{"POST", "/v1/keys", true, map[string]any{"role": "app", "label": "route test"}, 201},
		{"GET", "/v1/keys", true, nil, 200},
		{"DELETE", "/v1/keys/{key}", true, nil, 200},
		{"GET", "/v1/audit", true, nil, 200},
		{"POST", "/v1/imports", true, map[string]any{"format": "csv", "file_name": "members.csv"}, 201},
		{"GET", "/v1/imports/{import}", true, nil, 200},
	}
}

// fixtures: ids made by prepare for the routes that need them.
type fixtures map[string]string

// prepare makes member m1 (with points and two open holds), m2, m4 (to merge
// into m1), and two held events in review, and returns the ids to
// substitute in the routes.
func (h *harness) prepare() fixtures {
	t := h.t
	h.seed("m1", 100000, 200000) // 10 + 20 points
	h.seed("m2", 100000)
	h.seed("m4", 100000)
	f := fixtures{}
	for _, k := range []string{"rid", "rid2"} {
		r := h.call("POST", "/v1/members/m1/redemptions", "telco/app", map[string]any{"points": 1}).expect(t, 201, "")
		f[k] = str(r.Body, "redemption", "id")
	}
	// Two large payments (≥ 500000.00 RUB) are held for review.
	for i, k := range []string{"review", "review2"} {
		h.call("POST", "/v1/events", "telco/app", event("telco", "m3", fmt.Sprintf("big-%d", i), 50_000_000)).expect(t, 201, "")
		_ = k
	}
	q := h.call("GET", "/v1/review", "telco/admin", nil).expect(t, 200, "")
	items, _ := q.Body["data"].([]any)
	if len(items) != 2 {
		t.Fatalf("review queue: %s", q.Raw)
	}
	f["review"], f["review2"] = str(items[0], "id"), str(items[1], "id")
	k := h.call("POST", "/v1/keys", "telco/admin", map[string]any{"role": "app", "label": "to revoke"}).expect(t, 201, "")
	f["key"] = str(k.Body, "key", "id")
	f["import"] = str(h.call("POST", "/v1/imports", "telco/admin", map[string]any{"format": "jsonl"}).expect(t, 201, "").Body, "id")
	return f
}

func (r route) fill(f fixtures) string {
	p := r.path
	for k, v := range f {
		p = strings.ReplaceAll(p, "{"+k+"}", v)
	}
	return p
}

func (r route) payload(h *harness, i int) any {
	switch r.body {
	case "PROGRAM":
		return programJSON(h.t)
	case "EVENT":
		return event("telco", "m1", fmt.Sprintf("route-ev-%d", i), 100000)
	}
	if m, ok := r.body.(map[string]any); ok && m["program"] == "PROGRAM" {
		return map[string]any{"program": rawProgram(h), "member_id": m["member_id"]}
	}
	return r.body
}

func rawProgram(h *harness) any {
	var v any
	if err := jsonUnmarshal(programJSON(h.t), &v); err != nil {
		h.t.Fatal(err)
	}
	return v
}

// Every route: success with the right key; no key, a wrong key, a revoked key
// and (on admin routes) an app key each fail with the right problem.
func TestEveryRouteAuthAndSuccess(t *testing.T) {
	h := newHarness(t)
	f := h.prepare()
	for i, r := range routes() {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			path := r.fill(f)
			h.call(r.method, path, "", r.payload(h, i)).expect(t, 401, "unauthenticated")
			h.call(r.method, path, "Bearer acr_"+strings.Repeat("x", 43), r.payload(h, i)).expect(t, 401, "unauthenticated")
			h.call(r.method, path, "Bearer not-a-key", r.payload(h, i)).expect(t, 401, "unauthenticated")
			h.call(r.method, path, "telco/revoked", r.payload(h, i)).expect(t, 401, "unauthenticated")
			key := "telco/app"
			if r.admin {
				h.call(r.method, path, "telco/app", r.payload(h, i)).expect(t, 403, "forbidden")
				key = "telco/admin"
			}
			got := h.call(r.method, path, key, r.payload(h, i))
			if got.Status != r.status {
				t.Fatalf("status %d, want %d: %s", got.Status, r.status, got.Raw)
			}
		})
	}
}

// Partner isolation: other's keys reach nothing of telco's. Member routes
// answer 404 (the member does not exist for them); partner-level routes show
// only other's own (empty) data.
func TestPartnerIsolationEveryRoute(t *testing.T) {
	h := newHarness(t)
	f := h.prepare()
	before := h.call("GET", "/v1/members/m1", "telco/app", nil).expect(t, 200, "").Raw
	for i, r := range routes() {
		if !strings.Contains(r.path, "/members/m") && !strings.Contains(r.path, "/review/") && !strings.Contains(r.path, "/keys/") && !strings.Contains(r.path, "/imports/") {
			continue
		}
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			got := h.call(r.method, r.fill(f), "other/admin", r.payload(h, i))
			if got.Status != http.StatusNotFound {
				t.Fatalf("other's key on telco's %s: status %d: %s", r.path, got.Status, got.Raw)
			}
		})
	}
	for _, path := range []string{"/v1/review", "/v1/rejected-events", "/v1/rewards"} {
		got := h.call("GET", path, "other/admin", nil).expect(t, 200, "")
		if items, _ := got.Body["data"].([]any); len(items) != 0 {
			t.Fatalf("other sees telco's %s: %s", path, got.Raw)
		}
	}
	// Keys and the audit trail: other's own only.
	for _, path := range []string{"/v1/keys", "/v1/audit"} {
		got := h.call("GET", path, "other/admin", nil).expect(t, 200, "")
		if strings.Contains(string(got.Raw), `"telco"`) || strings.Contains(string(got.Raw), `"member_id":"m1"`) {
			t.Fatalf("other sees telco's %s: %s", path, got.Raw)
		}
	}
	// An event for telco's member sent with other's key is refused.
	h.call("POST", "/v1/events", "other/app", event("telco", "m1", "sneaky", 100000)).expect(t, 400, "validation-error")
	if after := h.call("GET", "/v1/members/m1", "telco/app", nil).expect(t, 200, "").Raw; string(after) != string(before) {
		t.Fatalf("telco's member changed:\n%s\n%s", before, after)
	}
}

// Validation failures and not-found, per route.
func TestValidationAndNotFound(t *testing.T) {
	h := newHarness(t)
	h.prepare()
	cases := []struct {
		method, path, key string
		body              any
		status            int
		problem, field    string
	}{
		{"PUT", "/v1/program", "telco/admin", `{"name":""}`, 400, "validation-error", "name"},
		{"PUT", "/v1/program", "telco/admin", `{"nmae":"x"}`, 400, "validation-error", "nmae"},
		{"PUT", "/v1/program", "telco/admin", `{"name":`, 400, "malformed-request", ""},
		{"POST", "/v1/program/simulate", "telco/admin", map[string]any{"member_id": "m1"}, 400, "validation-error", "program"},
		{"POST", "/v1/members", "telco/app", map[string]any{"member_id": ""}, 400, "validation-error", "member_id"},
		{"POST", "/v1/members", "telco/app", map[string]any{"member_id": "m1"}, 409, "already-exists", ""},
		{"POST", "/v1/members", "telco/app", map[string]any{"member_id": "x", "extra": 1}, 400, "validation-error", "extra"},
		{"POST", "/v1/members", "telco/app", map[string]any{"member_id": 5}, 400, "validation-error", "member_id"},
		{"GET", "/v1/members/nobody", "telco/app", nil, 404, "not-found", ""},
		{"PATCH", "/v1/members/m1", "telco/app", map[string]any{"status": "erased"}, 400, "validation-error", "status"},
		{"PATCH", "/v1/members/nobody", "telco/app", map[string]any{"tags": []string{}}, 404, "not-found", ""},
		{"GET", "/v1/members/m1/ledger?limit=0", "telco/app", nil, 400, "validation-error", "limit"},
		{"GET", "/v1/members/m1/ledger?cursor=%21%21", "telco/app", nil, 400, "validation-error", ""},
		{"GET", "/v1/members/nobody/ledger", "telco/app", nil, 404, "not-found", ""},
		{"POST", "/v1/members/m1/activities", "telco/app", map[string]any{"name": "dance"}, 400, "validation-error", ""},
		{"POST", "/v1/members/nobody/activities", "telco/app", map[string]any{"name": "autopay_enabled"}, 404, "not-found", ""},
		{"POST", "/v1/members/m1/redemptions", "telco/app", map[string]any{"points": 5, "reward_id": "mug"}, 400, "validation-error", "points"},
		{"POST", "/v1/members/m1/redemptions", "telco/app", map[string]any{"points": 100000}, 422, "insufficient-points", ""},
		{"POST", "/v1/members/m1/redemptions", "telco/app", map[string]any{"reward_id": "nope"}, 404, "not-found", ""},
		{"POST", "/v1/members/m1/redemptions/rdm_nope/capture", "telco/app", nil, 404, "not-found", ""},
		{"POST", "/v1/members/m1/redemptions/rdm_nope/cancel", "telco/app", nil, 404, "not-found", ""},
		{"POST", "/v1/members/m1/adjustments", "telco/admin", map[string]any{"points": 10}, 400, "validation-error", "reason"},
		{"POST", "/v1/members/nobody/adjustments", "telco/admin", map[string]any{"points": 10, "reason": "x"}, 404, "not-found", ""},
		{"GET", "/v1/members/nobody/data", "telco/admin", nil, 404, "not-found", ""},
		{"DELETE", "/v1/members/nobody/data", "telco/admin", nil, 404, "not-found", ""},
		{"PUT", "/v1/rewards", "telco/admin", map[string]any{"rewards": []any{map[string]any{"id": "Bad Id", "name": "x", "cost": 1}}}, 400, "validation-error", "rewards[0].id"},
		{"GET", "/v1/stats?from=2026-13-01&to=2026-11-30", "telco/admin", nil, 400, "validation-error", "from"},
		{"GET", "/v1/review?limit=1000", "telco/admin", nil, 400, "validation-error", "limit"},
		{"POST", "/v1/review/nope/approve", "telco/admin", nil, 404, "not-found", ""},
		{"POST", "/v1/review/nope/reject", "telco/admin", nil, 404, "not-found", ""},
		{"GET", "/v1/rejected-events?limit=x", "telco/admin", nil, 400, "validation-error", "limit"},
		{"POST", "/v1/events", "telco/app", `{"specversion":"1.0"}`, 422, "event-rejected", ""},
		{"POST", "/v1/imports", "telco/admin", map[string]any{"format": "xml"}, 400, "validation-error", "format"},
		{"POST", "/v1/imports", "telco/admin", map[string]any{}, 400, "validation-error", "format"},
		{"POST", "/v1/imports", "telco/admin", map[string]any{"file_name": "members.xlsx"}, 400, "validation-error", "format"},
		{"POST", "/v1/imports", "telco/admin", map[string]any{"format": "csv", "file_name": strings.Repeat("x", 201)}, 400, "validation-error", "file_name"},
		{"POST", "/v1/imports", "telco/admin", map[string]any{"format": "csv", "url": "s3://elsewhere"}, 400, "validation-error", "url"},
		{"POST", "/v1/imports", "telco/admin", `{"format":`, 400, "malformed-request", ""},
		{"GET", "/v1/imports/imp_nope", "telco/admin", nil, 400, "validation-error", "id"},
		{"GET", "/v1/imports/imp_00000000000000000000000000000000", "telco/admin", nil, 404, "not-found", ""},
		{"GET", "/v1/nothing", "telco/app", nil, 404, "not-found", ""},
		{"GET", "/v1/event-types/Points.Earned", "telco/app", nil, 400, "validation-error", "type"},
		{"GET", "/v1/event-types/points", "telco/app", nil, 400, "validation-error", "type"},
		{"GET", "/v1/event-types/points.spent", "telco/app", nil, 404, "not-found", ""},
		{"GET", "/v1/event-types/points.earned/versions/0", "telco/app", nil, 400, "validation-error", "version"},
		{"GET", "/v1/event-types/points.earned/versions/v1", "telco/app", nil, 400, "validation-error", "version"},
		{"GET", "/v1/event-types/points.earned/versions/01", "telco/app", nil, 400, "validation-error", "version"},
		{"GET", "/v1/event-types/points.earned/versions/99", "telco/app", nil, 404, "not-found", ""},
		{"GET", "/v1/event-types/points.spent/versions/1", "telco/app", nil, 404, "not-found", ""},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := h.call(tc.method, tc.path, tc.key, tc.body).expect(t, tc.status, tc.problem)
			if tc.field != "" {
				errs, _ := r.Body["errors"].([]any)
				found := false
				for _, e := range errs {
					found = found || str(e, "field") == tc.field
				}
				if !found {
					t.Fatalf("field %q not named: %s", tc.field, r.Raw)
				}
			}
		})
	}
}
