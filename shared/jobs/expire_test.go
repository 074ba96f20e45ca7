package jobs_test

import (
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

func TestExpireEntryAndEvent(t *testing.T) {
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

	pl := b.once(expireJob, t0.AddDate(0, 0, 40))
	e := pl.Entries[0]
	if e.Points != -19 || e.Delta != (ledger.Balances{Available: -14, Pending: -5}) {
		t.Fatalf("entry %+v", e)
	}
	var got []int64
	for _, l := range e.Breakdown {
		got = append(got, l.Points)
	}
	if len(got) != 3 || got[0] != -4 || got[1] != -5 || got[2] != -10 {
		t.Fatalf("lines (earliest first) %v", got)
	}
	for _, l := range []*ledger.Entry{a, c, pend} {
		if l.State != ledger.LotNone || l.Remaining != 0 || l.AvailableAt != nil {
			t.Fatalf("lot %d: %+v", l.Seq, l.Lot)
		}
	}
	if held.State != ledger.LotReview || never.Remaining != 6 || b.m.Available != 6 || b.m.Held != 3 || b.m.Review != 8 {
		t.Fatalf("after expiry: %+v", b.m.Balances)
	}
	evs := eventsOf([]jobs.Plan{pl}, jobs.TypePointsExpired)
	if len(evs) != 1 || len(pl.Events) != 1 {
		t.Fatalf("events %+v", pl.Events)
	}
	ev := evs[0]
	// Value: 19 × 0.5 kopeck = 9.5, reported half-even as 10.
	if ev.Points != 19 || ev.EntrySeq != e.Seq || ev.Value == nil || ev.Value.AmountMinor != 10 || ev.Value.Currency != "RUB" ||
		len(ev.Lots) != 3 || ev.Lots[0].EntrySeq != c.Seq || ev.Lots[0].Points != 4 || !ev.Time.Equal(t0.AddDate(0, 0, 40)) {
		t.Fatalf("event %+v", ev)
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
				for _, l := range e.Breakdown {
					if l.Rule != jobs.ReasonInactivity {
						t.Fatalf("line %+v", l)
					}
				}
				if lots[3].State != ledger.LotReview || b.m.Review != 40 || b.m.Available != 0 || b.m.Pending != 0 {
					t.Fatalf("balances %+v", b.m.Balances)
				}
				if ev := pl.Events[0]; ev.Lots[0].Reason != jobs.ReasonInactivity || !ev.Lots[0].ExpiresAt.Equal(tc.deadline) {
					t.Fatalf("event %+v", ev)
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
	ws := eventsOf(plans, jobs.TypePointsExpiring)
	if len(ws) != 1 || ws[0].Reason != jobs.ReasonInactivity || ws[0].EntrySeq != first.Seq || !ws[0].ExpiresAt.Equal(d) {
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
	pl := b.once(expireJob, d2.AddDate(0, 0, -7))
	if len(pl.Events) != 2 || len(pl.Warnings) != 2 || pl.Events[0].Points+pl.Events[1].Points != 15 ||
		!pl.Events[0].ExpiresAt.Equal(d2) || pl.Events[0].EntrySeq != first.Seq || pl.Events[0].ID == ws[0].ID {
		t.Fatalf("second warning %+v", pl)
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
	var all []jobs.Plan
	for _, at := range []time.Time{
		t0.Add(-time.Second), t0, t0.Add(time.Hour), t0.AddDate(0, 0, 1),
		t0.AddDate(0, 0, 2).Add(-time.Second), t0.AddDate(0, 0, 2), e.Add(-time.Second), e, c.ExpiresAt.Add(-time.Second), *c.ExpiresAt,
	} {
		all = append(all, b.run(expireJob, at)...)
	}
	// One event per lot: a and a2 as they enter the window, c two days later.
	ws := eventsOf(all, jobs.TypePointsExpiring)
	if len(ws) != 3 {
		t.Fatalf("%d warnings: %+v", len(ws), ws)
	}
	for i, w := range []struct {
		lot *ledger.Entry
		at  time.Time
	}{{a, t0}, {a2, t0}, {c, t0.AddDate(0, 0, 2)}} {
		ev := ws[i]
		if ev.EntrySeq != w.lot.Seq || ev.Points != w.lot.Points || !ev.Time.Equal(w.at) || !ev.ExpiresAt.Equal(*w.lot.ExpiresAt) ||
			ev.Reason != jobs.ReasonExpiry || ev.Value == nil {
			t.Fatalf("warning %d: %+v", i, ev)
		}
	}
	if ws[0].Value.AmountMinor != 5 {
		t.Fatalf("value %+v", ws[0].Value)
	}
	if ex := eventsOf(all, jobs.TypePointsExpired); len(ex) != 2 || ex[0].Points != 15 || ex[1].Points != 7 {
		t.Fatalf("expired events %+v", ex)
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
	if pl := jobs.Expire(&b.m, b.lots(), p, t0.AddDate(0, 0, 25), lotKey, nil); !pl.Empty() {
		t.Fatalf("warned without a Warned: %+v", pl)
	}
	b.m.Status = ledger.StatusErased
	if pl := b.once(expireJob, t0.AddDate(0, 0, 25)); !pl.Empty() {
		t.Fatalf("warned an erased member: %+v", pl)
	}
	pl := b.once(expireJob, t0.AddDate(0, 0, 30))
	if len(pl.Entries) != 1 || len(pl.Events) != 0 || b.m.Available != 0 {
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
	if len(warned) != 3 || len(warned[0].Warnings) != jobs.MaxChanges || len(eventsOf(warned, jobs.TypePointsExpiring)) != 200 {
		t.Fatalf("%d warning plans", len(warned))
	}
	if len(b.warned) != 200 {
		t.Fatalf("%d lots warned", len(b.warned))
	}
	expired := b.run(expireJob, end)
	if len(expired) != 3 || len(expired[0].Lots) != jobs.MaxChanges-1 || b.m.Available != 0 {
		t.Fatalf("%d expiry plans, available %d", len(expired), b.m.Available)
	}
	if n := len(eventsOf(expired, jobs.TypePointsExpired)); n != 3 {
		t.Fatalf("%d expired events", n)
	}
}
