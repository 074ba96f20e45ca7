package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/internal/ddbsim"
	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/store"
)

// mergeProgram: 1 point per 1.00, pending for 14 days, lots expiring after
// 365 days, tiers base and silver (1000 qualifying points in 365 days), a
// once-only activity, transfers.
const mergeProgram = `{
  "name": "Merge", "auto_enroll": true, "pending_days": 14,
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 100}}],
  "expiry": {"rolling_days": 365},
  "tiers": [{"name": "base", "threshold": 0, "multiplier": "1"}, {"name": "silver", "threshold": 1000, "multiplier": "1"}],
  "qualifying_window_days": 365,
  "activities": [{"name": "app_install", "points": 50, "once": true}],
  "point_value": {"minor": "1", "currency": "RUB"},
  "transfers": {"enabled": true}
}`

func merge(t *testing.T, st *store.Store, partner, survivor, absorbed string) store.MergeResult {
	t.Helper()
	res, err := st.Merge(context.Background(), partner, survivor, absorbed, ledger.MergeRequest{Reason: "one person", Actor: "key_admin"})
	if err != nil {
		t.Fatalf("merge %s into %s: %v", absorbed, survivor, err)
	}
	return res
}

// A merge moves the absorbed member's open lots with their dates, sums the
// balances and the qualifying points, keeps the higher tier, unions the
// once-only activities, leaves the absorbed member empty, its ledger ending
// with the merge, and an alias: its id reads, pays and earns as the
// survivor. Both ledgers keep the invariants; the audit trail has the merge.
func TestMerge(t *testing.T) {
	clock := newStepClock()
	e := newEnv(t, map[string]string{"telco": mergeProgram}, clock.option())
	ctx := context.Background()
	mustApply(t, e.st, pay("telco", "anna", "a1", 20000))   // 200, pending until t0+14d
	mustApply(t, e.st, pay("telco", "boris", "b1", 100000)) // 1000: silver
	clock.advance(24 * time.Hour)
	if _, _, err := e.st.Activity(ctx, "telco", "boris", "app_install"); err != nil { // 50, available
		t.Fatal(err)
	}
	clock.advance(9 * 24 * time.Hour)
	mustApply(t, e.st, pay("telco", "boris", "b2", 30000)) // 300, pending until t0+24d
	clock.advance(6 * 24 * time.Hour)                      // t0+16d: a1 and b1 released, b2 still pending
	if _, _, err := e.st.Redeem(ctx, "telco", "boris", ledger.RedeemRequest{Points: 120, Capture: true}); err != nil {
		t.Fatal(err)
	}
	borisLots, err := e.st.Lots(ctx, "telco", "boris")
	if err != nil {
		t.Fatal(err)
	}

	res := merge(t, e.st, "telco", "anna", "boris")
	s, a := res.Survivor, res.Absorbed
	if s.Available != 200+880+50 || s.Pending != 300 || s.Lifetime != 200+1000+50+300 || s.Debt != 0 {
		t.Fatalf("survivor's balances %+v", s.Balances)
	}
	if s.Rules.Qualifying != 1500 || s.Rules.Tier != "silver" {
		t.Fatalf("survivor's tier %q, qualifying %d; want silver (boris's), 1500", s.Rules.Tier, s.Rules.Qualifying)
	}
	if a.Balances != (ledger.Balances{}) || a.Status != ledger.StatusMerged || a.MergedInto != "anna" || a.Due != 0 {
		t.Fatalf("absorbed member %+v", a)
	}
	if res.Lots != 3 || res.In.Counterpart != "boris" || res.In.CounterpartSeq != res.Out.Seq || res.Out.Counterpart != "anna" || res.Out.CounterpartSeq != res.In.Seq {
		t.Fatalf("merge entries: %d lots, in %+v, out %+v", res.Lots, res.In, res.Out)
	}
	e.audit(t, "telco", "anna")
	e.audit(t, "telco", "boris")

	// Each open lot of boris is an entry of anna's with the same dates.
	moved := map[int64]*ledger.Entry{}
	for _, l := range borisLots {
		moved[l.Seq] = l
	}
	es, err := e.st.Entries(ctx, "telco", "anna")
	if err != nil {
		t.Fatal(err)
	}
	lots := 0
	for _, en := range es {
		if en.Kind != ledger.KindMerge || en.Seq == res.In.Seq {
			continue
		}
		lots++
		src := moved[en.CounterpartSeq]
		if src == nil || en.Counterpart != "boris" || en.Remaining != src.Remaining || en.State != src.State ||
			!sameTime(en.ExpiresAt, src.ExpiresAt) || !sameTime(en.AvailableAt, src.AvailableAt) {
			t.Fatalf("anna's lot entry %+v, from %+v", en, src)
		}
	}
	if lots != 3 {
		t.Fatalf("%d lot entries, want 3", lots)
	}
	bes, err := e.st.Entries(ctx, "telco", "boris")
	if err != nil {
		t.Fatal(err)
	}
	if last := bes[len(bes)-1]; last.Kind != ledger.KindMerge || last.Seq != a.Seq {
		t.Fatalf("boris's ledger ends with %+v", last)
	}
	for _, en := range bes {
		if src := moved[en.Seq]; src != nil && (en.Remaining != 0 || en.MovedTo == nil || en.MovedTo.MemberID != "anna") {
			t.Fatalf("boris's lot %d after the merge: %+v", en.Seq, en.Lot)
		}
	}

	// The absorbed id resolves to the survivor: reads, activities, payments.
	if m := e.member(t, "telco", "boris"); m.ID != "anna" || m.Version != s.Version {
		t.Fatalf("boris reads as %s (version %d)", m.ID, m.Version)
	}
	if _, _, err := e.st.Activity(ctx, "telco", "boris", "app_install"); !errors.Is(err, ledger.ErrActivityDone) {
		t.Fatalf("the once-only activity again, on the absorbed id: %v", err)
	}
	if _, _, err := e.st.Activity(ctx, "telco", "anna", "app_install"); !errors.Is(err, ledger.ErrActivityDone) {
		t.Fatalf("the once-only activity again, on the survivor: %v", err)
	}
	out := mustApply(t, e.st, pay("telco", "boris", "b3", 1000))
	if out.Member.ID != "anna" || out.Entry.MemberID != "anna" || out.Member.Pending != 310 {
		t.Fatalf("a payment on the absorbed id: %+v", out)
	}
	if _, err := e.st.Enroll(ctx, "telco", "boris", nil); !errors.Is(err, store.ErrMemberExists) {
		t.Fatalf("enrolling the absorbed id: %v", err)
	}

	// The tier window is the person's: the absorbed member's payments count.
	p, err := e.st.Program(ctx, "telco")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateLedger(ctx, "telco", "anna", func(tx *store.LedgerTx) error {
		es, err := tx.EntriesSince(t0.Add(-time.Hour))
		if err != nil {
			return err
		}
		if q := jobs.QualifyingInWindow(es, p, tx.Now); q != 1510 {
			t.Errorf("qualifying points in the window: %d, want 1510", q)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	for _, member := range []string{"", "anna", "boris"} {
		var recs []store.AuditRecord
		for _, r := range allAudit(t, e.st, "telco", store.AuditQuery{MemberID: member, Limit: 50}) {
			if r.Action == store.AuditMerge {
				recs = append(recs, r)
			}
		}
		if len(recs) != 1 {
			t.Fatalf("audit trail of %q: %d merge records", member, len(recs))
		}
		r := recs[0]
		if r.MemberID != "anna" || r.OtherMemberID != "boris" || r.Points != 1230 || r.Actor != "key_admin" || r.Reason != "one person" ||
			r.Entry != res.In.Seq || r.OtherEntry != res.Out.Seq || len(r.Changes) != 3 {
			t.Fatalf("merge record (trail of %q) %+v", member, r)
		}
	}
	e.audit(t, "telco", "anna")
	e.audit(t, "telco", "boris")
}

// A merge that cannot be done writes nothing.
func TestMergeRefused(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": poolProgram, "other": poolProgram})
	ctx := context.Background()
	for _, m := range []string{"anna", "boris", "held", "sam", "gone", "into"} {
		mustApply(t, e.st, pay("telco", m, m+"-1", 10000))
	}
	mustApply(t, e.st, pay("other", "olga", "o1", 10000))
	merge(t, e.st, "telco", "into", "gone")
	if _, _, err := e.st.Redeem(ctx, "telco", "held", ledger.RedeemRequest{Points: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateMember(ctx, "telco", "sam", func(m *ledger.Member) error { m.Status = ledger.StatusSuspended; return nil }); err != nil {
		t.Fatal(err)
	}
	for i := range 47 { // 47 lots: more than one transaction moves
		mustApply(t, e.st, pay("telco", "many", fmt.Sprint("m", i), 100))
	}
	cases := []struct {
		name, partner, survivor, absorbed string
		want                              error
	}{
		{"absorbed member missing", "telco", "anna", "nobody", store.ErrOtherMemberNotFound},
		{"survivor missing", "telco", "nobody", "anna", store.ErrMemberNotFound},
		{"absorbed member of another partner", "telco", "anna", "olga", store.ErrMemberNotFound},
		{"survivor of another partner", "other", "anna", "olga", store.ErrMemberNotFound},
		{"itself", "telco", "anna", "anna", ledger.ErrMergeSame},
		{"into its own alias", "telco", "gone", "into", ledger.ErrMergeSame},
		{"an absorbed id again", "telco", "anna", "gone", ledger.ErrAlreadyMerged},
		{"suspended absorbed member", "telco", "anna", "sam", ledger.ErrMemberInactive},
		{"suspended survivor", "telco", "sam", "anna", ledger.ErrMemberInactive},
		{"an open hold", "telco", "anna", "held", ledger.ErrMergeBlocked},
		{"more lots than one transaction moves", "telco", "anna", "many", ledger.ErrMergeLimit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tableText(t, e)
			_, err := e.st.Merge(ctx, tc.partner, tc.survivor, tc.absorbed, ledger.MergeRequest{Actor: "k"})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if after := tableText(t, e); after != before {
				t.Fatal("a refused merge changed the table")
			}
		})
	}
	// 46 lots fit.
	if _, err := e.st.Refund(ctx, refund("telco", "many", "r0", "m0", 100)); err != nil {
		t.Fatal(err)
	}
	res := merge(t, e.st, "telco", "anna", "many")
	if res.Lots != 46 {
		t.Fatalf("%d lots moved, want 46", res.Lots)
	}
	for _, m := range []string{"anna", "many", "into", "gone"} {
		e.audit(t, "telco", m)
	}
}

// Invariant 3 across a merge: a payment (or refund) applied to the
// absorbed member before the merge and delivered again after — on either id
// — is a duplicate. A refund of a payment made before the merge reverses
// its points where the merge moved them (or, its lot spent, from the
// survivor's other lots), and its totals stay on the payment's entry.
func TestMergeDeduplicationAndRefunds(t *testing.T) {
	clock := newStepClock()
	e := newEnv(t, map[string]string{"telco": poolProgram}, clock.option())
	ctx := context.Background()
	mustApply(t, e.st, pay("telco", "anna", "a1", 20000))  // 200, expires t0+365d
	mustApply(t, e.st, pay("telco", "boris", "p2", 5000))  // 50, expires first
	clock.advance(time.Hour)                               //
	mustApply(t, e.st, pay("telco", "boris", "p1", 10000)) // 100
	if _, _, err := e.st.Redeem(ctx, "telco", "boris", ledger.RedeemRequest{Points: 50, Capture: true}); err != nil {
		t.Fatal(err) // p2's lot spent
	}
	r0 := refund("telco", "boris", "r0", "p1", 2000) // 20 points back: p1 has 80
	mustApply(t, e.st, r0)
	res := merge(t, e.st, "telco", "anna", "boris")
	if res.Lots != 1 || res.Survivor.Available != 280 {
		t.Fatalf("merge: %d lots, survivor %+v", res.Lots, res.Survivor.Balances)
	}

	for _, ev := range []payment.Payment{pay("telco", "boris", "p1", 10000), pay("telco", "boris", "p2", 5000), r0,
		pay("telco", "anna", "p1", 10000), pay("telco", "anna", "p2", 5000), refund("telco", "anna", "r0", "p1", 2000)} {
		if out := mustApply(t, e.st, ev); !out.Duplicate {
			t.Fatalf("%s %s of %s after the merge: %+v, want a duplicate", ev.Type, ev.PaymentID, ev.MemberID, out)
		}
	}
	if m := e.member(t, "telco", "anna"); m.Available != 280 || m.Lifetime != 200+150-20 {
		t.Fatalf("after the redeliveries: %+v", m.Balances)
	}
	// The queue's path: a batch's members read ahead (the absorbed id's item
	// is its alias, which the accrual follows).
	batch := []payment.Payment{pay("telco", "boris", "p1", 10000), pay("telco", "boris", "p5", 1000), pay("telco", "boris", "p6", 1000)}
	hints, err := e.st.Prefetch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range batch {
		out, err := e.st.ApplyHinted(ctx, ev, hints)
		if err != nil || out.Duplicate != (i == 0) || (i > 0 && out.Member.ID != "anna") {
			t.Fatalf("batch payment %s of boris: %+v, %v", ev.PaymentID, out, err)
		}
	}
	if _, err := e.st.Apply(ctx, refund("telco", "boris", "r5", "p5", 1000)); err != nil {
		t.Fatal(err) // and out again, to keep the figures below
	}
	if _, err := e.st.Apply(ctx, refund("telco", "boris", "r6", "p6", 1000)); err != nil {
		t.Fatal(err)
	}

	// p1's points are on anna now: the refund takes them from there.
	r1 := refund("telco", "boris", "r1", "p1", 5000) // 70 of 100 in all: 50 more
	if out := mustApply(t, e.st, r1); out.Member.ID != "anna" || out.Entry.Points != -50 || out.Member.Available != 230 || out.Member.Debt != 0 {
		t.Fatalf("refund of a moved payment: %+v", out)
	}
	lots, err := e.st.Lots(ctx, "telco", "anna")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lots {
		if l.Kind == ledger.KindMerge && l.Remaining != 30 {
			t.Fatalf("the moved lot has %d left, want 30", l.Remaining)
		}
	}
	var p1 ledger.Entry
	for _, en := range mustEntries(t, e, "boris") {
		if en.PaymentID == "p1" && en.Kind == ledger.KindEarn {
			p1 = en
		}
	}
	if p1.RefundedMinor != 7000 || p1.Reversed != 70 {
		t.Fatalf("p1's refund totals %d / %d, want 7000 / 70", p1.RefundedMinor, p1.Reversed)
	}
	// p2's lot was spent before the merge: anna's other lots pay for it.
	if out := mustApply(t, e.st, refund("telco", "anna", "r2", "p2", 5000)); out.Entry.Points != -50 || out.Member.Available != 180 {
		t.Fatalf("refund of a spent payment of the absorbed member: %+v", out)
	}
	for _, ev := range []payment.Payment{r1, refund("telco", "anna", "r1", "p1", 5000), refund("telco", "boris", "r2", "p2", 5000)} {
		if out := mustApply(t, e.st, ev); !out.Duplicate {
			t.Fatalf("refund %s of %s again: %+v", ev.PaymentID, ev.MemberID, out)
		}
	}
	if _, err := e.st.Apply(ctx, refund("telco", "boris", "r3", "p2", 1)); !errors.Is(err, ledger.ErrRefundExceeds) {
		t.Fatalf("refunding more than the payment: %v", err)
	}
	if m := e.member(t, "telco", "anna"); m.Available != 180 || m.Lifetime != 200+150-20-50-50+10+10-10-10 {
		t.Fatalf("after the refunds: %+v", m.Balances)
	}
	e.audit(t, "telco", "anna")
	e.audit(t, "telco", "boris")
}

func mustEntries(t *testing.T, e *env, member string) []ledger.Entry {
	t.Helper()
	es, err := e.st.Entries(context.Background(), "telco", member)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// Merges chain: cara into boris, then boris into anna. Every id resolves
// to anna; a payment of cara's from before the first merge is a duplicate
// on any id; its refund finds its points two merges away.
func TestMergeChain(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": poolProgram})
	ctx := context.Background()
	mustApply(t, e.st, pay("telco", "anna", "a1", 10000))
	mustApply(t, e.st, pay("telco", "boris", "b1", 10000))
	mustApply(t, e.st, pay("telco", "cara", "c1", 10000))
	merge(t, e.st, "telco", "boris", "cara")
	mustApply(t, e.st, pay("telco", "cara", "c2", 10000)) // on boris
	res := merge(t, e.st, "telco", "anna", "boris")
	if res.Survivor.Available != 400 || len(res.Survivor.Absorbed) != 2 {
		t.Fatalf("after two merges: %+v, absorbed %v", res.Survivor.Balances, res.Survivor.Absorbed)
	}
	for _, id := range []string{"boris", "cara"} {
		if m := e.member(t, "telco", id); m.ID != "anna" {
			t.Fatalf("%s reads as %s", id, m.ID)
		}
	}
	for _, ev := range []payment.Payment{pay("telco", "cara", "c1", 10000), pay("telco", "cara", "c2", 10000), pay("telco", "anna", "c1", 10000),
		pay("telco", "boris", "c2", 10000), pay("telco", "boris", "b1", 10000)} {
		if out := mustApply(t, e.st, ev); !out.Duplicate {
			t.Fatalf("%s of %s after the merges: %+v", ev.PaymentID, ev.MemberID, out)
		}
	}
	if out := mustApply(t, e.st, refund("telco", "cara", "rc1", "c1", 10000)); out.Member.ID != "anna" || out.Member.Available != 300 || out.Member.Debt != 0 {
		t.Fatalf("refund of cara's first payment: %+v", out)
	}
	if _, err := e.st.Merge(ctx, "telco", "cara", "anna", ledger.MergeRequest{}); !errors.Is(err, ledger.ErrMergeSame) {
		t.Fatalf("merging the survivor into one of its own ids: %v", err)
	}
	for _, m := range []string{"anna", "boris", "cara"} {
		e.audit(t, "telco", m)
	}
}

// Erasing the person after a merge — through either id — erases both
// members: the survivor's partition and the absorbed one's, the alias (the
// absorbed id is personal data) and every mention of either id; both ids
// are erased for good (their payments are rejected, their ids cannot be
// enrolled). The export before it holds the absorbed member's data.
func TestEraseAfterMerge(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": poolProgram})
	ctx := context.Background()
	mustApply(t, e.st, pay("telco", "cust-anna", "a1", 10000))
	mustApply(t, e.st, pay("telco", "cust-boris", "b1", 10000))
	mustApply(t, e.st, pay("telco", "cust-boris", "b2", 10000))
	mustApply(t, e.st, pay("telco", "carl", "c1", 10000))
	if _, err := e.st.Transfer(ctx, "telco", "cust-boris", "carl", ledger.TransferRequest{Points: 10, Actor: "k"}); err != nil {
		t.Fatal(err)
	}
	merge(t, e.st, "telco", "cust-anna", "cust-boris")
	x, err := e.st.Export(ctx, "telco", "cust-boris")
	if err != nil {
		t.Fatal(err)
	}
	if x.MemberID != "cust-anna" || len(x.Merged) != 1 || x.Merged[0].MemberID != "cust-boris" || x.Merged[0].Status != ledger.StatusMerged ||
		len(x.Merged[0].Entries) != 4 {
		t.Fatalf("export: %s, merged %+v", x.MemberID, x.Merged)
	}
	anon, err := e.st.Erase(ctx, "telco", "cust-boris", "key_admin")
	if err != nil {
		t.Fatal(err)
	}
	if text := tableText(t, e); strings.Contains(text, "cust-") {
		i := strings.Index(text, "cust-")
		t.Fatalf("an erased id is left in the table: …%s…", text[max(i-300, 0):min(i+100, len(text))])
	}
	if m := e.member(t, "telco", anon); m.Status != ledger.StatusErased || m.Available != 290 || len(m.Absorbed) != 0 {
		t.Fatalf("anonymous survivor %+v", m)
	}
	e.audit(t, "telco", anon)
	e.audit(t, "telco", "carl")
	for _, id := range []string{"cust-anna", "cust-boris"} {
		if _, err := e.st.Apply(ctx, pay("telco", id, "b1", 10000)); !errors.Is(err, store.ErrMemberErased) {
			t.Fatalf("a payment of %s after the erase: %v", id, err)
		}
		if _, err := e.st.Enroll(ctx, "telco", id, nil); !errors.Is(err, store.ErrMemberErased) {
			t.Fatalf("enrolling %s after the erase: %v", id, err)
		}
	}
}

// A merge racing payments, redemptions and transfers on both members, and
// itself nine times more, against DynamoDB Local conflicting like DynamoDB:
// one merge applies, the others find the absorbed id merged; every payment
// applies once (on whichever member the id was when it committed); no point
// appears or disappears; the invariants hold on both members.
func TestMergeRacingLikeDynamoDB(t *testing.T) {
	base := newEnv(t, map[string]string{"telco": poolProgram})
	for i := range 5 {
		mustApply(t, base.st, pay("telco", "anna", fmt.Sprint("a", i), 20000))
		mustApply(t, base.st, pay("telco", "boris", fmt.Sprint("b", i), 10000))
	}
	conflicts, err := ddbsim.NewConflicts(store.CreateTableInput(base.table))
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(dynamodb.New(base.client.Options(), conflicts.Option), base.table, store.WithClock(func() time.Time { return t0 }))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	const merges, ops = 10, 40 // ops 0-9: the same merge; then payments, redemptions, transfers on both ids
	var merged, already, paid, redeemed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range ops {
		wg.Go(func() {
			<-start
			member, other := []string{"anna", "boris"}[i%2], []string{"boris", "anna"}[i%2]
			for {
				var err error
				switch {
				case i < merges:
					_, err = st.Merge(ctx, "telco", "anna", "boris", ledger.MergeRequest{Actor: "k"})
				case i%3 == 0:
					_, err = st.Apply(ctx, pay("telco", member, fmt.Sprint("n", i), 1000))
				case i%3 == 1:
					_, _, err = st.Redeem(ctx, "telco", member, ledger.RedeemRequest{Points: 7, Capture: true})
				default:
					_, err = st.Transfer(ctx, "telco", member, other, ledger.TransferRequest{Points: 5, Actor: "k"})
				}
				switch {
				case errors.Is(err, store.ErrContention) && ctx.Err() == nil:
					continue // delivered again / retried by the client
				case errors.Is(err, ledger.ErrAlreadyMerged):
					already.Add(1)
				case errors.Is(err, ledger.ErrSameMember): // a transfer between two ids of one member
				case err != nil:
					t.Errorf("op %d: %v", i, err)
				case i < merges:
					merged.Add(1)
				case i%3 == 0:
					paid.Add(10)
				case i%3 == 1:
					redeemed.Add(7)
				}
				return
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	if merged.Load() != 1 {
		t.Fatalf("%d merges applied (%d found it done), want 1", merged.Load(), already.Load())
	}
	a, b := base.member(t, "telco", "anna"), base.member(t, "telco", "boris")
	if b.ID != "anna" {
		t.Fatal("boris does not resolve to anna")
	}
	bm, err := base.st.Entries(context.Background(), "telco", "boris")
	if err != nil {
		t.Fatal(err)
	}
	if want := 1500 + paid.Load() - redeemed.Load(); a.Available != want {
		t.Fatalf("anna holds %d, want 1500 + %d paid − %d redeemed = %d", a.Available, paid.Load(), redeemed.Load(), want)
	}
	earned := 0
	for _, m := range []string{"anna", "boris"} {
		base.audit(t, "telco", m)
		for _, en := range mustEntries(t, base, m) {
			if en.Kind == ledger.KindEarn {
				earned++
			}
		}
	}
	if want := 10 + int(paid.Load()/10); earned != want {
		t.Fatalf("%d earn entries on the two members, want %d", earned, want)
	}
	t.Logf("boris's ledger: %d entries; %d paid, %d redeemed; conflicts %+v", len(bm), paid.Load(), redeemed.Load(), conflicts.Stats())
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
