package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

// A partner app's journey: enroll, payments, balance with tier progress and
// expiring points, ledger pages with breakdowns, an activity, hold → capture,
// hold → cancel, reward catalog and a reward redemption, adjustments.
func TestMemberJourney(t *testing.T) {
	h := newHarness(t)
	h.seed("cust-42", 129900, 600000) // 12 + 120 (band: 2 per 100.00 from 5000.00)
	m := h.call("GET", "/v1/members/cust-42", "telco/app", nil).expect(t, 200, "")
	if got := num(t, m.Body, "balances", "available"); got != 132 {
		t.Fatalf("available %d, want 132: %s", got, m.Raw)
	}
	if str(m.Body, "tier", "name") != "base" || num(t, m.Body, "tier", "next", "points_needed") != 5000-132 {
		t.Fatalf("tier progress: %s", m.Raw)
	}
	if num(t, m.Body, "expiring", "points") != 0 {
		t.Fatalf("nothing expires within 30 days of a 365-day expiry: %s", m.Raw)
	}

	led := h.call("GET", "/v1/members/cust-42/ledger?limit=1", "telco/app", nil).expect(t, 200, "")
	data := led.Body["data"].([]any)
	if len(data) != 1 || num(t, data[0], "seq") != 2 || led.Body["next_cursor"] == nil {
		t.Fatalf("ledger page 1: %s", led.Raw)
	}
	bd := data[0].(map[string]any)["breakdown"].([]any)
	if len(bd) == 0 || str(bd[0], "kind") != "earn" {
		t.Fatalf("breakdown: %s", led.Raw)
	}
	led2 := h.call("GET", "/v1/members/cust-42/ledger?limit=1&cursor="+str(led.Body, "next_cursor"), "telco/app", nil).expect(t, 200, "")
	if d := led2.Body["data"].([]any); len(d) != 1 || num(t, d[0], "seq") != 1 {
		t.Fatalf("ledger page 2: %s", led2.Raw)
	}

	h.call("POST", "/v1/members/cust-42/activities", "telco/app", map[string]any{"name": "autopay_enabled"}).expect(t, 201, "")
	h.call("POST", "/v1/members/cust-42/activities", "telco/app", map[string]any{"name": "autopay_enabled"}).expect(t, 409, "conflict")

	hold := h.call("POST", "/v1/members/cust-42/redemptions", "telco/app", map[string]any{"points": 100}).expect(t, 201, "")
	if num(t, hold.Body, "balances", "held") != 100 || str(hold.Body, "redemption", "status") != "held" {
		t.Fatalf("hold: %s", hold.Raw)
	}
	rid := str(hold.Body, "redemption", "id")
	h.call("POST", "/v1/members/cust-42/redemptions/"+rid+"/capture", "telco/app", nil).expect(t, 200, "")
	h.call("POST", "/v1/members/cust-42/redemptions/"+rid+"/cancel", "telco/app", nil).expect(t, 409, "conflict")

	credit := h.call("POST", "/v1/members/cust-42/redemptions", "telco/app", map[string]any{"points": 50, "as": "bill_credit"}).expect(t, 201, "")
	if num(t, credit.Body, "redemption", "value", "amount_minor") != 500 { // 50 points × 10 minor
		t.Fatalf("bill credit value: %s", credit.Raw)
	}
	h.call("POST", "/v1/members/cust-42/redemptions/"+str(credit.Body, "redemption", "id")+"/cancel", "telco/app", nil).expect(t, 200, "")

	h.call("PUT", "/v1/rewards", "telco/admin", map[string]any{"rewards": []any{
		map[string]any{"id": "sim-upgrade", "name": "Free month", "cost": 300, "stock": 1},
	}}).expect(t, 200, "")
	rw := h.call("POST", "/v1/members/cust-42/redemptions", "telco/app", map[string]any{"reward_id": "sim-upgrade", "capture": true}).expect(t, 201, "")
	if num(t, rw.Body, "balances", "available") != 132+300-100-300 {
		t.Fatalf("after the reward: %s", rw.Raw)
	}
	h.call("POST", "/v1/members/cust-42/redemptions", "telco/app", map[string]any{"reward_id": "sim-upgrade"}).expect(t, 409, "out-of-stock")

	adj := h.call("POST", "/v1/members/cust-42/adjustments", "telco/admin", map[string]any{"points": -30, "reason": "duplicate bonus"}).expect(t, 201, "")
	if num(t, adj.Body, "balances", "available") != 2 || str(adj.Body, "entry", "reason") != "duplicate bonus" {
		t.Fatalf("adjustment: %s", adj.Raw)
	}
	h.call("POST", "/v1/members/cust-42/adjustments", "telco/admin", map[string]any{"points": -3, "reason": "x"}).expect(t, 422, "insufficient-points")

	p := h.call("PATCH", "/v1/members/cust-42", "telco/app", map[string]any{"status": "suspended"}).expect(t, 200, "")
	if str(p.Body, "status") != "suspended" {
		t.Fatalf("patch: %s", p.Raw)
	}
	h.call("POST", "/v1/members/cust-42/redemptions", "telco/app", map[string]any{"points": 1}).expect(t, 409, "member-inactive")
	if err := h.st.Audit(context.Background(), "telco", "cust-42"); err != nil {
		t.Fatal(err)
	}
}

