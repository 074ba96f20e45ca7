package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
	"github.com/accrue/accrue/shared/store"
)

// testProgram: 1 point per 100.00 of any payment, auto-enroll, no caps.
const testProgram = `{
  "name": "Test",
  "auto_enroll": true,
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 10000}}],
  "point_value": {"minor": "1", "currency": "RUB"}
}`

var t0 = time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC)

type env struct {
	table  string
	client *dynamodb.Client
	st     *store.Store
}

// newEnv creates a fresh table on DynamoDB Local and a store on it with the
// given programs (partner id → program JSON).
func newEnv(t *testing.T, programs map[string]string, opts ...store.Option) *env {
	t.Helper()
	c := awstest.Client(t)
	table := awstest.NewTable(t, c, store.CreateTableInput)
	e := &env{table: table, client: c}
	e.st = store.New(c, table, append([]store.Option{store.WithClock(func() time.Time { return t0 })}, opts...)...)
	for partner, js := range programs {
		p, err := program.Parse([]byte(js))
		if err != nil {
			t.Fatalf("program %s: %v", partner, err)
		}
		if _, err := e.st.PutProgram(context.Background(), partner, p); err != nil {
			t.Fatalf("put program %s: %v", partner, err)
		}
	}
	return e
}

func pay(partner, member, id string, amount int64) payment.Payment {
	return payment.Payment{
		EventID: "evt-" + id, Source: "test", Type: payment.TypeSucceeded, Time: t0,
		PartnerID: partner, MemberID: member, PaymentID: id, AmountMinor: amount,
		Currency: "RUB", Category: "telecom",
	}
}

func refund(partner, member, id, of string, amount int64) payment.Payment {
	p := pay(partner, member, id, amount)
	p.Type, p.RefundOf = payment.TypeRefunded, of
	return p
}

func (e *env) member(t *testing.T, partner, id string) ledger.Member {
	t.Helper()
	m, err := e.st.Member(context.Background(), partner, id)
	if err != nil {
		t.Fatalf("member %s/%s: %v", partner, id, err)
	}
	return m
}

func (e *env) audit(t *testing.T, partner, member string) {
	t.Helper()
	if err := e.st.Audit(context.Background(), partner, member); err != nil {
		t.Fatalf("invariants: %v", err)
	}
}

func mustApply(t *testing.T, st *store.Store, p payment.Payment) store.Outcome {
	t.Helper()
	out, err := st.Apply(context.Background(), p)
	if err != nil {
		t.Fatalf("apply %s: %v", p.PaymentID, err)
	}
	return out
}

// Invariant 3: the same payment event delivered 20 times, 10 of them at once,
// accrues exactly once.
func TestSameEventAccruesOnce(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": testProgram})
	ev := pay("telco", "cust-42", "pay-9001", 129900) // 12.99 points → 12

	var applied, dups atomic.Int64
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := e.st.Apply(context.Background(), ev)
			if err != nil {
				t.Errorf("concurrent apply: %v", err)
				return
			}
			if out.Duplicate {
				dups.Add(1)
			} else {
				applied.Add(1)
			}
		}()
	}
	wg.Wait()
	for range 10 {
		resent := ev
		resent.EventID = "evt-resent" // same payment, new event id: still the same payment
		if out := mustApply(t, e.st, resent); !out.Duplicate {
			t.Fatalf("sequential redelivery was applied again")
		} else {
			dups.Add(1)
		}
	}
	if applied.Load() != 1 || dups.Load() != 19 {
		t.Fatalf("applied %d times, %d duplicates; want 1 and 19", applied.Load(), dups.Load())
	}
	m := e.member(t, "telco", "cust-42")
	if m.Available != 12 || m.Lifetime != 12 || m.Seq != 1 {
		t.Fatalf("member = avail %d lifetime %d seq %d; want 12, 12, 1", m.Available, m.Lifetime, m.Seq)
	}
	e.audit(t, "telco", "cust-42")
}

