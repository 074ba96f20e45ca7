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

const catalogProgram = `{
  "name": "Shop", "auto_enroll": true,
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 100}}],
  "activities": [{"name": "autopay_enabled", "points": 300, "once": true}, {"name": "referral", "points": 50}],
  "tiers": [{"name": "base", "threshold": 0, "multiplier": "1"}, {"name": "gold", "threshold": 100000, "multiplier": "2"}],
  "qualifying_window_days": 365,
  "expiry": {"rolling_days": 365},
  "point_value": {"minor": "0.5", "currency": "RUB"}
}`

// 100 concurrent redemptions against one member: exactly floor(balance/cost)
// succeed, the others fail with ErrInsufficientPoints, and the balance ends exact.
func TestConcurrentRedemptions(t *testing.T) {
	e := newEnv(t, map[string]string{"shop": catalogProgram})
	ctx := context.Background()
	// 1000 points in 4 lots
	for i, amt := range []int64{10000, 20000, 30000, 40000} {
		mustApply(t, e.st, pay("shop", "m", fmt.Sprintf("p%d", i), amt))
	}
	const cost = 70 // 1000/70 = 14 succeed, 20 left
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := e.st.Redeem(ctx, "shop", "m", ledger.RedeemRequest{Points: cost, Capture: i%2 == 0})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ledger.ErrInsufficientPoints):
				refused.Add(1)
			default:
				t.Errorf("redeem: %v", err)
			}
		}()
	}
	wg.Wait()
	m := e.member(t, "shop", "m")
	if ok.Load() != 14 || refused.Load() != 86 || m.Available != 20 {
		t.Fatalf("%d ok, %d refused, available %d; want 14, 86, 20", ok.Load(), refused.Load(), m.Available)
	}
	if m.Held+m.Available != 1000-captured(t, e, "shop", "m") {
		t.Fatalf("held %d + available %d does not add up", m.Held, m.Available)
	}
	e.audit(t, "shop", "m")
}

func captured(t *testing.T, e *env, partner, member string) int64 {
	es, err := e.st.Entries(context.Background(), partner, member)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, en := range es {
		if en.Kind == ledger.KindRedeem && en.Delta.Held == 0 && en.Delta.Available < 0 {
			n -= en.Delta.Available
		}
	}
	return n
}

func TestHoldCaptureCancel(t *testing.T) {
	clock := t0
	e := newEnv(t, map[string]string{"shop": catalogProgram})
	e.st = store.New(e.client, e.table, store.WithClock(func() time.Time { return clock }))
	ctx := context.Background()
	mustApply(t, e.st, pay("shop", "m", "p1", 30000)) // 300 points, expiring in 365 days
	mustApply(t, e.st, pay("shop", "m", "p2", 20000)) // 200

	h1, m, err := e.st.Redeem(ctx, "shop", "m", ledger.RedeemRequest{Points: 250})
	if err != nil || h1.Status != ledger.RedemptionHeld || m.Available != 250 || m.Held != 250 {
		t.Fatalf("hold: %+v %+v %v", h1, m.Balances, err)
	}
	if _, m, err = e.st.Cancel(ctx, "shop", "m", h1.ID); err != nil || m.Available != 500 || m.Held != 0 {
		t.Fatalf("cancel: %+v %v", m.Balances, err)
	}
	if _, _, err := e.st.Capture(ctx, "shop", "m", h1.ID); !errors.Is(err, ledger.ErrNotHeld) {
		t.Fatalf("capture of a cancelled hold: %v", err)
	}
	h2, _, err := e.st.Redeem(ctx, "shop", "m", ledger.RedeemRequest{Points: 100, As: "bill_credit"})
	if err != nil || h2.Value == nil || h2.Value.AmountMinor != 50 || h2.Value.Currency != "RUB" {
		t.Fatalf("bill credit: %+v %v", h2, err)
	}
	if _, m, err = e.st.Capture(ctx, "shop", "m", h2.ID); err != nil || m.Available != 400 || m.Held != 0 {
		t.Fatalf("capture: %+v %v", m.Balances, err)
	}
	h3, _, _ := e.st.Redeem(ctx, "shop", "m", ledger.RedeemRequest{Points: 10, HoldFor: time.Minute})
	clock = clock.Add(time.Minute)
	if _, _, err := e.st.Capture(ctx, "shop", "m", h3.ID); !errors.Is(err, ledger.ErrHoldExpired) {
		t.Fatalf("capture after expiry: %v", err)
	}
	if _, m, err = e.st.Cancel(ctx, "shop", "m", h3.ID); err != nil || m.Available != 400 {
		t.Fatalf("cancel after expiry: %+v %v", m.Balances, err)
	}
	if _, _, err := e.st.Redeem(ctx, "shop", "m", ledger.RedeemRequest{Points: 401}); !errors.Is(err, ledger.ErrInsufficientPoints) {
		t.Fatalf("over-redeem: %v", err)
	}
	e.audit(t, "shop", "m")
}

