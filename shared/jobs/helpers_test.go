package jobs_test

import (
	"fmt"
	"reflect"
	"time"

	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// tb is what the helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

func loc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

var (
	moscow  = loc("Europe/Moscow")
	newYork = loc("America/New_York")
)

func date(y int, mo time.Month, d, h, mi, s int, l *time.Location) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, l)
}

// prog is a program with three tiers, a one-year qualifying window and a
// point value of half a kopeck; tests set what they exercise.
func prog(tz string) *program.Program {
	return &program.Program{
		Name: "test", Timezone: tz,
		Tiers: []program.Tier{
			{Name: "bronze", Threshold: 0}, {Name: "silver", Threshold: 1000}, {Name: "gold", Threshold: 5000},
		},
		QualifyingWindowDays: 365,
		PointValue:           program.PointValue{Minor: program.MustRatio("0.5"), Currency: "RUB"},
	}
}

// book is a member, every entry booked on it (lots included), its
// redemptions and the lots announced as expiring (what Lot.WarnedFor will
// hold), built through the ledger's own operations so that it is consistent.
type book struct {
	t      tb
	p      *program.Program
	m      ledger.Member
	es     []*ledger.Entry
	holds  []ledger.Redemption
	warned map[int64]time.Time
	n      int
}

func newBook(t tb, p *program.Program, enrolled time.Time) *book {
	return &book{t: t, p: p, m: ledger.NewMember("telco", "cust-42", nil, enrolled),
		warned: map[int64]time.Time{}}
}

func lotKey(e *ledger.Entry) string { return fmt.Sprintf("E#%d", e.Seq) }

func (b *book) add(e *ledger.Entry) *ledger.Entry {
	b.es = append(b.es, e)
	return e
}

// earn accrues pts from a payment at `at` (ledger.Accrue: pending with the
// program's pending_days, in review when held), counting them toward the tier
// as the rules engine does.
func (b *book) earn(pts int64, at time.Time, held bool) *ledger.Entry {
	b.n++
	pay := payment.Payment{Type: payment.TypeSucceeded, EventID: fmt.Sprintf("evt-%d", b.n), PaymentID: fmt.Sprintf("pay-%d", b.n),
		AmountMinor: pts*100 + 100, Currency: "RUB", Category: "telecom", Time: at}
	st := b.m.Rules
	if !held {
		st.Qualifying += pts
		if t, ok := b.p.TierFor(st.Qualifying); ok && b.p.TierIndex(t.Name) > max(b.p.TierIndex(st.Tier), 0) {
			st.Tier = t.Name
		}
	}
	e := ledger.Accrue(&b.m, b.p, pay, rules.Result{Points: pts, Held: held, State: st}, at)
	return b.add(&e)
}

// bonus credits an activity's points (available, with the program's expiry).
func (b *book) bonus(pts int64, at time.Time) *ledger.Entry {
	d, lot := b.m.Credit(pts, ledger.LotAvailable)
	if exp, ok := b.p.LotExpiry(at); ok && lot.State != ledger.LotNone {
		exp = exp.UTC()
		lot.ExpiresAt = &exp
	}
	e := &ledger.Entry{Kind: ledger.KindBonus, At: at.UTC(), Points: pts, Delta: d, Lot: lot}
	b.m.LastActivity = at.UTC()
	b.m.Apply(e)
	return b.add(e)
}

// approve releases a lot held for review as store.Approve does (available).
func (b *book) approve(lot *ledger.Entry, at time.Time) *ledger.Entry {
	n := lot.Remaining
	d, nl := b.m.Credit(n, ledger.LotAvailable)
	d.Review = -n
	lot.State, lot.Remaining = nl.State, nl.Remaining
	b.m.Rules.Qualifying += n
	e := &ledger.Entry{Kind: ledger.KindRelease, At: at.UTC(), Points: n, Delta: d, PaymentRef: lot.PaymentRef}
	b.m.Apply(e)
	return b.add(e)
}

// refund reverses amount minor units of orig's payment (ledger.Reverse).
func (b *book) refund(orig *ledger.Entry, amount int64, at time.Time) *ledger.Entry {
	b.n++
	ref := payment.Payment{Type: payment.TypeRefunded, PaymentID: fmt.Sprintf("ref-%d", b.n), RefundOf: orig.PaymentID,
		AmountMinor: amount, Currency: "RUB", Time: at}
	rev, err := ledger.Reverse(&b.m, orig, b.lots(), ref, at)
	if err != nil {
		b.t.Fatalf("refund: %v", err)
	}
	rev.Entry.At = at.UTC()
	return b.add(&rev.Entry)
}