// Invariants 1 and 4 under concurrency: 50 accruals for one member at once sum
// exactly, each with its own ledger entry.
func TestConcurrentAccrualsSumExactly(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": testProgram})
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// amounts 100.00 .. 149.00 → 1 point each; plus i*10000 → i extra
			ev := pay("telco", "cust-1", fmt.Sprintf("pay-%03d", i), int64(10000+i*10000))
			if _, err := e.st.Apply(context.Background(), ev); err != nil {
				t.Errorf("apply %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	want := int64(n * (n + 1) / 2) // Σ (i+1)
	m := e.member(t, "telco", "cust-1")
	if m.Available != want || m.Lifetime != want || m.Seq != n {
		t.Fatalf("available %d lifetime %d seq %d; want %d, %d, %d", m.Available, m.Lifetime, m.Seq, want, want, n)
	}
	e.audit(t, "telco", "cust-1")
}

// Partner isolation: the same member id under two partners never mixes.
func TestPartnerIsolation(t *testing.T) {
	doubleRate := `{"name":"B","auto_enroll":true,"earning":[{"id":"b","rate":{"points":2,"per_minor":10000}}],"point_value":{"minor":"1","currency":"RUB"}}`
	e := newEnv(t, map[string]string{"alpha": testProgram, "beta": doubleRate})
	mustApply(t, e.st, pay("alpha", "cust-42", "pay-1", 100000)) // 10
	mustApply(t, e.st, pay("beta", "cust-42", "pay-1", 100000))  // 20, same payment id: another partner's
	if a, b := e.member(t, "alpha", "cust-42"), e.member(t, "beta", "cust-42"); a.Available != 10 || b.Available != 20 {
		t.Fatalf("alpha %d beta %d; want 10 and 20", a.Available, b.Available)
	}
	// A refund sent under beta for alpha's payment reverses beta's payment only.
	mustApply(t, e.st, refund("beta", "cust-42", "ref-1", "pay-1", 100000))
	if a, b := e.member(t, "alpha", "cust-42"), e.member(t, "beta", "cust-42"); a.Available != 10 || b.Available != 0 {
		t.Fatalf("after beta's refund: alpha %d beta %d; want 10 and 0", a.Available, b.Available)
	}
	for _, p := range []string{"alpha", "beta"} {
		es, err := e.st.Entries(context.Background(), p, "cust-42")
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range es {
			if en.PartnerID != p {
				t.Fatalf("partner %s sees an entry of %s", p, en.PartnerID)
			}
		}
		e.audit(t, p, "cust-42")
	}
	// An unknown partner is refused; its payment is stored nowhere.
	if _, err := e.st.Apply(context.Background(), pay("gamma", "cust-42", "pay-1", 100)); !errors.Is(err, store.ErrUnknownPartner) {
		t.Fatalf("unknown partner: err = %v", err)
	}
}

func TestRefunds(t *testing.T) {
	type step struct {
		ev        payment.Payment
		wantErr   error
		wantAvail int64
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"partial refund reverses proportionally", []step{
			{ev: pay("telco", "m", "p1", 129900), wantAvail: 12},
			{ev: refund("telco", "m", "r1", "p1", 50000), wantAvail: 8}, // floor(12*50000/129900)=4
		}},
		{"partial refunds add up to the whole, never more", []step{
			{ev: pay("telco", "m", "p1", 100000), wantAvail: 10},
			{ev: refund("telco", "m", "r1", "p1", 33333), wantAvail: 7}, // floor(10*33333/100000)=3
			{ev: refund("telco", "m", "r2", "p1", 33333), wantAvail: 4}, // floor(10*66666/100000)=6 → 3 more
			{ev: refund("telco", "m", "r3", "p1", 33334), wantAvail: 0}, // all 10
			{ev: refund("telco", "m", "r4", "p1", 1), wantErr: ledger.ErrRefundExceeds, wantAvail: 0},
		}},
		{"refund consumes the payment's own lot first", []step{
			{ev: pay("telco", "m", "p1", 100000), wantAvail: 10},
			{ev: pay("telco", "m", "p2", 200000), wantAvail: 30},
			{ev: refund("telco", "m", "r2", "p2", 200000), wantAvail: 10},
		}},
		{"refund in another currency is refused", []step{
			{ev: pay("telco", "m", "p1", 100000), wantAvail: 10},
			{ev: func() payment.Payment { r := refund("telco", "m", "r1", "p1", 100); r.Currency = "USD"; return r }(), wantErr: ledger.ErrRefundCurrency, wantAvail: 10},
		}},
		{"refund before its payment is retried, then applies", []step{
			{ev: refund("telco", "m", "r1", "p1", 100000), wantErr: store.ErrOriginalNotFound},
			{ev: pay("telco", "m", "p0", 100000), wantAvail: 10},
			{ev: refund("telco", "m", "r1", "p1", 100000), wantErr: store.ErrOriginalNotFound, wantAvail: 10},
			{ev: pay("telco", "m", "p1", 100000), wantAvail: 20},
			{ev: refund("telco", "m", "r1", "p1", 100000), wantAvail: 10},
			{ev: refund("telco", "m", "r1", "p1", 100000), wantAvail: 10}, // redelivered: no-op
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, map[string]string{"telco": testProgram})
			for i, s := range tc.steps {
				_, err := e.st.Apply(context.Background(), s.ev)
				if !errors.Is(err, s.wantErr) {
					t.Fatalf("step %d (%s %s): err = %v, want %v", i, s.ev.Type, s.ev.PaymentID, err, s.wantErr)
				}
				if m, err := e.st.Member(context.Background(), "telco", "m"); err == nil {
					if m.Available != s.wantAvail {
						t.Fatalf("step %d: available %d, want %d", i, m.Available, s.wantAvail)
					}
					e.audit(t, "telco", "m")
				} else if s.wantAvail != 0 {
					t.Fatalf("step %d: %v", i, err)
				}
			}
		})
	}
}

