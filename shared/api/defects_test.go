package api_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// An event sent with one partner's key never writes under another partner:
// whatever kind of bad body names telco, the rejection is recorded under the
// sender (other), with the claimed partner kept as data, and telco's
// rejected events stay as they were (issue #9, item 1).
func TestEventRejectionsStayWithTheSender(t *testing.T) {
	h := newHarness(t)
	h.seed("m1", 100000)
	mutate := func(f func(ev, d map[string]any)) map[string]any {
		ev := event("telco", "m1", "x", 100000)
		f(ev, ev["data"].(map[string]any))
		return ev
	}
	cases := []struct {
		name   string
		body   any
		status int
		reason string
	}{
		{"negative amount", mutate(func(_, d map[string]any) { d["amount_minor"] = -5 }), 422, "invalid_amount"},
		{"unknown currency", mutate(func(_, d map[string]any) { d["currency"] = "ZZZ" }), 422, "unknown_currency"},
		{"bad member id", mutate(func(_, d map[string]any) { d["member_id"] = "" }), 422, "invalid_data"},
		{"unsupported type", mutate(func(ev, _ map[string]any) { ev["type"] = "payment.failed" }), 422, "unsupported_type"},
		{"bad envelope", mutate(func(ev, _ map[string]any) { delete(ev, "specversion") }), 422, "invalid_cloudevent"},
		{"refund naming telco", mutate(func(ev, d map[string]any) { ev["type"] = "payment.refunded"; d["refund_of"] = "m1-p0" }), 400, "partner_mismatch"},
		{"valid but another partner's", event("telco", "m1", "sneaky", 100000), 400, "partner_mismatch"},
		{"malformed json", `{"data":{"partner_id":"telco"`, 422, "malformed_json"},
		{"unknown partner", mutate(func(_, d map[string]any) { d["partner_id"] = "nobody" }), 400, "partner_mismatch"},
	}
	before := h.call("GET", "/v1/rejected-events", "telco/admin", nil).expect(t, 200, "").Raw
	memberBefore := h.call("GET", "/v1/members/m1", "telco/app", nil).expect(t, 200, "").Raw
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := h.call("POST", "/v1/events", "other/app", c.body, "Idempotency-Key", fmt.Sprintf("k-%d", i))
			if got.Status != c.status {
				t.Fatalf("status %d, want %d: %s", got.Status, c.status, got.Raw)
			}
			list := h.call("GET", "/v1/rejected-events", "other/admin", nil).expect(t, 200, "")
			data, _ := list.Body["data"].([]any)
			if len(data) != i+1 {
				t.Fatalf("other has %d rejections after %d bad events: %s", len(data), i+1, list.Raw)
			}
			found := false
			for _, d := range data {
				r := d.(map[string]any)
				if r["reason"] == c.reason && str(r, "partner_id") == "other" && strings.Contains(str(r, "body"), `"partner_id":"`) {
					found = true
					if c.reason != "malformed_json" && str(r, "claimed_partner_id") == "" {
						t.Fatalf("rejection %s does not keep the claimed partner: %v", c.reason, r)
					}
				}
			}
			if !found {
				t.Fatalf("no %s rejection under other: %s", c.reason, list.Raw)
			}
		})
	}
	if after := h.call("GET", "/v1/rejected-events", "telco/admin", nil).expect(t, 200, "").Raw; string(after) != string(before) {
		t.Fatalf("telco's rejected events changed:\n%s\n%s", before, after)
	}
	if after := h.call("GET", "/v1/members/m1", "telco/app", nil).expect(t, 200, "").Raw; string(after) != string(memberBefore) {
		t.Fatalf("telco's member changed:\n%s\n%s", memberBefore, after)
	}
}

// An unknown activity is a validation error that names the field, like every
// other validation error (issue #9, item 5; checkOpenAPI also checks every
// validation-error response of every API test for errors[]).
func TestUnknownActivityNamesTheField(t *testing.T) {
	h := newHarness(t)
	h.seed("m1")
	got := h.call("POST", "/v1/members/m1/activities", "telco/app", map[string]any{"name": "moon_landing"}).expect(t, 400, "validation-error")
	errs, _ := got.Body["errors"].([]any)
	if len(errs) != 1 || str(errs[0], "field") != "name" || str(errs[0], "message") == "" {
		t.Fatalf("errors = %v, want one naming the field name: %s", errs, got.Raw)
	}
}

