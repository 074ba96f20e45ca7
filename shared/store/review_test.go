package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/store"
)

// reviewProgram: testProgram whose payments of 10000.00 RUB or more are held
// for review (1 point per 100.00: 20000.00 → 200 points held).
const reviewProgram = `{
  "name": "Review",
  "auto_enroll": true,
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 10000}}],
  "fraud": {"large_payment_minor": {"RUB": 1000000}},
  "point_value": {"minor": "1", "currency": "RUB"}
}`

// stepClock is a settable test clock: t0 plus an offset.
type stepClock struct{ offset atomic.Int64 }

func (c *stepClock) now() time.Time          { return t0.Add(time.Duration(c.offset.Load())) }
func (c *stepClock) set(d time.Duration)     { c.offset.Store(int64(d)) }
func (c *stepClock) option() store.Option    { return store.WithClock(c.now) }
func (c *stepClock) advance(d time.Duration) { c.offset.Add(int64(d)) }
func newStepClock() *stepClock               { return &stepClock{} }

// reviewQueueAll returns a partner's whole review queue, page by page.
func reviewQueueAll(t *testing.T, st *store.Store, partner string) []store.ReviewItem {
	t.Helper()
	var all []store.ReviewItem
	cursor := ""
	for {
		page, err := st.ReviewQueue(context.Background(), partner, 2, cursor)
		if err != nil {
			t.Fatalf("review queue of %s: %v", partner, err)
		}
		all = append(all, page.Items...)
		if page.Next == "" {
			return all
		}
		cursor = page.Next
	}
}

// partitionItems returns every item of one partition, read consistently.
func partitionItems(t *testing.T, e *env, pk string) []map[string]types.AttributeValue {
	t.Helper()
	var out []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(e.client, &dynamodb.QueryInput{
		TableName: aws.String(e.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("query %s: %v", pk, err)
		}
		out = append(out, page.Items...)
	}
	return out
}

// auditTrail returns the records of member actions in a partner's audit
// trail (program changes, for one, name no member).
func auditTrail(t *testing.T, e *env, partner string) []store.AuditRecord {
	t.Helper()
	var all, recs []store.AuditRecord
	if err := attributevalue.UnmarshalListOfMaps(partitionItems(t, e, "P#"+partner+"#AUDIT"), &all); err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.MemberID != "" {
			recs = append(recs, r)
		}
	}
	return recs
}

func onlyReviewItem(t *testing.T, st *store.Store, partner string) store.ReviewItem {
	t.Helper()
	q := reviewQueueAll(t, st, partner)
	if len(q) != 1 {
		t.Fatalf("review queue of %s has %d items, want 1: %+v", partner, len(q), q)
	}
	return q[0]
}

