package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// audits checks the spec §2 invariants of telco's members.
func (h *harness) audits(t *testing.T, members ...string) {
	t.Helper()
	for _, m := range members {
		if err := h.st.Audit(context.Background(), "telco", m); err != nil {
			t.Fatalf("invariants of %s: %v", m, err)
		}
	}
}

// transferEntries counts the transfer entries of a member's ledger.
func (h *harness) transferEntries(t *testing.T, member string) []any {
	t.Helper()
	var out []any
	for _, e := range h.call("GET", "/v1/members/"+member+"/ledger?limit=100", "telco/app", nil).expect(t, 200, "").Body["data"].([]any) {
		if str(e, "kind") == "transfer" {
			out = append(out, e)
		}
	}
	return out
}

// A transfer through the API: both entries and balances in the answer, both
// ledgers explaining it (each names the other), and the client errors of the
// route, each a problem naming what is wrong; none changes anything.
func TestTransfersAPI(t *testing.T) {
	h := newHarness(t)
	h.seed("m1", 100000, 200000) // 10 + 20 points
	h.seed("m2", 100000)         // 10
	const app = "telco/app"
	r := h.call("POST", "/v1/members/m1/transfers", app, map[string]any{"to_member_id": "m2", "points": 25, "reason": "birthday"}).expect(t, 201, "")
	if num(t, r.Body, "points") != 25 || str(r.Body, "from", "member_id") != "m1" || str(r.Body, "to", "member_id") != "m2" ||
		num(t, r.Body, "from", "balances", "available") != 5 || num(t, r.Body, "to", "balances", "available") != 35 ||
		num(t, r.Body, "from", "entry", "points") != -25 || num(t, r.Body, "to", "entry", "lot", "remaining") != 25 ||
		str(r.Body, "to", "entry", "counterpart", "member_id") != "m1" || str(r.Body, "from", "entry", "counterpart", "member_id") != "m2" ||
		num(t, r.Body, "to", "entry", "counterpart", "entry_seq") != num(t, r.Body, "from", "entry", "seq") ||
		str(r.Body, "to", "entry", "reason") != "birthday" {
		t.Fatalf("transfer: %s", r.Raw)
	}
	for member, points := range map[string]float64{"m1": -25, "m2": 25} {
		es := h.transferEntries(t, member)
		if len(es) != 1 || es[0].(map[string]any)["points"] != points {
			t.Fatalf("%s's ledger: %v", member, es)
		}
	}
	h.audits(t, "m1", "m2")

	h.seed("m3")
	h.call("PATCH", "/v1/members/m3", app, map[string]any{"status": "suspended"}).expect(t, 200, "")
	before := h.snapshot(t)
	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		problem    string
		field      string
	}{
		{"to itself", "/v1/members/m1/transfers", map[string]any{"to_member_id": "m1", "points": 1}, 400, "validation-error", "to_member_id"},
		{"no receiver", "/v1/members/m1/transfers", map[string]any{"points": 1}, 400, "validation-error", "to_member_id"},
		{"bad receiver id", "/v1/members/m1/transfers", map[string]any{"to_member_id": "a b", "points": 1}, 400, "validation-error", "to_member_id"},
		{"no points", "/v1/members/m1/transfers", map[string]any{"to_member_id": "m2"}, 400, "validation-error", "points"},
		{"negative points", "/v1/members/m1/transfers", map[string]any{"to_member_id": "m2", "points": -3}, 400, "validation-error", "points"},
		{"points not a number", "/v1/members/m1/transfers", map[string]any{"to_member_id": "m2", "points": "3"}, 400, "validation-error", "points"},
		{"fractional points", "/v1/members/m1/transfers", `{"to_member_id":"m2","points":1.5}`, 400, "validation-error", "points"},
		{"reason too long", "/v1/members/m1/transfers", map[string]any{"to_member_id": "m2", "points": 1, "reason": strings.Repeat("é", 501)}, 400, "validation-error", "reason"},
		{"unknown field", "/v1/members/m1/transfers", map[string]any{"to_member_id": "m2", "points": 1, "from": "m2"}, 400, "validation-error", "from"},
		{"not JSON", "/v1/members/m1/transfers", `{"to_member_id":`, 400, "malformed-request", ""},
		{"no such sender", "/v1/members/nobody/transfers", map[string]any{"to_member_id": "m2", "points": 1}, 404, "not-found", ""},
		{"no such receiver", "/v1/members/m1/transfers", map[string]any{"to_member_id": "nobody", "points": 1}, 404, "not-found", ""},
		{"suspended receiver", "/v1/members/m1/transfers", map[string]any{"to_member_id": "m3", "points": 1}, 409, "member-inactive", ""},
		{"suspended sender", "/v1/members/m3/transfers", map[string]any{"to_member_id": "m1", "points": 1}, 409, "member-inactive", ""},
		{"more than available", "/v1/members/m1/transfers", map[string]any{"to_member_id": "m2", "points": 6}, 422, "insufficient-points", ""},
		{"above the program's maximum", "/v1/members/m2/transfers", map[string]any{"to_member_id": "m1", "points": 10001}, 422, "transfer-limit", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call("POST", tc.path, app, tc.body).expect(t, tc.status, tc.problem)
			if tc.field != "" && !strings.Contains(string(r.Raw), `"field":"`+tc.field+`"`) {
				t.Fatalf("field %s not named: %s", tc.field, r.Raw)
			}
			if tc.problem == "transfer-limit" && !strings.Contains(str(r.Body, "detail"), "maximum is 10000") {
				t.Fatalf("the detail does not say which limit: %s", r.Raw)
			}
		})
	}
	if after := h.snapshot(t); after != before {
		t.Fatal("a refused transfer changed the table")
	}

	// The program's switch.
	var prog map[string]any
	if err := json.Unmarshal(programJSON(t), &prog); err != nil {
		t.Fatal(err)
	}
	prog["transfers"] = map[string]any{"enabled": false}
	h.call("PUT", "/v1/program", "telco/admin", prog).expect(t, 200, "")
	h.call("POST", "/v1/members/m1/transfers", app, map[string]any{"to_member_id": "m2", "points": 1}).expect(t, 409, "transfers-disabled")
	// A program's invalid transfer limits are named.
	prog["transfers"] = map[string]any{"enabled": true, "min_points": 10, "max_points": 5}
	r = h.call("PUT", "/v1/program", "telco/admin", prog).expect(t, 400, "validation-error")
	if !strings.Contains(string(r.Raw), `"field":"transfers.max_points"`) {
		t.Fatalf("bad limits: %s", r.Raw)
	}
	h.audits(t, "m1", "m2", "m3")
}

