package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/store"
)

// Earliest expiry first, through the store: the lot that expires first is not
// the first in key order (pay-b earned first, pay-a ten days later), and each
// way of spending takes from it first (issue #9, item 14: the store hands lots
// over in key order, so removing the sort of ledger.Spend fails this test).
func TestSpendingTakesTheEarliestExpiringLotFirst(t *testing.T) {
	clock := t0
	e := newEnv(t, map[string]string{"shop": catalogProgram})
	e.st = store.New(e.client, e.table, store.WithClock(func() time.Time { return clock }))
	ctx := context.Background()
	mustApply(t, e.st, pay("shop", "m", "pay-b", 30000)) // 300 points, expiring t0+365d
	clock = clock.Add(10 * 24 * time.Hour)
	mustApply(t, e.st, pay("shop", "m", "pay-a", 30000)) // 300 points, expiring 10 days later

	remaining := func() (b, a int64) {
		t.Helper()
		lots, err := e.st.Lots(ctx, "shop", "m")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lots {
			switch l.PaymentID {
			case "pay-b":
				b = l.Remaining
			case "pay-a":
				a = l.Remaining
			}
		}
		return b, a
	}
	steps := []struct {
		name  string
		do    func() error
		wantB int64
		wantA int64
	}{
		{"hold", func() error {
			_, _, err := e.st.Redeem(ctx, "shop", "m", ledger.RedeemRequest{Points: 100})
			return err
		}, 200, 300},
		{"capture at once", func() error {
			_, _, err := e.st.Redeem(ctx, "shop", "m", ledger.RedeemRequest{Points: 150, Capture: true})
			return err
		}, 50, 300},
		{"manual debit spills into the next lot", func() error {
			_, _, err := e.st.Adjust(ctx, "shop", "m", ledger.Adjustment{Points: -80, Reason: "goodwill reversal", Actor: "k"})
			return err
		}, 0, 270},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if b, a := remaining(); b != s.wantB || a != s.wantA {
			t.Fatalf("after %s: pay-b has %d, pay-a %d; want %d, %d (earliest expiry first)", s.name, b, a, s.wantB, s.wantA)
		}
	}
	es, err := e.st.Entries(ctx, "shop", "m")
	if err != nil {
		t.Fatal(err)
	}
	var red []ledger.Entry
	for _, en := range es {
		if en.Kind == ledger.KindRedeem {
			red = append(red, en)
		}
	}
	for _, en := range red {
		r, err := e.st.Redemption(ctx, "shop", "m", en.RedemptionID)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Lots) != 1 || r.Lots[0].Lot != "PAY#pay-b#S" {
			t.Fatalf("redemption %s took %+v, want only the earliest expiring lot PAY#pay-b#S", r.ID, r.Lots)
		}
	}
	e.audit(t, "shop", "m")
}

// Payments racing an erasure (issue #9, item 2): the payment applied before,
// redelivered, and new payments of the id, from 6 writers while Erase runs.
// Each delivery either accrues (before the erasure took the member), is a
// duplicate, or is refused (inactive while erasing, erased after); after it,
// no member exists under the id, and the anonymous member holds exactly the
// accruals that were reported.
func TestErasureRacingPayments(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": gdprProgram})
	ctx := context.Background()
	mustApply(t, e.st, pay("telco", "m", "p0", 100000))
	var accrued atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range 10 {
				p := pay("telco", "m", "p0", 100000)
				if w%2 == 1 {
					p = pay("telco", "m", fmt.Sprintf("w%d-%d", w, i), 100000)
				}
				out, err := e.st.Apply(ctx, p)
				switch {
				case err == nil && !out.Duplicate:
					accrued.Add(1)
				case err == nil, errors.Is(err, ledger.ErrMemberInactive), errors.Is(err, store.ErrMemberErased):
				default:
					t.Errorf("apply %s: %v", p.PaymentID, err)
					return
				}
				time.Sleep(time.Duration(5+3*w) * time.Millisecond)
			}
		}()
	}
	close(start)
	anon, err := e.st.Erase(ctx, "telco", "m", "key_admin")
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Member(ctx, "telco", "m"); !errors.Is(err, store.ErrMemberNotFound) {
		t.Fatalf("the erased id came back: %v", err)
	}
	if am := e.member(t, "telco", anon); am.Seq != 1+accrued.Load() {
		t.Fatalf("anonymous member has %d entries; 1 + %d accruals were reported", am.Seq, accrued.Load())
	}
	e.audit(t, "telco", anon)
	// And afterwards, every delivery is refused.
	for _, id := range []string{"p0", "w1-0", "brand-new"} {
		if _, err := e.st.Apply(ctx, pay("telco", "m", id, 100000)); !errors.Is(err, store.ErrMemberErased) {
			t.Fatalf("apply %s after the erasure: %v, want ErrMemberErased", id, err)
		}
	}
}

// A full refund racing an approval of the held payment (issue #9, item 6):
// whichever commits first, the queue ends empty, the member's invariants hold,
// and nothing of the payment is left (the refund reverses what the approval
// released, or the approval finds the item gone).
func TestRefundRacingReviewApproval(t *testing.T) {
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			e := newEnv(t, map[string]string{"telco": reviewProgram})
			ctx := context.Background()
			mustApply(t, e.st, pay("telco", "a", "big", 2000000))
			id := onlyReviewItem(t, e.st, "telco").ID
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				if _, _, err := e.st.Approve(ctx, "telco", id, "key_admin"); err != nil && !errors.Is(err, store.ErrReviewNotFound) {
					t.Errorf("approve: %v", err)
				}
			}()
			go func() {
				defer wg.Done()
				if _, err := e.st.Apply(ctx, refund("telco", "a", "r", "big", 2000000)); err != nil {
					t.Errorf("refund: %v", err)
				}
			}()
			wg.Wait()
			if q := reviewQueueAll(t, e.st, "telco"); len(q) != 0 {
				t.Fatalf("queue after approve ∥ full refund: %+v", q)
			}
			if m := e.member(t, "telco", "a"); m.Review != 0 || m.Available != 0 || m.Lifetime != 0 {
				t.Fatalf("member: %+v", m.Balances)
			}
			e.audit(t, "telco", "a")
		})
	}
}
