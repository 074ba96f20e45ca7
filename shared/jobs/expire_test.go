package jobs_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
)

func utc(y int, mo time.Month, d, h, mi, s int) time.Time { return date(y, mo, d, h, mi, s, time.UTC) }

func TestExpireAtLotDate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		expiry program.Expiry
		tz     string
		earned time.Time
		want   time.Time // the lot's expiry
	}{
		// Month ends: January 31 + N days.
		{"Jan 31 + 1", program.Expiry{RollingDays: 1}, "UTC", utc(2026, 1, 31, 10, 0, 0), utc(2026, 2, 1, 10, 0, 0)},
		{"Jan 31 + 28", program.Expiry{RollingDays: 28}, "UTC", utc(2026, 1, 31, 10, 0, 0), utc(2026, 2, 28, 10, 0, 0)},
		{"Jan 31 + 29", program.Expiry{RollingDays: 29}, "UTC", utc(2026, 1, 31, 10, 0, 0), utc(2026, 3, 1, 10, 0, 0)},
		{"Jan 31 + 30", program.Expiry{RollingDays: 30}, "UTC", utc(2026, 1, 31, 10, 0, 0), utc(2026, 3, 2, 10, 0, 0)},
		{"Jan 31 + 31", program.Expiry{RollingDays: 31}, "UTC", utc(2026, 1, 31, 10, 0, 0), utc(2026, 3, 3, 10, 0, 0)},
		{"Jan 31 + 365", program.Expiry{RollingDays: 365}, "UTC", utc(2026, 1, 31, 10, 0, 0), utc(2027, 1, 31, 10, 0, 0)},
		{"Jan 31 late evening in Moscow + 1", program.Expiry{RollingDays: 1}, "Europe/Moscow",
			date(2026, 1, 31, 23, 30, 0, moscow), utc(2026, 2, 1, 20, 30, 0)},
		// Leap days.
		{"2028-02-29 + 365", program.Expiry{RollingDays: 365}, "UTC", utc(2028, 2, 29, 12, 0, 0), utc(2029, 2, 28, 12, 0, 0)},
		{"2028-02-29 + 366", program.Expiry{RollingDays: 366}, "UTC", utc(2028, 2, 29, 12, 0, 0), utc(2029, 3, 1, 12, 0, 0)},
		{"2027-02-28 + 366 lands on the leap day", program.Expiry{RollingDays: 366}, "UTC", utc(2027, 2, 28, 12, 0, 0), utc(2028, 2, 29, 12, 0, 0)},
		{"fixed 03-01 from 2028-02-28", program.Expiry{FixedDate: "03-01"}, "UTC", utc(2028, 2, 28, 12, 0, 0), utc(2028, 3, 1, 0, 0, 0)},
		{"fixed 03-01 from the leap day's last second", program.Expiry{FixedDate: "03-01"}, "UTC", utc(2028, 2, 29, 23, 59, 59), utc(2028, 3, 1, 0, 0, 0)},
		{"fixed 03-01 from 03-01 itself: next year", program.Expiry{FixedDate: "03-01"}, "UTC", utc(2028, 3, 1, 0, 0, 0), utc(2029, 3, 1, 0, 0, 0)},
		{"fixed 02-28 from the leap day", program.Expiry{FixedDate: "02-28"}, "UTC", utc(2028, 2, 29, 0, 0, 0), utc(2029, 2, 28, 0, 0, 0)},
		{"fixed 02-28 from 2027-03-01", program.Expiry{FixedDate: "02-28"}, "UTC", utc(2027, 3, 1, 0, 0, 0), utc(2028, 2, 28, 0, 0, 0)},
		{"fixed 03-01 in Moscow: 21:00Z on the leap day", program.Expiry{FixedDate: "03-01"}, "Europe/Moscow",
			date(2028, 2, 29, 12, 0, 0, moscow), utc(2028, 2, 29, 21, 0, 0)},
		// Program time zone at midnight.
		{"fixed 01-01 in Moscow", program.Expiry{FixedDate: "01-01"}, "Europe/Moscow", utc(2026, 6, 1, 0, 0, 0), utc(2026, 12, 31, 21, 0, 0)},
		{"fixed 01-01 in UTC", program.Expiry{FixedDate: "01-01"}, "UTC", utc(2026, 6, 1, 0, 0, 0), utc(2027, 1, 1, 0, 0, 0)},
		{"fixed with minimum days", program.Expiry{FixedDate: "01-01", FixedMinDays: 30}, "UTC", utc(2026, 12, 15, 0, 0, 0), utc(2028, 1, 1, 0, 0, 0)},
		{"rolling before fixed", program.Expiry{RollingDays: 10, FixedDate: "01-01"}, "UTC", utc(2026, 12, 15, 0, 0, 0), utc(2026, 12, 25, 0, 0, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := prog(tc.tz)
			p.Expiry = tc.expiry
			setup := func() (*book, *ledger.Entry) {
				b := newBook(t, p, tc.earned)
				lot := b.earn(15, tc.earned, false)
				if lot.ExpiresAt == nil || !lot.ExpiresAt.Equal(tc.want) {
					t.Fatalf("lot expires at %v, want %s", lot.ExpiresAt, tc.want)
				}
				return b, lot
			}
			b, lot := setup()
			if pl := b.once(expireJob, tc.want.Add(-time.Second)); !pl.Empty() || lot.Remaining != 15 {
				t.Fatalf("expired a second early: %+v", pl)
			}
			for _, at := range []time.Time{tc.want, tc.want.Add(time.Second)} {
				if at != tc.want {
					b, lot = setup()
				}
				pl := b.once(expireJob, at)
				if len(pl.Entries) != 1 || lot.Remaining != 0 || lot.State != ledger.LotNone || b.m.Available != 0 {
					t.Fatalf("at %s: plan %+v, lot %+v", at, pl, lot.Lot)
				}
				e := pl.Entries[0]
				if e.Kind != ledger.KindExpire || e.Points != -15 || e.Delta != (ledger.Balances{Available: -15}) || e.Breakdown[0].Rule != jobs.ReasonExpiry {
					t.Fatalf("entry %+v", e)
				}
				if b.m.Lifetime != 15 || b.m.Rules.Qualifying != 15 {
					t.Fatalf("expiry changed lifetime %d or qualifying %d", b.m.Lifetime, b.m.Rules.Qualifying)
				}
			}
		})
	}
}

