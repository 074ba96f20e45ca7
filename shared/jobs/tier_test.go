package jobs_test

import (
	"testing"
	"time"

	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
)

func TestQualifyingWindowBoundary(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tz     string
		days   int
		now    time.Time
		start  time.Time // first instant inside the window
		counts bool      // whether an entry at start counts (always) — and at start−1s (never)
	}{
		// 2029-02-28 − 365 days is the leap day 2028-02-29.
		{"leap day, 365 days", "UTC", 365, utc(2029, 2, 28, 12, 0, 0), utc(2028, 2, 29, 12, 0, 0), true},
		{"from the leap day back 366 days", "UTC", 366, utc(2028, 2, 29, 12, 0, 0), utc(2027, 2, 28, 12, 0, 0), true},
		{"month end, 30 days", "Europe/Moscow", 30, date(2026, 3, 2, 0, 0, 0, moscow), date(2026, 1, 31, 0, 0, 0, moscow), true},
		// 30 calendar days before 12:00 EDT on 30 March is 12:00 EST on 28 February (17:00Z).
		{"New York across DST", "America/New_York", 30, date(2026, 3, 30, 12, 0, 0, newYork), utc(2026, 2, 28, 17, 0, 0), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := prog(tc.tz)
			p.QualifyingWindowDays = tc.days
			if s, ok := jobs.QualifyingWindowStart(p, tc.now); !ok || !s.Equal(tc.start) {
				t.Fatalf("window starts %s, want %s", s, tc.start)
			}
			b := newBook(t, p, tc.start.AddDate(-1, 0, 0))
			b.earn(1, tc.start.Add(-time.Second), false) // just outside
			b.earn(10, tc.start, false)                  // first instant inside
			b.earn(100, tc.now, false)                   // last instant inside
			b.earn(1000, tc.now.Add(time.Second), false) // not yet
			if q := jobs.QualifyingInWindow(b.values(), p, tc.now); q != 110 {
				t.Fatalf("qualifying %d, want 110", q)
			}
		})
	}
}

func TestQualifyingCounts(t *testing.T) {
	t0 := utc(2026, 1, 1, 0, 0, 0)
	now := utc(2026, 12, 31, 0, 0, 0)
	p := prog("UTC")
	p.QualifyingWindowDays = 365
	b := newBook(t, p, t0.AddDate(-2, 0, 0))

	old := b.earn(500, t0.AddDate(-1, 0, 0), false) // before the window
	earned := b.earn(100, t0, false)                // +100
	b.refund(earned, earned.AmountMinor/4, t0)      // −25 (a quarter of 101 × 100 → 25 points)
	b.refund(old, old.AmountMinor, t0)              // refund in the window of a payment before it: 0
	held := b.earn(70, t0, true)                    // held: 0 ...
	b.approve(held, t0.AddDate(0, 0, 1))            // ... until approved: +70
	heldThenRefunded := b.earn(30, t0, true)
	b.refund(heldThenRefunded, heldThenRefunded.AmountMinor, t0) // reversed in review: 0
	b.bonus(40, t0)                                              // activity: does not qualify
	p.PendingDays = 10
	pend := b.earn(60, t0, false) // pending points qualify when earned: +60
	b.once(releaseJob, t0.AddDate(0, 0, 10))
	if pend.State != ledger.LotAvailable {
		t.Fatal("not released")
	}
	p.Expiry.RollingDays = 1
	b.earn(5, t0, false) // +5, and expiry takes nothing from qualifying
	b.once(expireJob, t0.AddDate(0, 0, 2))
	if _, err := b.hold(10, t0.AddDate(0, 0, 3), time.Hour); err != nil {
		t.Fatal(err)
	}
	if q := jobs.QualifyingInWindow(b.values(), p, now); q != 100-25+70+60+5 {
		t.Fatalf("qualifying %d, want %d", q, 100-25+70+60+5)
	}
	p.QualifyingWindowDays = 0 // no window: everything up to now
	// The old payment's 500 count now, and its full refund takes them back
	// (500 − 500): the same total as within the window.
	if q := jobs.QualifyingInWindow(b.values(), p, now); q != 100-25+70+60+5 {
		t.Fatalf("qualifying without a window %d", q)
	}
}