// After a GDPR erase the id never comes back through the API (issue #9, item
// 2): the payment applied before, posted again, and a new one are rejected
// member_erased (recorded); enrolling the id is 409 member-erased; an activity
// is 404 (the member does not exist) — and nothing is created.
func TestErasedMemberStaysErasedThroughTheAPI(t *testing.T) {
	h := newHarness(t)
	h.seed("m1", 100000)
	h.call("DELETE", "/v1/members/m1/data", "telco/admin", nil).expect(t, 200, "")
	for i, ev := range []map[string]any{event("telco", "m1", "m1-p0", 100000), event("telco", "m1", "later", 250000)} {
		got := h.call("POST", "/v1/events", "telco/app", ev, "Idempotency-Key", fmt.Sprintf("erased-%d", i)).expect(t, 422, "event-rejected")
		if got.Body["reason"] != "member_erased" {
			t.Fatalf("reason %v, want member_erased: %s", got.Body["reason"], got.Raw)
		}
	}
	h.call("POST", "/v1/members", "telco/app", map[string]any{"member_id": "m1"}).expect(t, 409, "member-erased")
	h.call("POST", "/v1/members/m1/activities", "telco/app", map[string]any{"name": "autopay_enabled"}).expect(t, 404, "not-found")
	h.call("GET", "/v1/members/m1", "telco/app", nil).expect(t, 404, "not-found")
	rej := h.call("GET", "/v1/rejected-events", "telco/admin", nil).expect(t, 200, "")
	if data, _ := rej.Body["data"].([]any); len(data) != 2 {
		t.Fatalf("want 2 member_erased rejections: %s", rej.Raw)
	}
	// Another id enrolls as usual.
	h.call("POST", "/v1/members", "telco/app", map[string]any{"member_id": "m1-new"}).expect(t, 201, "")
}

// GET /v1/members/{id} counts points expiring for inactivity (issue #9, item
// 7): with expiry.inactivity_days 20, every point expires 20 days after the
// last activity, and the member view says so (it used to show nothing).
func TestMemberViewShowsInactivityExpiry(t *testing.T) {
	h := newHarness(t)
	var prog map[string]any
	if err := jsonUnmarshal(programJSON(t), &prog); err != nil {
		t.Fatal(err)
	}
	prog["expiry"] = map[string]any{"rolling_days": 365, "inactivity_days": 20, "warn_days": 7}
	h.call("PUT", "/v1/program", "telco/admin", prog).expect(t, 200, "")
	h.seed("m1", 100000, 200000)
	got := h.call("GET", "/v1/members/m1", "telco/app", nil).expect(t, 200, "")
	exp, _ := got.Body["expiring"].(map[string]any)
	if num(t, exp, "points") != 30 || num(t, got.Body, "balances", "available") != 30 {
		t.Fatalf("expiring %v of available %d, want all 30: %s", exp, num(t, got.Body, "balances", "available"), got.Raw)
	}
	lots, _ := exp["lots"].([]any)
	want := now.AddDate(0, 0, 20).Format(time.RFC3339)
	for _, l := range lots {
		if str(l, "reason") != "inactivity" || str(l, "expires_at") != want {
			t.Fatalf("lot %v, want inactivity at %s", l, want)
		}
	}
}

// GET /v1/members/{id} shows pending points as available from the second
// their refund window ends, before any write has booked the release (issue
// #11: no job visits a member to release its points; its next write books
// the release, and every read applies it).
func TestMemberViewReleasesAtItsSecond(t *testing.T) {
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	h := buildWith(t, harnessOptions{clock: func() time.Time { return time.Unix(0, clock.Load()).UTC() }})
	t.Cleanup(func() { checkOpenAPI(t, h.exchanges()) })
	var prog map[string]any
	if err := json.Unmarshal(programJSON(t), &prog); err != nil {
		t.Fatal(err)
	}
	prog["pending_days"] = 14
	h.call("PUT", "/v1/program", "telco/admin", prog).expect(t, 200, "")
	h.seed("m1", 129900)
	view := func() (avail, pend float64) {
		b := h.call("GET", "/v1/members/m1", "telco/app", nil).expect(t, 200, "").Body["balances"].(map[string]any)
		return b["available"].(float64), b["pending"].(float64)
	}
	if a, p := view(); a != 0 || p == 0 {
		t.Fatalf("at once: available %v pending %v", a, p)
	}
	release := now.AddDate(0, 0, 14)
	clock.Store(release.Add(-time.Second).UnixNano())
	if a, _ := view(); a != 0 {
		t.Fatalf("a second early: available %v", a)
	}
	clock.Store(release.UnixNano())
	a, p := view()
	if a == 0 || p != 0 {
		t.Fatalf("at the release second: available %v pending %v", a, p)
	}
	led := h.call("GET", "/v1/members/m1/ledger", "telco/app", nil).expect(t, 200, "")
	if n := len(led.Body["data"].([]any)); n != 1 {
		t.Fatalf("%d ledger entries: a read booked something", n)
	}
	// The next write books it: a redemption of all of it succeeds.
	h.call("POST", "/v1/members/m1/redemptions", "telco/app", map[string]any{"points": int(a), "capture": true}).expect(t, 201, "")
	if a, p := view(); a != 0 || p != 0 {
		t.Fatalf("after redeeming it all: available %v pending %v", a, p)
	}
}