func TestExpireMoscowAndUTCMidnight(t *testing.T) {
	earned := utc(2026, 6, 1, 0, 0, 0)
	books := map[string]*book{}
	for _, tz := range []string{"Europe/Moscow", "UTC"} {
		p := prog(tz)
		p.Expiry.FixedDate = "01-01"
		books[tz] = newBook(t, p, earned)
		books[tz].earn(10, earned, false)
	}
	for _, step := range []struct {
		at             time.Time
		moscow, inUTC  int64 // available after the run
		expiredMoscow  bool
		expiredInUTC   bool
		stepDescribing string
	}{
		{utc(2026, 12, 31, 20, 59, 59), 10, 10, false, false, "a second before Moscow's midnight"},
		{utc(2026, 12, 31, 21, 0, 0), 0, 10, true, false, "Moscow's midnight"},
		{utc(2026, 12, 31, 23, 59, 59), 0, 10, false, false, "a second before UTC midnight"},
		{utc(2027, 1, 1, 0, 0, 0), 0, 0, false, true, "UTC midnight"},
	} {
		pm := books["Europe/Moscow"].once(expireJob, step.at)
		pu := books["UTC"].once(expireJob, step.at)
		if books["Europe/Moscow"].m.Available != step.moscow || books["UTC"].m.Available != step.inUTC ||
			pm.Empty() == step.expiredMoscow || pu.Empty() == step.expiredInUTC {
			t.Fatalf("%s: Moscow %d (%v), UTC %d (%v)", step.stepDescribing,
				books["Europe/Moscow"].m.Available, !pm.Empty(), books["UTC"].m.Available, !pu.Empty())
		}
	}
}