func TestRewardStockNeverNegative(t *testing.T) {
	e := newEnv(t, map[string]string{"shop": catalogProgram})
	ctx := context.Background()
	stock := int64(3)
	if _, err := e.st.PutRewards(ctx, "shop", []ledger.Reward{
		{ID: "mug", Name: "Mug", Cost: 10, Stock: &stock},
		{ID: "lounge", Name: "Lounge", Cost: 10, MinTier: "gold"},
	}); err != nil {
		t.Fatal(err)
	}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		member := fmt.Sprintf("m%d", i)
		mustApply(t, e.st, pay("shop", member, "p1", 10000))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := e.st.Redeem(ctx, "shop", member, ledger.RedeemRequest{RewardID: "mug", Capture: true})
			switch {
			case err == nil:
				ok.Add(1)
			case !errors.Is(err, ledger.ErrOutOfStock):
				t.Errorf("redeem mug: %v", err)
			}
		}()
	}
	wg.Wait()
	rs, _ := e.st.Rewards(ctx, "shop")
	if ok.Load() != 3 || *rs[1].Stock != 0 {
		t.Fatalf("%d mugs redeemed, stock %v; want 3 and 0", ok.Load(), *rs[1].Stock)
	}
	if _, _, err := e.st.Redeem(ctx, "shop", "m0", ledger.RedeemRequest{RewardID: "lounge"}); !errors.Is(err, ledger.ErrTierTooLow) {
		t.Fatalf("tier restriction: %v", err)
	}
	if _, _, err := e.st.Redeem(ctx, "shop", "m0", ledger.RedeemRequest{RewardID: "nope"}); !errors.Is(err, store.ErrRewardNotFound) {
		t.Fatalf("unknown reward: %v", err)
	}
}

func TestActivitiesAndAdjustments(t *testing.T) {
	e := newEnv(t, map[string]string{"shop": catalogProgram})
	ctx := context.Background()
	if _, err := e.st.Enroll(ctx, "shop", "m", []string{"vip"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Enroll(ctx, "shop", "m", nil); !errors.Is(err, store.ErrMemberExists) {
		t.Fatalf("enroll twice: %v", err)
	}
	if _, en, err := e.st.Activity(ctx, "shop", "m", "autopay_enabled"); err != nil || en.Points != 300 {
		t.Fatalf("activity: %+v %v", en, err)
	}
	if _, _, err := e.st.Activity(ctx, "shop", "m", "autopay_enabled"); !errors.Is(err, ledger.ErrActivityDone) {
		t.Fatalf("once-only activity twice: %v", err)
	}
	for range 2 {
		if _, _, err := e.st.Activity(ctx, "shop", "m", "referral"); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.st.Activity(ctx, "shop", "m", "dance"); !errors.Is(err, ledger.ErrUnknownActivity) {
		t.Fatalf("unknown activity: %v", err)
	}
	if _, en, err := e.st.Adjust(ctx, "shop", "m", ledger.Adjustment{Points: -120, Reason: "duplicate bonus", Actor: "key1"}); err != nil || en.Reason != "duplicate bonus" {
		t.Fatalf("debit: %+v %v", en, err)
	}
	if _, _, err := e.st.Adjust(ctx, "shop", "m", ledger.Adjustment{Points: -1000, Reason: "x", Actor: "key1"}); !errors.Is(err, ledger.ErrInsufficientPoints) {
		t.Fatalf("debit below zero: %v", err)
	}
	m, _, err := e.st.Adjust(ctx, "shop", "m", ledger.Adjustment{Points: 20, Reason: "goodwill", Actor: "key1"})
	if err != nil || m.Available != 300+100-120+20 {
		t.Fatalf("credit: %+v %v", m.Balances, err)
	}
	page, err := e.st.Ledger(ctx, "shop", "m", 2, "")
	if err != nil || len(page.Items) != 2 || page.Items[0].Seq != 5 || page.Next == "" {
		t.Fatalf("ledger page 1: %+v %v", page, err)
	}
	var seqs []int64
	for cur := ""; ; {
		p, err := e.st.Ledger(ctx, "shop", "m", 2, cur)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range p.Items {
			seqs = append(seqs, en.Seq)
		}
		if cur = p.Next; cur == "" {
			break
		}
	}
	if fmt.Sprint(seqs) != "[5 4 3 2 1]" {
		t.Fatalf("ledger newest first: %v", seqs)
	}
	if _, err := e.st.Ledger(ctx, "other", "m", 2, page.Next); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("another member's cursor: %v", err)
	}
	e.audit(t, "shop", "m")
}

// A hold is open when a refund claws back points already reserved by it: the
// refund creates debt; cancelling the hold gives its points back to their lots,
// which repay that debt first. The invariants hold at every step.
func TestCancelRepaysDebtFirst(t *testing.T) {
	e := newEnv(t, map[string]string{"shop": catalogProgram})
	ctx := context.Background()
	mustApply(t, e.st, pay("shop", "m", "p1", 10000)) // 100 points
	h, _, err := e.st.Redeem(ctx, "shop", "m", ledger.RedeemRequest{Points: 80})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, e.st, refund("shop", "m", "r1", "p1", 10000)) // reverses 100: 20 from the lot, 80 become debt
	m := e.member(t, "shop", "m")
	if m.Available != -80 || m.Debt != 80 || m.Held != 80 {
		t.Fatalf("after the refund: %+v", m.Balances)
	}
	e.audit(t, "shop", "m")
	if _, m, err = e.st.Cancel(ctx, "shop", "m", h.ID); err != nil {
		t.Fatal(err)
	}
	if m.Available != 0 || m.Debt != 0 || m.Held != 0 {
		t.Fatalf("after the cancel: %+v", m.Balances)
	}
	e.audit(t, "shop", "m")
}