// wholeNumber is the JSON number at path, failing unless it is one and whole
// (not a string, not "1.5").
func wholeNumber(t *testing.T, v any, path ...string) int64 {
	t.Helper()
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) {
		t.Fatalf("%v at %v is not a whole JSON number", v, path)
	}
	return int64(f)
}

// Money values are whole minor units of their currency, JSON integers (issue
// #9, item 8): a bill credit of 3 points at 0.5 JPY is 1 yen (rounded down:
// what is paid out never exceeds the points' value), never "1.5"; a simulated
// liability is rounded half to even; a non-payable currency is
// unknown_currency in a program and in a payment.
func TestMoneyIsWholeMinorUnits(t *testing.T) {
	h := newHarness(t)
	var prog map[string]any
	if err := jsonUnmarshal(programJSON(t), &prog); err != nil {
		t.Fatal(err)
	}
	prog["point_value"] = map[string]any{"minor": "0.5", "currency": "JPY"}
	h.call("PUT", "/v1/program", "telco/admin", prog).expect(t, 200, "")
	h.seed("m1", 100000) // 10 points

	credit := h.call("POST", "/v1/members/m1/redemptions", "telco/app", map[string]any{"points": 3, "as": "bill_credit", "capture": true}).expect(t, 201, "")
	if got := wholeNumber(t, credit.Body, "redemption", "value", "amount_minor"); got != 1 || str(credit.Body, "redemption", "value", "currency") != "JPY" {
		t.Fatalf("bill credit of 3 × 0.5 JPY: %s", credit.Raw)
	}
	hold := h.call("POST", "/v1/members/m1/redemptions", "telco/app", map[string]any{"points": 5, "as": "bill_credit"}).expect(t, 201, "")
	if got := wholeNumber(t, hold.Body, "redemption", "value", "amount_minor"); got != 2 { // 2.5 yen, rounded down
		t.Fatalf("bill credit hold of 5 × 0.5 JPY: %s", hold.Raw)
	}

	// 7 points at 0.5 yen: 3.5 → 4 (half to even); the current program's 7 too.
	sim := h.call("POST", "/v1/program/simulate", "telco/admin", map[string]any{"program": prog, "payments": []any{event("telco", "m9", "sim-1", 70000)}}).expect(t, 200, "")
	if c, p, d := wholeNumber(t, sim.Body, "current_liability", "amount_minor"), wholeNumber(t, sim.Body, "proposed_liability", "amount_minor"),
		wholeNumber(t, sim.Body, "liability_delta", "amount_minor"); c != 4 || p != 4 || d != 0 {
		t.Fatalf("simulated liability: %s", sim.Raw)
	}

	for _, code := range []string{"XAU", "XTS", "XXX", "DEM"} {
		prog["point_value"] = map[string]any{"minor": "1", "currency": code}
		bad := h.call("PUT", "/v1/program", "telco/admin", prog).expect(t, 400, "validation-error")
		errs, _ := bad.Body["errors"].([]any)
		if len(errs) != 1 || str(errs[0], "field") != "point_value.currency" || !strings.HasPrefix(str(errs[0], "message"), "unknown_currency") {
			t.Fatalf("point value in %s: %s", code, bad.Raw)
		}
		ev := event("telco", "m1", "pay-"+code, 100000)
		ev["data"].(map[string]any)["currency"] = code
		rej := h.call("POST", "/v1/events", "telco/app", ev).expect(t, 422, "event-rejected")
		if rej.Body["reason"] != "unknown_currency" {
			t.Fatalf("payment in %s: %s", code, rej.Raw)
		}
	}
}