// Partner isolation: another partner's key on telco's members, or telco's
// key naming another partner's member as the receiver, is 404 and changes
// nothing.
func TestTransfersIsolation(t *testing.T) {
	h := newHarness(t)
	h.seed("m1", 100000)
	h.call("POST", "/v1/members", "other/app", map[string]any{"member_id": "o1"}).expect(t, 201, "")
	h.call("POST", "/v1/events", "other/app", event("other", "o1", "o-p", 100000)).expect(t, 201, "")
	before := h.snapshot(t)
	h.call("POST", "/v1/members/m1/transfers", "other/app", map[string]any{"to_member_id": "o1", "points": 1}).expect(t, 404, "not-found")
	h.call("POST", "/v1/members/o1/transfers", "other/admin", map[string]any{"to_member_id": "m1", "points": 1}).expect(t, 404, "not-found")
	h.call("POST", "/v1/members/m1/transfers", "telco/app", map[string]any{"to_member_id": "o1", "points": 1}).expect(t, 404, "not-found")
	if after := h.snapshot(t); after != before {
		t.Fatal("a transfer across partners changed the table")
	}
	h.audits(t, "m1")
}

// oneAnswer sends one POST with one Idempotency-Key 10 times at once, then
// once more, and checks the answers: each is the first answer (201), or 409
// request-in-progress while it ran; the last is the replay.
func (h *harness) oneAnswer(t *testing.T, path, key string, body any, idem string) {
	t.Helper()
	replies := make([]reply, 10)
	var wg sync.WaitGroup
	for i := range replies {
		wg.Go(func() { replies[i] = h.call("POST", path, key, body, "Idempotency-Key", idem) })
	}
	wg.Wait()
	replies = append(replies, h.call("POST", path, key, body, "Idempotency-Key", idem))
	var first string
	for _, r := range replies {
		switch r.Status {
		case 201:
			if first == "" {
				first = string(r.Raw)
			} else if string(r.Raw) != first {
				t.Fatalf("two answers:\n%s\n%s", first, r.Raw)
			}
		case 409:
			r.expect(t, 409, "request-in-progress")
		default:
			t.Fatalf("status %d: %s", r.Status, r.Raw)
		}
	}
	if last := replies[len(replies)-1]; last.Status != 201 || last.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the replay: %d %v", last.Status, last.Header)
	}
}

// The same transfer with one Idempotency-Key, 10 times at once and then once
// more: one transfer (one entry on each ledger, one audit record); every
// answer is the first one (201), replayed, or 409 request-in-progress while
// it runs.
func TestTransferIdempotent(t *testing.T) {
	h := newHarness(t)
	h.seed("m1", 100000, 200000)
	h.seed("m2")
	body := map[string]any{"to_member_id": "m2", "points": 7}
	h.oneAnswer(t, "/v1/members/m1/transfers", "telco/app", body, "gift-1")
	if a, b := len(h.transferEntries(t, "m1")), len(h.transferEntries(t, "m2")); a != 1 || b != 1 {
		t.Fatalf("%d and %d transfer entries, want one each", a, b)
	}
	if got := num(t, h.call("GET", "/v1/members/m2", "telco/app", nil).Body, "balances", "available"); got != 7 {
		t.Fatalf("m2 has %d points, want 7", got)
	}
	recs := h.call("GET", "/v1/audit?member_id=m2", "telco/admin", nil).expect(t, 200, "").Body["data"].([]any)
	if len(recs) != 1 {
		t.Fatalf("audit records of m2: %v", recs)
	}
	// Another body with the same key is refused.
	h.call("POST", "/v1/members/m1/transfers", "telco/app", map[string]any{"to_member_id": "m2", "points": 8}, "Idempotency-Key", "gift-1").expect(t, 409, "idempotency-key-reused")
	h.audits(t, "m1", "m2")
}