func TestReviewQueueAndApprove(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": reviewProgram})
	ctx := context.Background()
	mustApply(t, e.st, pay("telco", "m", "small", 100000)) // 10, available
	out := mustApply(t, e.st, pay("telco", "m", "big", 2000000))
	if out.Entry.State != ledger.LotReview || out.Member.Review != 200 || out.Member.Available != 10 {
		t.Fatalf("held accrual: lot %q, member %+v", out.Entry.State, out.Member.Balances)
	}
	e.audit(t, "telco", "m")

	it := onlyReviewItem(t, e.st, "telco")
	if it.ID == "" || it.MemberID != "m" || it.PaymentID != "big" || it.Points != 200 || len(it.Reasons) != 1 || it.Reasons[0] != "large_payment" {
		t.Fatalf("review item = %+v", it)
	}
	m, en, err := e.st.Approve(ctx, "telco", it.ID, "key_admin")
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	want := ledger.Balances{Review: -200, Available: 200, Lifetime: 200}
	if en.Kind != ledger.KindRelease || en.Points != 200 || en.Delta != want || en.Actor != "key_admin" || en.PaymentID != "big" {
		t.Fatalf("release entry = %+v", en)
	}
	if m.Available != 210 || m.Review != 0 || m.Lifetime != 210 || m.Rules.Qualifying != 210 || m.Seq != 3 {
		t.Fatalf("member after approve: %+v qualifying %d seq %d", m.Balances, m.Rules.Qualifying, m.Seq)
	}
	if got := e.member(t, "telco", "m"); got.Balances != m.Balances {
		t.Fatalf("stored member %+v, returned %+v", got.Balances, m.Balances)
	}
	e.audit(t, "telco", "m")
	es, err := e.st.Entries(ctx, "telco", "m")
	if err != nil {
		t.Fatal(err)
	}
	if last := es[len(es)-1]; last.Kind != ledger.KindRelease || es[1].State != ledger.LotAvailable || es[1].Remaining != 200 {
		t.Fatalf("ledger after approve: last %s, held lot %q %d", last.Kind, es[1].State, es[1].Remaining)
	}
	if q := reviewQueueAll(t, e.st, "telco"); len(q) != 0 {
		t.Fatalf("queue after approve: %+v", q)
	}
	recs := auditTrail(t, e, "telco")
	if len(recs) != 1 || recs[0].Action != store.AuditReviewApprove || recs[0].Actor != "key_admin" || recs[0].MemberID != "m" || recs[0].Points != 200 || recs[0].Entry != 3 {
		t.Fatalf("audit records = %+v", recs)
	}
	// The released points can be spent.
	if _, _, err := e.st.Redeem(ctx, "telco", "m", ledger.RedeemRequest{Points: 210, Capture: true}); err != nil {
		t.Fatalf("redeem released points: %v", err)
	}
	e.audit(t, "telco", "m")

	// Decided: a second approve or a reject finds nothing.
	if _, _, err := e.st.Approve(ctx, "telco", it.ID, "key_admin"); !errors.Is(err, store.ErrReviewNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second approve: err = %v, want ErrReviewNotFound", err)
	}
	if _, _, err := e.st.Reject(ctx, "telco", it.ID, "key_admin", "late"); !errors.Is(err, store.ErrReviewNotFound) {
		t.Fatalf("reject after approve: err = %v", err)
	}
	if m := e.member(t, "telco", "m"); m.Seq != 4 || m.Lifetime != 210 {
		t.Fatalf("a decided item changed the member: seq %d lifetime %d", m.Seq, m.Lifetime)
	}
}

func TestReviewReject(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": reviewProgram})
	ctx := context.Background()
	mustApply(t, e.st, pay("telco", "m", "small", 100000))
	mustApply(t, e.st, pay("telco", "m", "big", 2000000))
	it := onlyReviewItem(t, e.st, "telco")
	m, en, err := e.st.Reject(ctx, "telco", it.ID, "key_admin", "card reported stolen")
	if err != nil {
		t.Fatalf("reject: %v", err)
	}
	if en.Kind != ledger.KindReverse || en.Points != -200 || en.Delta != (ledger.Balances{Review: -200}) || en.Reason != "card reported stolen" || en.Actor != "key_admin" {
		t.Fatalf("reject entry = %+v", en)
	}
	if m.Available != 10 || m.Review != 0 || m.Lifetime != 10 || m.Rules.Qualifying != 10 {
		t.Fatalf("member after reject: %+v qualifying %d", m.Balances, m.Rules.Qualifying)
	}
	e.audit(t, "telco", "m")
	es, err := e.st.Entries(ctx, "telco", "m")
	if err != nil {
		t.Fatal(err)
	}
	if es[1].State != ledger.LotNone || es[1].Remaining != 0 || es[2].Reason != "card reported stolen" {
		t.Fatalf("after reject: held lot %q %d, entry reason %q", es[1].State, es[1].Remaining, es[2].Reason)
	}
	if q := reviewQueueAll(t, e.st, "telco"); len(q) != 0 {
		t.Fatalf("queue after reject: %+v", q)
	}
	recs := auditTrail(t, e, "telco")
	if len(recs) != 1 || recs[0].Action != store.AuditReviewReject || recs[0].Reason != "card reported stolen" || recs[0].Points != -200 {
		t.Fatalf("audit records = %+v", recs)
	}
	if _, _, err := e.st.Approve(ctx, "telco", it.ID, "key_admin"); !errors.Is(err, store.ErrReviewNotFound) {
		t.Fatalf("approve after reject: err = %v", err)
	}
}

