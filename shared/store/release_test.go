package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/ledger"
)

// pendingProgram: 1 point per 100.00, pending for 14 days.
const pendingProgram = `{
  "name": "Pending", "auto_enroll": true, "pending_days": 14,
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 10000}}],
  "point_value": {"minor": "1", "currency": "RUB"}
}`

func countKind(t *testing.T, e *env, member string, k ledger.Kind) int {
	t.Helper()
	es, err := e.st.Entries(context.Background(), "telco", member)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, en := range es {
		if en.Kind == k {
			n++
		}
	}
	return n
}

// Pending points count as available from their release time with no job
// visit: the member's first write after it books the release (one release
// entry) in its own transaction, before what it does. Each kind of write
// books it: a redemption can spend the released points at once, an accrual
// and a refund carry the release along.
func TestReleaseBookedByTheNextWrite(t *testing.T) {
	release := 14 * 24 * time.Hour
	tests := []struct {
		name  string
		write func(e *env) error
		// what the member has once the write is done
		avail, pend int64
	}{
		{"redemption spends released points", func(e *env) error {
			_, _, err := e.st.Redeem(context.Background(), "telco", "m", ledger.RedeemRequest{Points: 30, Capture: true})
			return err
		}, 70, 0},
		{"accrual", func(e *env) error {
			_, err := e.st.Apply(context.Background(), pay("telco", "m", "p2", 500000))
			return err
		}, 100, 50},
		{"refund of the released payment", func(e *env) error {
			_, err := e.st.Apply(context.Background(), refund("telco", "m", "r1", "p1", 400000))
			return err
		}, 60, 0},
		{"adjustment", func(e *env) error {
			_, _, err := e.st.Adjust(context.Background(), "telco", "m", ledger.Adjustment{Points: 5, Reason: "goodwill", Actor: "key_admin"})
			return err
		}, 105, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newStepClock()
			e := newEnv(t, map[string]string{"telco": pendingProgram}, c.option())
			mustApply(t, e.st, pay("telco", "m", "p1", 1000000)) // 100 pending
			c.set(release - time.Second)
			if _, _, err := e.st.Redeem(context.Background(), "telco", "m", ledger.RedeemRequest{Points: 1, Capture: true}); !errors.Is(err, ledger.ErrInsufficientPoints) {
				t.Fatalf("a second before the release: %v, want insufficient points", err)
			}
			c.set(release)
			if err := tc.write(e); err != nil {
				t.Fatal(err)
			}
			m := e.member(t, "telco", "m")
			if m.Available != tc.avail || m.Pending != tc.pend || countKind(t, e, "m", ledger.KindRelease) != 1 {
				t.Fatalf("after the write: available %d pending %d, %d release entries; want %d, %d, 1",
					m.Available, m.Pending, countKind(t, e, "m", ledger.KindRelease), tc.avail, tc.pend)
			}
			e.audit(t, "telco", "m")
		})
	}
}

// Many writers at the release time book the release once: the member's
// version fences every transaction, so the losers re-read it booked. 20
// redemptions of 10 of the 100 released points: exactly 10 succeed.
func TestReleaseBookedOnceUnderConcurrency(t *testing.T) {
	c := newStepClock()
	e := newEnv(t, map[string]string{"telco": pendingProgram}, c.option())
	mustApply(t, e.st, pay("telco", "m", "p1", 1000000))
	c.set(14 * 24 * time.Hour)
	var ok, short atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := e.st.Redeem(context.Background(), "telco", "m", ledger.RedeemRequest{Points: 10, Capture: true})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ledger.ErrInsufficientPoints):
				short.Add(1)
			default:
				t.Errorf("redeem: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 10 || short.Load() != 10 {
		t.Fatalf("%d redemptions succeeded, %d short; want 10 and 10", ok.Load(), short.Load())
	}
	if n := countKind(t, e, "m", ledger.KindRelease); n != 1 {
		t.Fatalf("%d release entries, want 1", n)
	}
	if m := e.member(t, "telco", "m"); m.Available != 0 || m.Pending != 0 || m.ReleaseAt != 0 {
		t.Fatalf("member %+v, release at %d", m.Balances, m.ReleaseAt)
	}
	e.audit(t, "telco", "m")
}
