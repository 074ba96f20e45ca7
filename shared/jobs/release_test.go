package jobs_test

import (
	"testing"
	"time"

	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
)

func TestReleasePendingBoundary(t *testing.T) {
	// Earned on the last day of January in Moscow with a 30-day refund window:
	// available on 2 March at the same wall-clock time (January 31 + 30 days).
	earned := date(2026, 1, 31, 10, 0, 0, moscow)
	due := date(2026, 3, 2, 10, 0, 0, moscow)
	// Across the switch to summer time, 30 calendar days in New York are 719
	// hours: 12:00 EST on 28 February → 12:00 EDT on 30 March (16:00Z), an
	// hour before 30×24h (17:00Z, the UTC program's due time).
	nyEarned := date(2026, 2, 28, 12, 0, 0, newYork)
	nyDue := date(2026, 3, 30, 16, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		tz      string
		earned  time.Time
		at      time.Time
		release bool
	}{
		{"one second before", "Europe/Moscow", earned, due.Add(-time.Second), false},
		{"exactly at AvailableAt", "Europe/Moscow", earned, due, true},
		{"one second after", "Europe/Moscow", earned, due.Add(time.Second), true},
		{"New York: second before 12:00 EDT", "America/New_York", nyEarned, nyDue.Add(-time.Second), false},
		{"New York: 12:00 EDT", "America/New_York", nyEarned, nyDue, true},
		{"UTC: 16:00Z is too early", "UTC", nyEarned, nyDue, false},
		{"UTC: 17:00Z", "UTC", nyEarned, nyDue.Add(time.Hour), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := prog(tc.tz)
			p.PendingDays = 30
			b := newBook(t, p, tc.earned)
			lot := b.earn(120, tc.earned, false)
			if lot.State != ledger.LotPending {
				t.Fatalf("lot %+v", lot.Lot)
			}
			pl := b.once(releaseJob, tc.at)
			if !tc.release {
				if !pl.Empty() || b.m.Pending != 120 {
					t.Fatalf("released early (due %s): %+v", lot.AvailableAt, pl)
				}
				return
			}
			e := pl.Entries[0]
			want := ledger.Balances{Pending: -120, Available: 120}
			if e.Kind != ledger.KindRelease || e.Points != 120 || e.Delta != want || len(e.Breakdown) != 1 || !e.At.Equal(tc.at) {
				t.Fatalf("entry %+v", e)
			}
			if lot.State != ledger.LotAvailable || lot.Remaining != 120 || lot.AvailableAt != nil || lot.ExpiresAt != nil {
				t.Fatalf("lot after release %+v", lot.Lot)
			}
			if b.m.Available != 120 || b.m.Pending != 0 || b.m.Lifetime != 120 {
				t.Fatalf("balances %+v", b.m.Balances)
			}
			// A release is no more than that: pending → available is not
			// announced again (shared/domainevents announced it when earned).
			if len(pl.Entries) != 1 || len(pl.Lots) != 1 || len(pl.Warnings) != 0 || pl.Tier != nil || len(pl.Holds) != 0 {
				t.Fatalf("plan %+v", pl)
			}
		})
	}
}