// TestExpireEntryAndLots: one expire entry for every due lot (what
// shared/domainevents publishes as points.expired), a line per lot, earliest
// expiry first, each with its points and reason.
func TestExpireEntryAndLots(t *testing.T) {
	t0 := utc(2026, 3, 1, 9, 0, 0)
	p := prog("UTC")
	p.Expiry.RollingDays = 30
	b := newBook(t, p, t0)
	a := b.earn(10, t0.Add(2*time.Hour), false)         // expires last of the three
	c := b.earn(7, t0, false)                           // first
	if _, err := b.hold(3, t0, time.Hour); err != nil { // from c: 4 left
		t.Fatal(err)
	}
	p.PendingDays = 60
	pend := b.earn(5, t0.Add(time.Hour), false) // pending past its expiry
	held := b.earn(8, t0, true)                 // in review: does not expire
	p.PendingDays, p.Expiry.RollingDays = 0, 0
	never := b.earn(6, t0, false)
	b.check()

	seq := b.m.Seq
	now := t0.AddDate(0, 0, 40)
	pl := b.once(expireJob, now)
	if len(pl.Entries) != 1 {
		t.Fatalf("entries %+v", pl.Entries)
	}
	e := pl.Entries[0]
	if e.Kind != ledger.KindExpire || e.Points != -19 || e.Delta != (ledger.Balances{Available: -14, Pending: -5}) ||
		e.Seq != seq+1 || !e.At.Equal(now) {
		t.Fatalf("entry %+v", e)
	}
	// Earliest expiry first: c (4 left after the hold), pend, a.
	order := []*ledger.Entry{c, pend, a}
	want := []int64{-4, -5, -10}
	if len(e.Breakdown) != 3 || len(pl.Lots) != 3 {
		t.Fatalf("lines %+v, lots %+v", e.Breakdown, pl.Lots)
	}
	for i, l := range e.Breakdown {
		if l.Points != want[i] || l.Rule != jobs.ReasonExpiry ||
			l.Detail != fmt.Sprintf("entry %d: expired at %s", order[i].Seq, order[i].ExpiresAt.UTC().Format(time.RFC3339)) {
			t.Fatalf("line %d: %+v", i, l)
		}
		if pl.Lots[i].Entry != order[i] {
			t.Fatalf("lot change %d is lot %d, want %d", i, pl.Lots[i].Entry.Seq, order[i].Seq)
		}
	}
	for _, l := range []*ledger.Entry{a, c, pend} {
		if l.State != ledger.LotNone || l.Remaining != 0 || l.AvailableAt != nil {
			t.Fatalf("lot %d: %+v", l.Seq, l.Lot)
		}
	}
	if held.State != ledger.LotReview || never.Remaining != 6 || b.m.Available != 6 || b.m.Held != 3 || b.m.Review != 8 {
		t.Fatalf("after expiry: %+v", b.m.Balances)
	}
}

func TestExpiryNeverTouchesDebt(t *testing.T) {
	t0 := utc(2026, 3, 1, 9, 0, 0)
	p := prog("UTC")
	b := newBook(t, p, t0)
	spent := b.earn(50, t0, false)
	rid, _ := b.hold(50, t0, time.Hour)
	b.capture(rid, t0)
	b.refund(spent, spent.AmountMinor, t0) // debt 50
	p.PendingDays, p.Expiry.RollingDays = 30, 10
	b.earn(20, t0, false) // pending, expires before its release
	pl := b.once(expireJob, t0.AddDate(0, 0, 10))
	if pl.Entries[0].Delta != (ledger.Balances{Pending: -20}) || b.m.Debt != 50 || b.m.Available != -50 {
		t.Fatalf("entry %+v, balances %+v", pl.Entries[0], b.m.Balances)
	}
}