// A refund redelivered concurrently reverses once.
func TestConcurrentDuplicateRefunds(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": testProgram})
	mustApply(t, e.st, pay("telco", "m", "p1", 100000))
	var wg sync.WaitGroup
	var applied atomic.Int64
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := e.st.Apply(context.Background(), refund("telco", "m", "r1", "p1", 40000))
			if err != nil {
				t.Errorf("refund: %v", err)
			} else if !out.Duplicate {
				applied.Add(1)
			}
		}()
	}
	wg.Wait()
	if m := e.member(t, "telco", "m"); applied.Load() != 1 || m.Available != 6 {
		t.Fatalf("applied %d times, available %d; want once and 6", applied.Load(), m.Available)
	}
	e.audit(t, "telco", "m")
}

func TestEnrollmentAndStatus(t *testing.T) {
	noAuto := `{"name":"N","auto_enroll":false,"earning":[{"id":"b","rate":{"points":1,"per_minor":100}}],"point_value":{"minor":"1","currency":"RUB"}}`
	e := newEnv(t, map[string]string{"closed": noAuto})
	_, err := e.st.Apply(context.Background(), pay("closed", "stranger", "p1", 1000))
	if !errors.Is(err, store.ErrMemberNotFound) {
		t.Fatalf("payment of an unknown member without auto-enroll: err = %v", err)
	}
}

func TestTransientFaults(t *testing.T) {
	cases := []struct {
		name    string
		n       int64
		fault   func() error
		wantErr error
	}{
		{"transaction conflicts are retried", 5, awstest.TransactionConflict, nil},
		{"throttling is retried", 2, awstest.Throttled, nil},
		{"endless conflicts give up with a transient error", 1000, awstest.TransactionConflict, store.ErrContention},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &awstest.Faults{Make: tc.fault}
			f.Remaining.Store(tc.n)
			base := newEnv(t, map[string]string{"telco": testProgram})
			client := dynamodb.New(base.client.Options(), f.Option)
			st := store.New(client, base.table, store.WithClock(func() time.Time { return t0 }))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := st.Apply(ctx, pay("telco", "m", "p1", 100000))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v (after %d calls)", err, tc.wantErr, f.Calls.Load())
			}
			m, merr := base.st.Member(context.Background(), "telco", "m")
			switch {
			case tc.wantErr == nil && (merr != nil || m.Available != 10):
				t.Fatalf("after faults: member %+v, %v; want 10 available", m.Balances, merr)
			case tc.wantErr != nil && !errors.Is(merr, store.ErrMemberNotFound):
				t.Fatalf("a failed accrual left a member behind: %+v %v", m, merr)
			}
			if tc.wantErr == nil {
				base.audit(t, "telco", "m")
			}
		})
	}
}