func TestReleaseRepaysDebtFirst(t *testing.T) {
	t0 := date(2026, 5, 1, 12, 0, 0, time.UTC)
	for _, tc := range []struct {
		name            string
		debt            int64 // created by refunding a spent payment
		wantRemaining   [2]int64
		wantDelta       ledger.Balances
		wantAvail       int64
		wantLines, wDbt int64
	}{
		{"no debt", 0, [2]int64{40, 30}, ledger.Balances{Pending: -70, Available: 70}, 70, 2, 0},
		// Repaid from the lot expiring first (the second one), then the other.
		{"debt under one lot", 20, [2]int64{40, 10}, ledger.Balances{Pending: -70, Available: 70, Debt: -20}, 50, 3, 0},
		{"debt over one lot", 50, [2]int64{20, 0}, ledger.Balances{Pending: -70, Available: 70, Debt: -50}, 20, 3, 0},
		{"debt over both", 90, [2]int64{0, 0}, ledger.Balances{Pending: -70, Available: 70, Debt: -70}, -20, 3, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := prog("UTC")
			b := newBook(t, p, t0)
			if tc.debt > 0 {
				spent := b.earn(tc.debt, t0, false)
				rid, err := b.hold(tc.debt, t0, time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				b.capture(rid, t0)
				b.refund(spent, spent.AmountMinor, t0)
				if b.m.Debt != tc.debt {
					t.Fatalf("debt %d", b.m.Debt)
				}
			}
			p.PendingDays = 14
			p.Expiry.RollingDays = 365
			late := b.earn(40, t0.Add(time.Hour), false)
			p.Expiry.RollingDays = 200
			early := b.earn(30, t0.Add(2*time.Hour), false)
			b.check()
			pl := b.once(releaseJob, t0.AddDate(0, 0, 15))
			e := pl.Entries[0]
			if e.Delta != tc.wantDelta || int64(len(e.Breakdown)) != tc.wantLines {
				t.Fatalf("delta %+v, %d lines", e.Delta, len(e.Breakdown))
			}
			if late.Remaining != tc.wantRemaining[0] || early.Remaining != tc.wantRemaining[1] {
				t.Fatalf("lots keep %d and %d, want %v", late.Remaining, early.Remaining, tc.wantRemaining)
			}
			if b.m.Available != tc.wantAvail || b.m.Debt != tc.wDbt {
				t.Fatalf("available %d debt %d", b.m.Available, b.m.Debt)
			}
		})
	}
}

func TestReleaseLeavesOthersAlone(t *testing.T) {
	t0 := date(2026, 5, 1, 12, 0, 0, time.UTC)
	p := prog("UTC")
	p.PendingDays = 10
	p.Expiry.RollingDays = 5 // shorter than the refund window
	b := newBook(t, p, t0)
	expired := b.earn(10, t0, false)
	p.Expiry.RollingDays = 0
	held := b.earn(20, t0, true)
	later := b.earn(30, t0.AddDate(0, 0, 5), false)
	p.PendingDays = 0
	avail := b.earn(40, t0, false)
	pl := b.once(releaseJob, t0.AddDate(0, 0, 10))
	if !pl.Empty() {
		t.Fatalf("released %+v", pl.Entries)
	}
	if expired.State != ledger.LotPending || held.State != ledger.LotReview || later.State != ledger.LotPending || avail.State != ledger.LotAvailable {
		t.Fatal("lots changed")
	}
	// The expired pending lot is Expire's, whichever job runs first.
	exp := b.once(expireJob, t0.AddDate(0, 0, 10))
	if exp.Entries[0].Delta != (ledger.Balances{Pending: -10}) || expired.State != ledger.LotNone {
		t.Fatalf("expire %+v", exp.Entries[0])
	}
	// A pending lot without AvailableAt has nothing holding it back.
	later.AvailableAt = nil
	pl = b.once(releaseJob, t0.AddDate(0, 0, 10))
	if pl.Entries[0].Points != 30 {
		t.Fatalf("release %+v", pl.Entries[0])
	}
}

func TestReleaseCutAtMaxChanges(t *testing.T) {
	t0 := date(2026, 5, 1, 12, 0, 0, time.UTC)
	p := prog("UTC")
	p.PendingDays = 1
	b := newBook(t, p, t0)
	for i := range 200 {
		b.earn(1, t0.Add(time.Duration(i)*time.Second), false)
	}
	plans := b.run(releaseJob, t0.AddDate(0, 0, 2))
	if len(plans) != 3 || !plans[0].More || !plans[1].More || plans[2].More {
		t.Fatalf("%d plans", len(plans))
	}
	var n int64
	for _, pl := range plans {
		n += pl.Entries[0].Points
	}
	if n != 200 || b.m.Available != 200 || len(plans[0].Lots) != jobs.MaxChanges-1 {
		t.Fatalf("released %d, available %d", n, b.m.Available)
	}
	// The earliest due go first.
	if plans[0].Lots[0].Entry.Seq != 1 {
		t.Fatalf("first released lot %d", plans[0].Lots[0].Entry.Seq)
	}
}