func TestExpireInactivity(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tz       string
		last     time.Time
		deadline time.Time // last + 90 calendar days in the program zone
	}{
		{"Moscow", "Europe/Moscow", date(2026, 1, 31, 23, 30, 0, moscow), utc(2026, 5, 1, 20, 30, 0)},
		// 1 February 12:00 EST + 90 days = 2 May 12:00 EDT: 16:00Z, not 17:00Z.
		{"New York across DST", "America/New_York", date(2026, 2, 1, 12, 0, 0, newYork), utc(2026, 5, 2, 16, 0, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := prog(tc.tz)
			p.Expiry.InactivityDays = 90
			p.Expiry.RollingDays = 365
			setup := func() (*book, []*ledger.Entry) {
				b := newBook(t, p, tc.last.AddDate(0, -1, 0))
				old := b.earn(10, tc.last.AddDate(0, 0, -20), false)
				p.Expiry.RollingDays = 0
				never := b.earn(20, tc.last.AddDate(0, 0, -10), false)
				p.Expiry.RollingDays = 365
				review := b.earn(40, tc.last.Add(-time.Hour), true)
				p.PendingDays = 200
				pend := b.earn(30, tc.last, false) // the last activity
				p.PendingDays = 0
				if d, ok := jobs.InactivityDeadline(&b.m, p); !ok || !d.Equal(tc.deadline) {
					t.Fatalf("deadline %s, want %s", d, tc.deadline)
				}
				return b, []*ledger.Entry{old, never, pend, review}
			}
			b, _ := setup()
			if pl := b.once(expireJob, tc.deadline.Add(-time.Second)); !pl.Empty() {
				t.Fatalf("expired a second early: %+v", pl)
			}
			for _, at := range []time.Time{tc.deadline, tc.deadline.Add(time.Second)} {
				b, lots := setup()
				pl := b.once(expireJob, at)
				e := pl.Entries[0]
				if e.Delta != (ledger.Balances{Available: -30, Pending: -30}) || len(e.Breakdown) != 3 {
					t.Fatalf("entry %+v", e)
				}
				// Every line gives inactivity as the reason and names the
				// last activity the deadline (checked above) counts from.
				for i, l := range e.Breakdown {
					lot := pl.Lots[i].Entry
					if l.Rule != jobs.ReasonInactivity ||
						l.Detail != fmt.Sprintf("entry %d: no activity since %s", lot.Seq, tc.last.UTC().Format(time.RFC3339)) {
						t.Fatalf("line %+v", l)
					}
				}
				// The first lot expired is the oldest: its own date (a year
				// away) is later than the deadline.
				if old := lots[0]; pl.Lots[0].Entry != old || !old.ExpiresAt.After(tc.deadline) || e.Breakdown[0].Points != -10 {
					t.Fatalf("first expired lot %+v, line %+v", pl.Lots[0], e.Breakdown[0])
				}
				if lots[3].State != ledger.LotReview || b.m.Review != 40 || b.m.Available != 0 || b.m.Pending != 0 {
					t.Fatalf("balances %+v", b.m.Balances)
				}
			}
		})
	}
}

func TestActivityMovesTheInactivityDeadline(t *testing.T) {
	t0 := utc(2026, 1, 1, 12, 0, 0)
	p := prog("UTC")
	p.Expiry = program.Expiry{InactivityDays: 90, WarnDays: 7}
	b := newBook(t, p, t0)
	first := b.earn(10, t0, false)
	d := t0.AddDate(0, 0, 90)

	plans := b.run(expireJob, d.AddDate(0, 0, -7))
	ws := warningsOf(plans)
	if len(ws) != 1 || ws[0].Reason != jobs.ReasonInactivity || ws[0].Lot != first || !ws[0].ExpiresAt.Equal(d) ||
		first.WarnedFor == nil || !first.WarnedFor.Equal(d) {
		t.Fatalf("warning %+v", ws)
	}
	// Activity three days before the deadline: a new deadline, nothing expires.
	act := d.AddDate(0, 0, -3)
	second := b.bonus(5, act)
	if pl := b.once(expireJob, d); !pl.Empty() {
		t.Fatalf("expired despite activity: %+v", pl)
	}
	d2 := act.AddDate(0, 0, 90)
	if pl := b.once(expireJob, d2.AddDate(0, 0, -7).Add(-time.Second)); !pl.Empty() {
		t.Fatalf("warned early: %+v", pl)
	}
	// Both lots are announced for the new deadline, the first one again.
	// Announced for d2, not d: a new expiry, so shared/domainevents sees the
	// warned attribute change and announces it anew.
	pl := b.once(expireJob, d2.AddDate(0, 0, -7))
	if len(pl.Warnings) != 2 || pl.Warnings[0].Lot.Remaining+pl.Warnings[1].Lot.Remaining != 15 ||
		pl.Warnings[0].Lot != first || pl.Warnings[1].Lot != second {
		t.Fatalf("second warning %+v", pl)
	}
	for _, w := range pl.Warnings {
		if !w.ExpiresAt.Equal(d2) || w.Reason != jobs.ReasonInactivity || !w.Lot.WarnedFor.Equal(d2) {
			t.Fatalf("second warning %+v", w)
		}
	}
	pl = b.once(expireJob, d2)
	if pl.Entries[0].Points != -15 || first.Remaining != 0 || second.Remaining != 0 || len(pl.Warnings) != 0 {
		t.Fatalf("expiry %+v", pl)
	}
}