func TestEvaluateTier(t *testing.T) {
	now := utc(2026, 6, 1, 0, 0, 0)
	for _, tc := range []struct {
		name       string
		tier       string
		qual       int64 // the member's Qualifying before
		window     int64
		wantTier   string
		wantChange bool // Plan.Tier.Changed: stored, shared/domainevents announces tier.changed
		wantEmpty  bool
	}{
		{"downgrade one level", "gold", 6000, 4999, "silver", true, false},
		{"downgrade to the first tier", "gold", 6000, 0, "bronze", true, false},
		{"keep at the threshold", "gold", 6000, 5000, "gold", false, false},
		{"confirm, nothing changes", "silver", 1200, 1200, "silver", false, true},
		{"upgrade missed at accrual (lower threshold)", "bronze", 1200, 1200, "silver", true, false},
		{"empty tier is the first tier: left as it is", "", 0, 10, "", false, false},
		{"unknown tier, still the first: left as it is", "diamond", 9000, 10, "diamond", false, false},
		{"empty tier, qualifies for silver", "", 0, 1000, "silver", true, false},
		{"tier no longer in the program", "diamond", 9000, 9000, "gold", true, false},
		{"negative sum counts as zero", "silver", 1000, -5, "bronze", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := prog("UTC")
			b := newBook(t, p, now.AddDate(-1, 0, 0))
			b.m.Rules.Tier, b.m.Rules.Qualifying = tc.tier, tc.qual
			pl := jobs.EvaluateTier(&b.m, p, tc.window)
			if pl.Empty() != tc.wantEmpty {
				t.Fatalf("plan %+v", pl)
			}
			b.apply("tier", &pl)
			if b.m.Rules.Tier != tc.wantTier || b.m.Rules.Qualifying != max(tc.window, 0) {
				t.Fatalf("tier %q qualifying %d", b.m.Rules.Tier, b.m.Rules.Qualifying)
			}
			if changed := pl.Tier != nil && pl.Tier.Changed; changed != tc.wantChange {
				t.Fatalf("tier update %+v", pl.Tier)
			}
			if tc.wantChange && (pl.Tier.From != tc.tier || pl.Tier.To != tc.wantTier || pl.Tier.Qualifying != max(tc.window, 0)) {
				t.Fatalf("tier update %+v", *pl.Tier)
			}
			if again := jobs.EvaluateTier(&b.m, p, tc.window); !again.Empty() {
				t.Fatalf("second evaluation %+v", again)
			}
		})
	}
}

func TestEvaluateTierWithoutTiersOrMember(t *testing.T) {
	now := utc(2026, 6, 1, 0, 0, 0)
	p := prog("UTC")
	p.Tiers = nil
	b := newBook(t, p, now)
	pl := jobs.EvaluateTier(&b.m, p, 300)
	if pl.Tier == nil || pl.Tier.Changed || pl.Tier.From != pl.Tier.To || pl.Tier.Qualifying != 300 {
		t.Fatalf("plan %+v", pl)
	}
	earned := ledger.Entry{Kind: ledger.KindEarn, At: now, Points: 9000, Delta: ledger.Balances{Available: 9000, Lifetime: 9000}}
	if due := jobs.TierDue(&b.m, &earned, prog("UTC")); due.IsZero() {
		t.Fatal("no tier visit for a qualifying entry")
	}
	// An erased member is not evaluated, nor visited for it.
	b.m.Status = ledger.StatusErased
	if pl := jobs.EvaluateTier(&b.m, prog("UTC"), 9000); !pl.Empty() {
		t.Fatalf("erased member evaluated: %+v", pl)
	}
	if due := jobs.TierDue(&b.m, &earned, prog("UTC")); !due.IsZero() {
		t.Fatalf("erased member's tier due at %s", due)
	}
}

func TestTierDowngradeAcrossTheWindow(t *testing.T) {
	earned := date(2028, 2, 29, 12, 0, 0, moscow)
	p := prog("Europe/Moscow")
	b := newBook(t, p, earned.AddDate(0, -1, 0))
	b.earn(5000, earned, false)
	b.earn(900, earned.AddDate(0, 6, 0), false)
	if b.m.Rules.Tier != "gold" {
		t.Fatalf("tier %q after accrual", b.m.Rules.Tier)
	}
	end := date(2029, 2, 28, 12, 0, 0, moscow) // the leap day + 365 days: still inside
	if pl := b.once(tierJob, end.Add(-time.Second)); !pl.Empty() || b.m.Rules.Qualifying != 5900 {
		t.Fatalf("before the boundary: %+v", pl)
	}
	if pl := b.once(tierJob, end); !pl.Empty() {
		t.Fatalf("at the boundary: %+v", pl)
	}
	pl := b.once(tierJob, end.Add(time.Second))
	if b.m.Rules.Tier != "bronze" || b.m.Rules.Qualifying != 900 || pl.Tier == nil || !pl.Tier.Changed ||
		pl.Tier.From != "gold" || pl.Tier.To != "bronze" {
		t.Fatalf("after the boundary: tier %q qualifying %d update %+v", b.m.Rules.Tier, b.m.Rules.Qualifying, pl.Tier)
	}
}