// Approval repays debt first (like any available credit), counts toward the
// tier at once, and never downgrades.
func TestReviewApproveRepaysDebtAndUpgradesTier(t *testing.T) {
	tiered := `{
	  "name": "Tiered", "auto_enroll": true,
	  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 10000}}],
	  "tiers": [{"name": "base", "threshold": 0, "multiplier": 1}, {"name": "gold", "threshold": 100, "multiplier": 1}],
	  "qualifying_window_days": 365,
	  "fraud": {"large_payment_minor": {"RUB": 1000000}},
	  "point_value": {"minor": "1", "currency": "RUB"}
	}`
	e := newEnv(t, map[string]string{"telco": tiered})
	ctx := context.Background()
	mustApply(t, e.st, pay("telco", "m", "p1", 100000)) // 10
	if _, _, err := e.st.Redeem(ctx, "telco", "m", ledger.RedeemRequest{Points: 10, Capture: true}); err != nil {
		t.Fatal(err)
	}
	mustApply(t, e.st, refund("telco", "m", "r1", "p1", 100000)) // clawback: debt 10
	mustApply(t, e.st, pay("telco", "m", "big", 2000000))        // 200 held
	if m := e.member(t, "telco", "m"); m.Debt != 10 || m.Available != -10 || m.Review != 200 || m.Rules.Tier == "gold" {
		t.Fatalf("before approve: %+v tier %q", m.Balances, m.Rules.Tier)
	}
	m, en, err := e.st.Approve(ctx, "telco", onlyReviewItem(t, e.st, "telco").ID, "key_admin")
	if err != nil {
		t.Fatal(err)
	}
	if en.Delta != (ledger.Balances{Review: -200, Available: 200, Debt: -10, Lifetime: 200}) {
		t.Fatalf("release delta = %+v", en.Delta)
	}
	if m.Debt != 0 || m.Available != 190 || m.Rules.Tier != "gold" || m.Rules.Qualifying != 200 {
		t.Fatalf("after approve: %+v tier %q qualifying %d", m.Balances, m.Rules.Tier, m.Rules.Qualifying)
	}
	if n := len(en.Breakdown); n != 2 || en.Breakdown[1].Rule != "gold" {
		t.Fatalf("breakdown = %+v, want the approval and the tier change", en.Breakdown)
	}
	e.audit(t, "telco", "m")
}

// With a pending period, approved points stay pending until the refund window
// of the original accrual ends; after it they are available at once.
func TestReviewApprovePendingPeriod(t *testing.T) {
	pending := `{
	  "name": "Pending", "auto_enroll": true, "pending_days": 14,
	  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 10000}}],
	  "fraud": {"large_payment_minor": {"RUB": 1000000}},
	  "point_value": {"minor": "1", "currency": "RUB"}
	}`
	c := newStepClock()
	e := newEnv(t, map[string]string{"telco": pending}, c.option())
	ctx := context.Background()
	mustApply(t, e.st, pay("telco", "m", "early", 2000000))
	c.advance(time.Second)
	mustApply(t, e.st, pay("telco", "m", "late", 3000000))
	q := reviewQueueAll(t, e.st, "telco")
	if len(q) != 2 || q[0].PaymentID != "early" || q[1].PaymentID != "late" {
		t.Fatalf("queue (oldest first) = %+v", q)
	}

	c.set(24 * time.Hour) // inside the 14-day window
	m, en, err := e.st.Approve(ctx, "telco", q[0].ID, "key_admin")
	if err != nil {
		t.Fatal(err)
	}
	if en.Delta != (ledger.Balances{Review: -200, Pending: 200, Lifetime: 200}) || m.Pending != 200 || m.Available != 0 {
		t.Fatalf("approve inside the window: delta %+v member %+v", en.Delta, m.Balances)
	}
	es, err := e.st.Entries(ctx, "telco", "m")
	if err != nil {
		t.Fatal(err)
	}
	if lot := es[0]; lot.State != ledger.LotPending || lot.AvailableAt == nil || !lot.AvailableAt.Equal(t0.AddDate(0, 0, 14)) {
		t.Fatalf("pending lot = %q available at %v, want %v", lot.State, lot.AvailableAt, t0.AddDate(0, 0, 14))
	}
	e.audit(t, "telco", "m")

	c.set(20 * 24 * time.Hour) // the window has ended
	m, en, err = e.st.Approve(ctx, "telco", q[1].ID, "key_admin")
	if err != nil {
		t.Fatal(err)
	}
	// The first approval's 200 pending points came to their release time on
	// day 14 with no job visit: this write books their release first.
	if en.Delta != (ledger.Balances{Review: -300, Available: 300, Lifetime: 300}) || m.Available != 500 || m.Pending != 0 {
		t.Fatalf("approve after the window: delta %+v member %+v", en.Delta, m.Balances)
	}
	e.audit(t, "telco", "m")
}