func TestWarningsOncePerLot(t *testing.T) {
	t0 := date(2026, 1, 31, 10, 0, 0, moscow)
	p := prog("Europe/Moscow")
	p.Expiry = program.Expiry{RollingDays: 30, WarnDays: 30}
	b := newBook(t, p, t0)
	a := b.earn(10, t0, false)
	a2 := b.earn(5, t0, false)
	c := b.earn(7, t0.AddDate(0, 0, 2), false)
	e := *a.ExpiresAt // 2 March, 10:00 Moscow; warned from 31 January (30 days before)
	if !e.Equal(date(2026, 3, 2, 10, 0, 0, moscow)) {
		t.Fatalf("expires %s", e)
	}
	// The warnings of every run, with the time of the run that planned them.
	type warning struct {
		jobs.ExpiringLot
		at     time.Time
		points int64 // the lot's remaining points when it was announced
	}
	var ws []warning
	var all []jobs.Plan
	for _, at := range []time.Time{
		t0.Add(-time.Second), t0, t0.Add(time.Hour), t0.AddDate(0, 0, 1),
		t0.AddDate(0, 0, 2).Add(-time.Second), t0.AddDate(0, 0, 2), e.Add(-time.Second), e, c.ExpiresAt.Add(-time.Second), *c.ExpiresAt,
	} {
		plans := b.run(expireJob, at)
		for _, w := range warningsOf(plans) {
			ws = append(ws, warning{w, at, w.Lot.Remaining})
		}
		all = append(all, plans...)
	}
	// One warning per lot: a and a2 as they enter the window, c two days later.
	if len(ws) != 3 {
		t.Fatalf("%d warnings: %+v", len(ws), ws)
	}
	for i, w := range []struct {
		lot *ledger.Entry
		at  time.Time
	}{{a, t0}, {a2, t0}, {c, t0.AddDate(0, 0, 2)}} {
		got := ws[i]
		if got.Lot != w.lot || got.points != w.lot.Points || !got.at.Equal(w.at) || !got.ExpiresAt.Equal(*w.lot.ExpiresAt) ||
			got.Reason != jobs.ReasonExpiry {
			t.Fatalf("warning %d: %+v", i, got)
		}
	}
	// Two expiries: a and a2 together (15), then c (7).
	if ex := expireEntriesOf(all); len(ex) != 2 || ex[0].Points != -15 || ex[1].Points != -7 ||
		len(ex[0].Breakdown) != 2 || len(ex[1].Breakdown) != 1 {
		t.Fatalf("expire entries %+v", ex)
	}
	if a2.Remaining != 0 || b.m.Available != 0 {
		t.Fatal("not all expired")
	}
}

func TestWarningsNeedMemory(t *testing.T) {
	t0 := utc(2026, 1, 1, 0, 0, 0)
	p := prog("UTC")
	p.Expiry = program.Expiry{RollingDays: 30, WarnDays: 10}
	b := newBook(t, p, t0)
	b.earn(10, t0, false)
	if pl := jobs.Expire(&b.m, b.lots(), p, t0.AddDate(0, 0, 25), nil); !pl.Empty() {
		t.Fatalf("warned without a Warned: %+v", pl)
	}
	b.m.Status = ledger.StatusErased
	if pl := b.once(expireJob, t0.AddDate(0, 0, 25)); !pl.Empty() {
		t.Fatalf("warned an erased member: %+v", pl)
	}
	if due := jobs.LotDue(&b.m, b.es[0], p); !due.Equal(t0.AddDate(0, 0, 30)) {
		t.Fatalf("erased member's lot due at %s (a warning time?)", due)
	}
	// Its points expire all the same (the liability stays right), unannounced.
	pl := b.once(expireJob, t0.AddDate(0, 0, 30))
	if len(pl.Entries) != 1 || pl.Entries[0].Points != -10 || len(pl.Warnings) != 0 || b.m.Available != 0 || b.es[0].WarnedFor != nil {
		t.Fatalf("erased member's expiry: %+v", pl)
	}
}