// hold reserves n available points until at+ttl, as store.Redeem does.
func (b *book) hold(n int64, at time.Time, ttl time.Duration) (string, error) {
	takes, d, err := ledger.Spend(&b.m, b.lots(), n, lotKey)
	if err != nil {
		return "", err
	}
	b.n++
	rid := fmt.Sprintf("rdm_%03d", b.n)
	d.Held += n
	b.m.Apply(b.add(&ledger.Entry{Kind: ledger.KindRedeem, At: at.UTC(), Points: -n, Delta: d, RedemptionID: rid}))
	exp := at.Add(ttl).UTC()
	b.holds = append(b.holds, ledger.Redemption{ID: rid, PartnerID: b.m.PartnerID, MemberID: b.m.ID,
		Status: ledger.RedemptionHeld, Points: n, Lots: takes, CreatedAt: at.UTC(), ExpiresAt: &exp})
	return rid, nil
}

// capture settles an open hold (its points are spent).
func (b *book) capture(rid string, at time.Time) {
	for i := range b.holds {
		r := &b.holds[i]
		if r.ID == rid && r.Status == ledger.RedemptionHeld {
			b.m.Apply(b.add(&ledger.Entry{Kind: ledger.KindRedeem, At: at.UTC(), RedemptionID: rid, Delta: ledger.Balances{Held: -r.Points}}))
			r.Status = ledger.RedemptionCaptured
			return
		}
	}
	b.t.Fatalf("no open hold %s", rid)
}

func (b *book) lots() []*ledger.Entry { return append([]*ledger.Entry(nil), b.es...) }

func (b *book) lotMap() map[string]*ledger.Entry {
	m := map[string]*ledger.Entry{}
	for _, e := range b.es {
		m[lotKey(e)] = e
	}
	return m
}

func (b *book) values() []ledger.Entry {
	out := make([]ledger.Entry, len(b.es))
	for i, e := range b.es {
		out[i] = *e
	}
	return out
}

// warnedFn is the Warned the store will pass once Lot.WarnedFor exists.
func (b *book) warnedFn() jobs.Warned {
	return func(l *ledger.Entry, at time.Time) bool {
		w, ok := b.warned[l.Seq]
		return ok && w.Equal(at)
	}
}

func (b *book) check() {
	b.t.Helper()
	if err := ledger.Check(b.m, b.values()); err != nil {
		b.t.Fatalf("invariants: %v", err)
	}
}

// snapshot is a deep copy of everything a plan must not write into.
type snapshot struct {
	m     ledger.Member
	es    []ledger.Entry
	holds []ledger.Redemption
}

func (b *book) snapshot() snapshot {
	s := snapshot{m: b.m, es: b.values()}
	for _, r := range b.holds {
		r.Lots = append([]ledger.LotTake(nil), r.Lots...)
		s.holds = append(s.holds, r)
	}
	return s
}

// A job plans on a book.
type job struct {
	name string
	plan func(b *book, now time.Time) jobs.Plan
}

var (
	releaseJob = job{"release", func(b *book, now time.Time) jobs.Plan { return jobs.ReleasePending(&b.m, b.lots(), b.p, now) }}
	expireJob  = job{"expire", func(b *book, now time.Time) jobs.Plan {
		return jobs.Expire(&b.m, b.lots(), b.p, now, b.warnedFn())
	}}
	tierJob = job{"tier", func(b *book, now time.Time) jobs.Plan {
		return jobs.EvaluateTier(&b.m, b.p, jobs.QualifyingInWindow(b.values(), b.p, now))
	}}
	holdsJob = job{"holds", func(b *book, now time.Time) jobs.Plan {
		pl, err := jobs.ReleaseStaleHolds(&b.m, b.holds, b.lotMap(), now)
		if err != nil {
			b.t.Fatalf("release stale holds: %v", err)
		}
		return pl
	}}
	allJobs = []job{releaseJob, expireJob, tierJob, holdsJob}
)

// run plans j at now and checks that planning wrote into nothing and that
// planning again gives the same plan; applies the
// plan as the store will and checks the invariants; then plans again at the
// same time: nothing is left to do (unless the plan was cut short, in which
// case it runs again until done). It returns the plans made.
func (b *book) run(j job, now time.Time) []jobs.Plan {
	b.t.Helper()
	var plans []jobs.Plan
	for range 100 {
		before := b.snapshot()
		pl := j.plan(b, now)
		if after := b.snapshot(); !reflect.DeepEqual(before, after) {
			b.t.Fatalf("%s at %s: planning changed its inputs", j.name, now)
		}
		if same := j.plan(b, now); !reflect.DeepEqual(pl, same) {
			b.t.Fatalf("%s at %s: two plans of the same state differ (planning must be deterministic)", j.name, now)
		}
		if pl.Empty() {
			if pl.More {
				b.t.Fatalf("%s: empty plan with More", j.name)
			}
			return plans
		}
		b.apply(j.name, &pl)
		plans = append(plans, pl)
		if !pl.More {
			if again := j.plan(b, now); !again.Empty() {
				b.t.Fatalf("%s at %s is not idempotent: second plan %+v", j.name, now, again)
			}
			return plans
		}
	}
	b.t.Fatalf("%s: no end of More", j.name)
	return nil
}

// once runs j at now and returns its only plan (the zero Plan when empty).
func (b *book) once(j job, now time.Time) jobs.Plan {
	b.t.Helper()
	plans := b.run(j, now)
	switch len(plans) {
	case 0:
		return jobs.Plan{}
	case 1:
		return plans[0]
	}
	b.t.Fatalf("%s: %d plans", j.name, len(plans))
	return jobs.Plan{}
}

