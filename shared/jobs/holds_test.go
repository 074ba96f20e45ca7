package jobs_test

import (
	"errors"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
)

func TestStaleHoldBoundary(t *testing.T) {
	t0 := utc(2026, 1, 31, 23, 45, 0)
	exp := t0.Add(30 * time.Minute) // crosses midnight and the month end
	for _, tc := range []struct {
		name    string
		at      time.Time
		release bool
	}{
		{"one second before", exp.Add(-time.Second), false},
		{"exactly at ExpiresAt", exp, true},
		{"one second after", exp.Add(time.Second), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := prog("UTC")
			p.Expiry.RollingDays = 30
			b := newBook(t, p, t0)
			early := b.earn(6, t0.Add(-time.Hour), false)
			late := b.earn(10, t0, false)
			rid, err := b.hold(12, t0, 30*time.Minute) // 6 from early, 6 from late
			if err != nil {
				t.Fatal(err)
			}
			pl := b.once(holdsJob, tc.at)
			if !tc.release {
				if !pl.Empty() || b.holds[0].Status != ledger.RedemptionHeld || b.m.Held != 12 {
					t.Fatalf("released early: %+v", pl)
				}
				return
			}
			e := pl.Entries[0]
			if e.Kind != ledger.KindRedeem || e.Points != 12 || e.RedemptionID != rid || e.Delta != (ledger.Balances{Held: -12, Available: 12}) {
				t.Fatalf("entry %+v", e)
			}
			r := b.holds[0]
			if r.Status != ledger.RedemptionExpired || r.SettledAt == nil || !r.SettledAt.Equal(tc.at) {
				t.Fatalf("hold %+v", r)
			}
			if early.Remaining != 6 || early.State != ledger.LotAvailable || late.Remaining != 10 || b.m.Available != 16 || b.m.Held != 0 {
				t.Fatalf("lots %d/%d, balances %+v", early.Remaining, late.Remaining, b.m.Balances)
			}
		})
	}
}

func TestStaleHoldRepaysDebtFirst(t *testing.T) {
	t0 := utc(2026, 3, 1, 9, 0, 0)
	p := prog("UTC")
	p.Expiry.RollingDays = 100
	b := newBook(t, p, t0)
	a := b.earn(6, t0, false) // expires first
	p.Expiry.RollingDays = 200
	c := b.earn(4, t0, false)
	spent := b.earn(9, t0, false)
	// Hold 10 from a and c; spend the rest, then refund it: debt 9, available −9.
	if _, err := b.hold(10, t0, time.Hour); err != nil {
		t.Fatal(err)
	}
	rid, _ := b.hold(9, t0, 2*time.Hour)
	b.capture(rid, t0)
	b.refund(spent, spent.AmountMinor, t0)
	if b.m.Debt != 9 || a.Remaining != 0 || c.Remaining != 0 {
		t.Fatalf("setup: %+v", b.m.Balances)
	}
	pl := b.once(holdsJob, t0.Add(time.Hour))
	e := pl.Entries[0]
	if e.Delta != (ledger.Balances{Held: -10, Available: 10, Debt: -9}) || len(e.Breakdown) != 2 {
		t.Fatalf("entry %+v", e)
	}
	// Debt is repaid from the lot expiring first: a gives its 6, c 3 of its 4.
	if a.Remaining != 0 || a.State != ledger.LotNone || c.Remaining != 1 || b.m.Available != 1 || b.m.Debt != 0 {
		t.Fatalf("lots %d/%d, balances %+v", a.Remaining, c.Remaining, b.m.Balances)
	}
}

func TestStaleHoldsSeveral(t *testing.T) {
	t0 := utc(2026, 3, 1, 9, 0, 0)
	p := prog("UTC")
	b := newBook(t, p, t0)
	lot := b.earn(100, t0, false)
	var ids []string
	for i, ttl := range []time.Duration{3 * time.Hour, time.Hour, 2 * time.Hour, 4 * time.Hour} {
		rid, err := b.hold(int64(10+i), t0, ttl)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rid)
	}
	b.capture(ids[2], t0)                 // settled: not stale
	b.holds = append(b.holds, b.holds[0]) // listed twice: released once
	b.holds[3].ExpiresAt = nil            // never expires
	pl := b.once(holdsJob, t0.Add(3*time.Hour))
	if len(pl.Entries) != 2 || pl.Entries[0].RedemptionID != ids[1] || pl.Entries[1].RedemptionID != ids[0] || len(pl.Lots) != 1 {
		t.Fatalf("plan %+v", pl)
	}
	// The same lot got both holds back, in one change.
	if lot.Remaining != 100-12-13 || b.m.Held != 13 {
		t.Fatalf("lot %d, held %d", lot.Remaining, b.m.Held)
	}
}

func TestStaleHoldMissingLot(t *testing.T) {
	t0 := utc(2026, 3, 1, 9, 0, 0)
	b := newBook(t, prog("UTC"), t0)
	b.earn(10, t0, false)
	if _, err := b.hold(5, t0, time.Minute); err != nil {
		t.Fatal(err)
	}
	pl, err := jobs.ReleaseStaleHolds(&b.m, b.holds, map[string]*ledger.Entry{}, t0.Add(time.Hour))
	if !errors.Is(err, jobs.ErrLotMissing) || !pl.Empty() {
		t.Fatalf("err %v, plan %+v", err, pl)
	}
}

func TestStaleHoldsCutAtMaxChanges(t *testing.T) {
	t0 := utc(2026, 3, 1, 9, 0, 0)
	b := newBook(t, prog("UTC"), t0)
	for i := range 60 {
		b.earn(1, t0.Add(time.Duration(i)*time.Second), false)
	}
	for range 30 {
		if _, err := b.hold(2, t0, time.Minute); err != nil { // 4 items each
			t.Fatal(err)
		}
	}
	plans := b.run(holdsJob, t0.Add(time.Hour))
	if len(plans) != 2 || len(plans[0].Holds) != jobs.MaxChanges/4 || !plans[0].More || b.m.Held != 0 || b.m.Available != 60 {
		t.Fatalf("%d plans, held %d", len(plans), b.m.Held)
	}
}