// A partial refund of a held payment shrinks what the queue shows and what an
// approval releases; a hold refunded in full leaves the queue at once (issue
// #9, item 6: it used to stay with its original points, and approving it
// wrote a 0-point release).
func TestReviewAfterRefund(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": reviewProgram})
	ctx := context.Background()
	mustApply(t, e.st, pay("telco", "a", "big", 2000000))
	mustApply(t, e.st, refund("telco", "a", "r1", "big", 1000000)) // half: 100 of the held 200
	if it := onlyReviewItem(t, e.st, "telco"); it.Points != 100 || it.RefundedMinor != 1000000 {
		t.Fatalf("after a partial refund the queue shows %d points, %d refunded; want 100, 1000000", it.Points, it.RefundedMinor)
	}
	mustApply(t, e.st, refund("telco", "a", "r1", "big", 1000000)) // the same refund again: no change
	if it := onlyReviewItem(t, e.st, "telco"); it.Points != 100 {
		t.Fatalf("a duplicate refund changed the queue: %d points", it.Points)
	}
	_, en, err := e.st.Approve(ctx, "telco", onlyReviewItem(t, e.st, "telco").ID, "key_admin")
	if err != nil {
		t.Fatal(err)
	}
	if en.Points != 100 || e.member(t, "telco", "a").Available != 100 {
		t.Fatalf("approve after a partial refund released %d", en.Points)
	}
	e.audit(t, "telco", "a")

	mustApply(t, e.st, pay("telco", "b", "big", 2000000))
	mustApply(t, e.st, refund("telco", "b", "r1", "big", 1500000)) // 150 of 200
	mustApply(t, e.st, refund("telco", "b", "r2", "big", 500000))  // the rest
	if q := reviewQueueAll(t, e.st, "telco"); len(q) != 0 {
		t.Fatalf("a hold refunded in full is still queued: %+v", q)
	}
	if m := e.member(t, "telco", "b"); m.Review != 0 || m.Available != 0 || m.Lifetime != 0 {
		t.Fatalf("member after the held payment was refunded in full: %+v", m.Balances)
	}
	e.audit(t, "telco", "b")
}

// Five admins approving the same item at once: it applies exactly once.
func TestReviewConcurrentApprove(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": reviewProgram})
	mustApply(t, e.st, pay("telco", "m", "big", 2000000))
	id := onlyReviewItem(t, e.st, "telco").ID
	var ok, notFound atomic.Int64
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := e.st.Approve(context.Background(), "telco", id, fmt.Sprintf("key_%d", i))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, store.ErrReviewNotFound):
				notFound.Add(1)
			default:
				t.Errorf("approve %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	m := e.member(t, "telco", "m")
	if ok.Load() != 1 || notFound.Load() != 4 || m.Available != 200 || m.Lifetime != 200 || m.Seq != 2 {
		t.Fatalf("%d approved, %d not found; member %+v seq %d", ok.Load(), notFound.Load(), m.Balances, m.Seq)
	}
	if recs := auditTrail(t, e, "telco"); len(recs) != 1 {
		t.Fatalf("%d audit records, want 1", len(recs))
	}
	e.audit(t, "telco", "m")
}

// Approve and reject racing on one item: one of them wins, entirely.
func TestReviewApproveRejectRace(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": reviewProgram})
	mustApply(t, e.st, pay("telco", "m", "big", 2000000))
	id := onlyReviewItem(t, e.st, "telco").ID
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				_, _, errs[i] = e.st.Approve(context.Background(), "telco", id, "a")
			} else {
				_, _, errs[i] = e.st.Reject(context.Background(), "telco", id, "r", "no")
			}
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrReviewNotFound):
			t.Fatalf("decision %d: %v", i, err)
		}
	}
	m := e.member(t, "telco", "m")
	if won != 1 || m.Seq != 2 || m.Review != 0 || (m.Available != 200 && m.Available != 0) {
		t.Fatalf("%d decisions won; member %+v seq %d", won, m.Balances, m.Seq)
	}
	e.audit(t, "telco", "m")
}