func TestExpireCutAtMaxChanges(t *testing.T) {
	t0 := utc(2026, 1, 1, 0, 0, 0)
	p := prog("UTC")
	p.Expiry = program.Expiry{FixedDate: "12-31", WarnDays: 5}
	b := newBook(t, p, t0)
	for i := range 200 {
		b.earn(1, t0.Add(time.Duration(i)*time.Hour), false)
	}
	end := utc(2026, 12, 31, 0, 0, 0)
	warned := b.run(expireJob, end.AddDate(0, 0, -5))
	if len(warned) != 3 || len(warned[0].Warnings) != jobs.MaxChanges || len(warningsOf(warned)) != 200 {
		t.Fatalf("%d warning plans", len(warned))
	}
	if len(b.warned) != 200 {
		t.Fatalf("%d lots warned", len(b.warned))
	}
	expired := b.run(expireJob, end)
	if len(expired) != 3 || len(expired[0].Lots) != jobs.MaxChanges-1 || b.m.Available != 0 {
		t.Fatalf("%d expiry plans, available %d", len(expired), b.m.Available)
	}
	// One expire entry per plan, a line per lot: 200 in all.
	ex := expireEntriesOf(expired)
	lines := 0
	for _, e := range ex {
		lines += len(e.Breakdown)
	}
	if len(ex) != 3 || lines != 200 {
		t.Fatalf("%d expire entries with %d lines", len(ex), lines)
	}
}

// The expire entry and each warning carry what their points are worth at the
// program's point value, rounded half to even (a reported figure, like
// liability): points.expired and points.expiring publish it.
func TestExpiryCarriesTheValueOfThePoints(t *testing.T) {
	t0 := utc(2026, 11, 5, 12, 0, 0)
	at := func(days int) *time.Time { x := t0.AddDate(0, 0, days); return &x }
	p := prog("UTC") // 1 point = 0.5 RUB (kopecks)
	p.Expiry = program.Expiry{RollingDays: 365, WarnDays: 7}
	m := ledger.Member{PartnerID: "p", ID: "m", Status: ledger.StatusActive, CreatedAt: t0, LastActivity: t0, Balances: ledger.Balances{Available: 3 + 5 + 7}}
	lots := []*ledger.Entry{
		{Seq: 1, Lot: ledger.Lot{State: ledger.LotAvailable, Remaining: 3, ExpiresAt: at(-1)}}, // expired: 1.5
		{Seq: 2, Lot: ledger.Lot{State: ledger.LotAvailable, Remaining: 2, ExpiresAt: at(0)}},  // expired: 1
		{Seq: 3, Lot: ledger.Lot{State: ledger.LotAvailable, Remaining: 5, ExpiresAt: at(3)}},  // warned: 2.5 → 2
		{Seq: 4, Lot: ledger.Lot{State: ledger.LotAvailable, Remaining: 7, ExpiresAt: at(5)}},  // warned: 3.5 → 4
	}
	m.Available = 3 + 2 + 5 + 7
	pl := jobs.Expire(&m, lots, p, t0, func(*ledger.Entry, time.Time) bool { return false })
	if len(pl.Entries) != 1 || pl.Entries[0].Points != -5 {
		t.Fatalf("entries %+v", pl.Entries)
	}
	// 5 points × 0.5 = 2.5 kopecks: half to even, 2.
	if v := pl.Entries[0].Value; v == nil || *v != (ledger.Money{AmountMinor: 2, Currency: "RUB"}) {
		t.Errorf("expire entry value %+v, want 2 RUB minor", v)
	}
	want := map[int64]int64{3: 2, 4: 4} // 2.5 → 2, 3.5 → 4
	if len(pl.Warnings) != 2 {
		t.Fatalf("warnings %+v", pl.Warnings)
	}
	for _, w := range pl.Warnings {
		if w.Value == nil || w.Value.AmountMinor != want[w.Lot.Seq] || w.Value.Currency != "RUB" {
			t.Errorf("warning of lot %d: value %+v, want %d", w.Lot.Seq, w.Value, want[w.Lot.Seq])
		}
	}
	// A program without a point value (never a valid one) states no value.
	bare := *p
	bare.PointValue = program.PointValue{}
	pl = jobs.Expire(&m, lots, &bare, t0, func(*ledger.Entry, time.Time) bool { return false })
	if pl.Entries[0].Value != nil || pl.Warnings[0].Value != nil {
		t.Errorf("values without a point value: %+v %+v", pl.Entries[0].Value, pl.Warnings[0].Value)
	}
}