// apply books a plan as the store will: Apply with a Book that appends the
// entry, the holds written back, the warnings recorded, the member's version
// bumped. It checks what every plan promises.
func (b *book) apply(name string, pl *jobs.Plan) {
	b.t.Helper()
	var changes int
	changes += len(pl.Entries) + len(pl.Lots) + len(pl.Warnings)
	for _, r := range pl.Holds {
		changes++
		if r.RewardID != "" {
			changes++
		}
	}
	if changes > jobs.MaxChanges {
		b.t.Fatalf("%s: %d changes, more than %d", name, changes, jobs.MaxChanges)
	}
	for _, e := range pl.Entries {
		var sum int64
		for _, l := range e.Breakdown {
			sum += l.Points
		}
		if sum != e.Points || len(e.Breakdown) == 0 {
			b.t.Fatalf("%s: %s entry of %d points has lines summing to %d", name, e.Kind, e.Points, sum)
		}
		if e.Delta.Lifetime != 0 || (e.Kind == ledger.KindExpire && e.Delta.Debt != 0) {
			b.t.Fatalf("%s: %s entry delta %+v", name, e.Kind, e.Delta)
		}
	}
	seq := b.m.Seq
	fromTier := b.m.Rules.Tier
	pl.Apply(&b.m, func(e *ledger.Entry) {
		b.m.Apply(e)
		cp := *e
		b.add(&cp)
	}, nil)
	for i, e := range pl.Entries {
		if e.Seq != seq+int64(i)+1 {
			b.t.Fatalf("%s: entry %d booked as seq %d", name, i, e.Seq)
		}
	}
	b.checkStored(name, pl, fromTier)
	for _, r := range pl.Holds {
		found := false
		for i := range b.holds {
			if b.holds[i].ID == r.ID {
				r.Version++
				b.holds[i], found = r, true
			}
		}
		if !found {
			b.t.Fatalf("%s: unknown hold %s", name, r.ID)
		}
	}
	for _, w := range pl.Warnings {
		b.warned[w.Lot.Seq] = w.ExpiresAt
		at := w.ExpiresAt
		w.Lot.WarnedFor = &at // as the store records it
	}
	b.m.Version++
	b.check()
}

// checkStored checks that what a plan stores is what shared/domainevents
// needs to announce it, now that the plans carry no events of their own:
// every expire entry names each lot's reason in its breakdown
// (points.expired), every warning is for a lot of this member that still has
// points to lose, announced once per expiry (points.expiring), and a tier
// update starts from the member's tier and says whether it changed
// (tier.changed). fromTier is the member's tier before the plan was applied.
func (b *book) checkStored(name string, pl *jobs.Plan, fromTier string) {
	b.t.Helper()
	for _, e := range pl.Entries {
		if e.Kind != ledger.KindExpire {
			continue
		}
		for _, l := range e.Breakdown {
			if l.Kind != rules.KindExpire || (l.Rule != jobs.ReasonExpiry && l.Rule != jobs.ReasonInactivity) || l.Points >= 0 {
				b.t.Fatalf("%s: expire line %+v", name, l)
			}
		}
	}
	announced := map[*ledger.Entry]bool{}
	for _, w := range pl.Warnings {
		mine := false
		for _, e := range b.es {
			mine = mine || e == w.Lot
		}
		if !mine || announced[w.Lot] {
			b.t.Fatalf("%s: warning for lot %d: not the member's, or twice in one plan", name, w.Lot.Seq)
		}
		announced[w.Lot] = true
		if at, ok := b.warned[w.Lot.Seq]; ok && at.Equal(w.ExpiresAt) {
			b.t.Fatalf("%s: lot %d announced again for %s", name, w.Lot.Seq, w.ExpiresAt)
		}
		if w.Lot.Remaining <= 0 || (w.Lot.State != ledger.LotAvailable && w.Lot.State != ledger.LotPending) ||
			(w.Reason != jobs.ReasonExpiry && w.Reason != jobs.ReasonInactivity) {
			b.t.Fatalf("%s: warning %+v for lot %+v", name, w, w.Lot.Lot)
		}
	}
	if t := pl.Tier; t != nil && (t.From != fromTier || t.Changed != (t.From != t.To)) {
		b.t.Fatalf("%s: tier update %+v from tier %q", name, *t, fromTier)
	}
}

// warningsOf returns the warnings of plans, in order.
func warningsOf(plans []jobs.Plan) []jobs.ExpiringLot {
	var out []jobs.ExpiringLot
	for _, pl := range plans {
		out = append(out, pl.Warnings...)
	}
	return out
}

// expireEntriesOf returns the expire entries of plans, in order.
func expireEntriesOf(plans []jobs.Plan) []ledger.Entry {
	var out []ledger.Entry
	for _, pl := range plans {
		for _, e := range pl.Entries {
			if e.Kind == ledger.KindExpire {
				out = append(out, e)
			}
		}
	}
	return out
}