func TestReviewPartnerIsolation(t *testing.T) {
	e := newEnv(t, map[string]string{"alpha": reviewProgram, "beta": reviewProgram})
	ctx := context.Background()
	mustApply(t, e.st, pay("alpha", "m", "big", 2000000))
	mustApply(t, e.st, pay("beta", "m", "small", 100000))
	it := onlyReviewItem(t, e.st, "alpha")
	if q := reviewQueueAll(t, e.st, "beta"); len(q) != 0 {
		t.Fatalf("beta sees alpha's review items: %+v", q)
	}
	if _, _, err := e.st.Approve(ctx, "beta", it.ID, "beta_admin"); !errors.Is(err, store.ErrReviewNotFound) {
		t.Fatalf("beta approving alpha's item: err = %v", err)
	}
	if _, _, err := e.st.Reject(ctx, "beta", it.ID, "beta_admin", "x"); !errors.Is(err, store.ErrReviewNotFound) {
		t.Fatalf("beta rejecting alpha's item: err = %v", err)
	}
	if _, _, err := e.st.Approve(ctx, "gamma", it.ID, "x"); !errors.Is(err, store.ErrReviewNotFound) {
		t.Fatalf("unknown partner approving: err = %v", err)
	}
	// A cursor of alpha's queue is no cursor of beta's.
	for i := range 3 {
		mustApply(t, e.st, pay("alpha", fmt.Sprintf("x%d", i), "big", 2000000))
	}
	page, err := e.st.ReviewQueue(ctx, "alpha", 1, "")
	if err != nil || page.Next == "" {
		t.Fatalf("alpha page: %+v %v", page, err)
	}
	if _, err := e.st.ReviewQueue(ctx, "beta", 1, page.Next); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("beta with alpha's cursor: err = %v", err)
	}
	if m := e.member(t, "alpha", "m"); m.Review != 200 || m.Seq != 1 {
		t.Fatalf("alpha's member changed: %+v", m.Balances)
	}
	if b := e.member(t, "beta", "m"); b.Seq != 1 || b.Available != 10 {
		t.Fatalf("beta's member changed: %+v", b.Balances)
	}
}

func TestReviewQueuePagination(t *testing.T) {
	c := newStepClock()
	e := newEnv(t, map[string]string{"telco": reviewProgram}, c.option())
	ctx := context.Background()
	const n = 5
	for i := range n {
		mustApply(t, e.st, pay("telco", fmt.Sprintf("m%d", n-i), fmt.Sprintf("big-%d", i), 2000000))
		c.advance(time.Minute)
	}
	var got []store.ReviewItem
	pages := 0
	for cursor := ""; ; {
		page, err := e.st.ReviewQueue(ctx, "telco", 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Items) > 2 {
			t.Fatalf("page of %d items with limit 2", len(page.Items))
		}
		got = append(got, page.Items...)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if len(got) != n || pages < 3 {
		t.Fatalf("%d items in %d pages, want %d in 3", len(got), pages, n)
	}
	seen := map[string]bool{}
	for i, it := range got {
		if it.PaymentID != fmt.Sprintf("big-%d", i) || seen[it.ID] {
			t.Fatalf("item %d = %+v (oldest first, ids unique)", i, it)
		}
		seen[it.ID] = true
		if i > 0 && it.HeldAt.Before(got[i-1].HeldAt) {
			t.Fatalf("not oldest first: %v before %v", it.HeldAt, got[i-1].HeldAt)
		}
	}
	// Deciding from the middle of the queue keeps the rest in order.
	if _, _, err := e.st.Reject(ctx, "telco", got[2].ID, "a", ""); err != nil {
		t.Fatal(err)
	}
	if rest := reviewQueueAll(t, e.st, "telco"); len(rest) != n-1 || rest[2].PaymentID != "big-3" {
		t.Fatalf("queue after a decision = %+v", rest)
	}
	for _, bad := range []string{"%%%", "bm90IGEgY3Vyc29y"} {
		if _, err := e.st.ReviewQueue(ctx, "telco", 2, bad); !errors.Is(err, store.ErrBadCursor) {
			t.Fatalf("cursor %q: err = %v", bad, err)
		}
	}
}

func TestReviewUnknownID(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": reviewProgram})
	ctx := context.Background()
	mustApply(t, e.st, pay("telco", "m", "big", 2000000))
	for _, id := range []string{"", "!!!", "bm90LWFuLWlk", "MjAyNi0xMS0wNVQxMDowMDowMC4wMDAwMDAwMDBaI20jb3RoZXI"} {
		if _, _, err := e.st.Approve(ctx, "telco", id, "a"); !errors.Is(err, store.ErrReviewNotFound) {
			t.Fatalf("approve %q: err = %v", id, err)
		}
		if _, _, err := e.st.Reject(ctx, "telco", id, "a", ""); !errors.Is(err, store.ErrReviewNotFound) {
			t.Fatalf("reject %q: err = %v", id, err)
		}
	}
	if m := e.member(t, "telco", "m"); m.Review != 200 || m.Seq != 1 {
		t.Fatalf("member changed: %+v", m.Balances)
	}
}