// Hints read ahead for a batch may be stale by the time an event is applied:
// the conditional write notices and the accrual re-reads. Balances stay exact.
func TestStaleHints(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": testProgram})
	ctx := context.Background()
	first := pay("telco", "m", "p1", 100000)
	mustApply(t, e.st, first)
	second, third := pay("telco", "m", "p2", 200000), pay("telco", "new", "p3", 100000)
	h, err := e.st.Prefetch(ctx, []payment.Payment{second, third})
	if err != nil {
		t.Fatal(err)
	}
	// Another writer changes both members after the prefetch.
	mustApply(t, e.st, pay("telco", "m", "p-other", 300000))
	mustApply(t, e.st, pay("telco", "new", "p-other", 100000))
	for _, p := range []payment.Payment{second, third} {
		if out, err := e.st.ApplyHinted(ctx, p, h); err != nil || out.Duplicate {
			t.Fatalf("apply %s with stale hints: %+v %v", p.PaymentID, out, err)
		}
	}
	if m := e.member(t, "telco", "m"); m.Available != 60 || m.Seq != 3 {
		t.Fatalf("m: available %d seq %d, want 60 and 3", m.Available, m.Seq)
	}
	if m := e.member(t, "telco", "new"); m.Available != 20 || m.Seq != 2 {
		t.Fatalf("new: available %d seq %d, want 20 and 2", m.Available, m.Seq)
	}
	e.audit(t, "telco", "m")
	e.audit(t, "telco", "new")
}

// Program-wide budgets are shared by every member: 40 members accruing at once
// never spend more than the program's monthly budget or a campaign's budget.
func TestBudgetsUnderConcurrency(t *testing.T) {
	const budgeted = `{
	  "name": "Budgeted", "auto_enroll": true,
	  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 100}}],
	  "campaigns": [{"id": "launch", "starts_at": "2026-11-01T00:00:00Z", "ends_at": "2026-12-01T00:00:00Z",
	                 "bonus": 7, "budget": 50}],
	  "caps": {"program_monthly": 300},
	  "point_value": {"minor": "1", "currency": "RUB"}
	}`
	e := newEnv(t, map[string]string{"telco": budgeted})
	const members = 40
	var wg sync.WaitGroup
	for i := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 10 base points + 7 campaign bonus each, 17 × 40 = 680 wanted
			if _, err := e.st.Apply(context.Background(), pay("telco", fmt.Sprintf("m%02d", i), "p1", 1000)); err != nil {
				t.Errorf("apply: %v", err)
			}
		}()
	}
	wg.Wait()
	var total, campaign int64
	for i := range members {
		id := fmt.Sprintf("m%02d", i)
		es, err := e.st.Entries(context.Background(), "telco", id)
		if err != nil || len(es) != 1 {
			t.Fatalf("%s: %d entries, %v", id, len(es), err)
		}
		total += es[0].Points
		campaign += campaignCredited(es[0])
		e.audit(t, "telco", id)
	}
	if total != 300 {
		t.Fatalf("credited %d in all, want exactly the program budget 300", total)
	}
	if campaign > 50 {
		t.Fatalf("campaign credited %d, over its budget of 50", campaign)
	}
	assertBudgetSpent(t, e, "2026-11", "", total)
	assertBudgetSpent(t, e, "", "launch", campaign)
}

// campaignCredited is what an entry credited of its campaigns: the campaign
// lines less the part of a cap's cut they absorbed (rules.uncap takes a cap's
// cut from the campaigns first, so it consumes no campaign budget).
func campaignCredited(e ledger.Entry) int64 {
	var lines, cut int64
	for _, l := range e.Breakdown {
		switch l.Kind {
		case rules.KindCampaign:
			lines += l.Points
		case rules.KindCap:
			cut -= l.Points
		}
	}
	return max(lines-cut, 0)
}

// assertBudgetSpent checks a budget's counters (all shards) against what the
// entries credited of it: nothing is held or lost once accruals are done.
func assertBudgetSpent(t *testing.T, e *env, month, campaign string, want int64) {
	t.Helper()
	shards, err := e.st.BudgetSpent(context.Background(), "telco", month, campaign)
	var got int64
	for _, n := range shards {
		got += n
	}
	if err != nil || got != want {
		t.Fatalf("budget %s%s: counters say %d spent, entries credited %d (%v)", month, campaign, got, want, err)
	}
}