func TestProgramVersionsAndSimulate(t *testing.T) {
	h := newHarness(t)
	h.seed("m1", 100000, 100000)
	v1 := num(t, h.call("GET", "/v1/program", "telco/app", nil).expect(t, 200, "").Body, "version")
	var doubled map[string]any
	_ = json.Unmarshal(programJSON(t), &doubled)
	doubled["earning"].([]any)[0].(map[string]any)["rate"] = map[string]any{"points": 2, "per_minor": 10000}
	sim := h.call("POST", "/v1/program/simulate", "telco/admin", map[string]any{"program": doubled, "member_id": "m1"}).expect(t, 200, "")
	if num(t, sim.Body, "current_points") != 20 || num(t, sim.Body, "proposed_points") != 40 {
		t.Fatalf("simulate: %s", sim.Raw)
	}
	if num(t, sim.Body, "liability_delta", "amount_minor") != 200 {
		t.Fatalf("liability delta: %s", sim.Raw)
	}
	// Nothing was written by the simulation.
	if num(t, h.call("GET", "/v1/members/m1", "telco/app", nil).Body, "balances", "available") != 20 {
		t.Fatal("simulation changed the balance")
	}
	put := h.call("PUT", "/v1/program", "telco/admin", doubled).expect(t, 200, "")
	if num(t, put.Body, "version") != v1+1 {
		t.Fatalf("version after PUT: %s", put.Raw)
	}
	h.call("POST", "/v1/events", "telco/app", event("telco", "m1", "after", 100000)).expect(t, 201, "")
	if got := num(t, h.call("GET", "/v1/members/m1", "telco/app", nil).Body, "balances", "available"); got != 40 {
		t.Fatalf("after the new program: %d, want 40", got)
	}
}

func TestIdempotency(t *testing.T) {
	h := newHarness(t)
	h.seed("m1", 1000000) // 200 points
	body := map[string]any{"points": 10, "capture": true}
	first := h.call("POST", "/v1/members/m1/redemptions", "telco/app", body, "Idempotency-Key", "k-1").expect(t, 201, "")
	again := h.call("POST", "/v1/members/m1/redemptions", "telco/app", body, "Idempotency-Key", "k-1").expect(t, 201, "")
	if string(first.Raw) != string(again.Raw) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay differs:\n%s\n%s", first.Raw, again.Raw)
	}
	if got := num(t, h.call("GET", "/v1/members/m1", "telco/app", nil).Body, "balances", "available"); got != 190 {
		t.Fatalf("replay redeemed twice: available %d", got)
	}
	h.call("POST", "/v1/members/m1/redemptions", "telco/app", map[string]any{"points": 11, "capture": true}, "Idempotency-Key", "k-1").expect(t, 409, "idempotency-key-reused")
	// A client error is remembered too; another partner may use the same key.
	h.call("POST", "/v1/members/m1/redemptions", "telco/app", map[string]any{"points": 5000}, "Idempotency-Key", "k-2").expect(t, 422, "insufficient-points")
	h.call("POST", "/v1/members/m1/redemptions", "telco/app", map[string]any{"points": 5000}, "Idempotency-Key", "k-2").expect(t, 422, "insufficient-points")
	h.call("POST", "/v1/members", "other/app", map[string]any{"member_id": "m1"}, "Idempotency-Key", "k-1").expect(t, 201, "")
	// Ten concurrent requests with one key: exactly one redemption.
	var wg sync.WaitGroup
	var created atomic.Int64
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.call("POST", "/v1/members/m1/redemptions", "telco/app", map[string]any{"points": 1, "capture": true}, "Idempotency-Key", "k-3")
			if r.Status == 201 {
				created.Add(1)
			} else if r.Status != 409 {
				t.Errorf("concurrent same key: %d %s", r.Status, r.Raw)
			}
		}()
	}
	wg.Wait()
	if got := num(t, h.call("GET", "/v1/members/m1", "telco/app", nil).Body, "balances", "available"); got != 189 {
		t.Fatalf("concurrent same key redeemed %d points, want 1", 190-got)
	}
}

// 100 concurrent redemptions over HTTP: exactly floor(balance/cost) succeed,
// the rest get 422 insufficient-points, and the balance ends exact.
func TestConcurrentRedemptionsHTTP(t *testing.T) {
	h := newHarness(t)
	h.seed("m1", 500000, 500000, 200000) // 100 + 100 + 20 = 220 points (band from 5000.00: 2 per 100.00)
	const cost = 15                      // 220/15 = 14 succeed, 10 left
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.call("POST", "/v1/members/m1/redemptions", "telco/app", map[string]any{"points": cost, "capture": i%3 == 0},
				"Idempotency-Key", fmt.Sprintf("c-%d", i))
			switch r.Status {
			case 201:
				ok.Add(1)
			case 422:
				refused.Add(1)
			default:
				t.Errorf("status %d: %s", r.Status, r.Raw)
			}
		}()
	}
	wg.Wait()
	m := h.call("GET", "/v1/members/m1", "telco/app", nil).expect(t, 200, "")
	if ok.Load() != 14 || refused.Load() != 86 || num(t, m.Body, "balances", "available") != 10 {
		t.Fatalf("%d ok, %d refused: %s", ok.Load(), refused.Load(), m.Raw)
	}
	if err := h.st.Audit(context.Background(), "telco", "m1"); err != nil {
		t.Fatal(err)
	}
}

func TestRequestLimits(t *testing.T) {
	h := newHarness(t)
	big := `{"member_id":"x","tags":["` + strings.Repeat("a", 300*1024) + `"]}`
	h.call("POST", "/v1/members", "telco/app", big).expect(t, 413, "request-too-large")
	r := h.call("POST", "/v1/members", "telco/app", `{"member_id":"x"} {"member_id":"y"}`)
	r.expect(t, 400, "malformed-request")
	h.call("POST", "/v1/members", "telco/app", `{"member_id":"x"}`, "Content-Type", "text/plain").expect(t, 415, "unsupported-media-type")
}

// The same handler through the Lambda adapter, fed with the API Gateway HTTP
// API (payload 2.0) samples of events/.
func TestLambdaAdapterWithSampleEvents(t *testing.T) {
	h := newHarness(t)
	h.seed("cust-42", 129900)
	adapter := httpadapter.NewV2(h.handler)
	cases := []struct {
		file   string
		status int
	}{
		{"apigw-get-member.json", 200},
		{"apigw-redeem.json", 201},
		{"apigw-no-auth.json", 401},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "..", "events", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Headers["authorization"] != "" {
				ev.Headers["authorization"] = "Bearer " + h.keys["telco/app"]
			}
			resp, err := adapter.ProxyWithContext(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, resp.Body)
			}
			if !json.Valid([]byte(resp.Body)) {
				t.Fatalf("body is not JSON: %s", resp.Body)
			}
			// The request id is API Gateway's, so that a reply's
			// X-Request-Id finds its line in the access log.
			if got := resp.Headers["X-Request-Id"]; got != ev.RequestContext.RequestID || got == "" {
				t.Fatalf("X-Request-Id %q, want API Gateway's %q", got, ev.RequestContext.RequestID)
			}
		})
	}
}
