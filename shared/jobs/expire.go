package jobs

import (
	"sort"
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// Warned reports whether lot was already announced as expiring at
// expiresAt. The store passes
//
//	func(l *ledger.Entry, at time.Time) bool { return l.WarnedFor != nil && l.WarnedFor.Equal(at) }
//
// and records each of Plan.Warnings as w.Lot.WarnedFor = &w.ExpiresAt, with
// w.Lot.WarnedValue = w.Value (a lot write, counted in MaxChanges already). A
// nil Warned turns warnings off: a caller that cannot remember them must not
// announce the same lot every run.
type Warned func(lot *ledger.Entry, expiresAt time.Time) bool

type expiring struct {
	lot    *ledger.Entry
	at     time.Time
	reason string
}

func sortExpiring(xs []expiring) {
	sort.SliceStable(xs, func(i, j int) bool {
		if !xs[i].at.Equal(xs[j].at) {
			return xs[i].at.Before(xs[j].at)
		}
		return xs[i].lot.Seq < xs[j].lot.Seq
	})
}

// Expire expires the member's available and pending lots whose effective
// expiry (their date, or the inactivity deadline) is at or before now, and
// lists in Plan.Warnings those expiring within expiry.warn_days that were not
// announced for that expiry yet. lots may hold lots in any state; the earliest
// expiring go first when the plan is cut at MaxChanges. See the package doc.
func Expire(m *ledger.Member, lots []*ledger.Entry, p *program.Program, now time.Time, warned Warned) Plan {
	if p == nil {
		p = &program.Program{}
	}
	now = now.UTC()
	x := expiryFor(m, p)
	warn := warned != nil && p.Expiry.WarnDays > 0 && warns(m)
	var gone, soon []expiring
	for _, l := range distinct(lots) {
		at, reason, ok := x.of(l)
		switch {
		case !ok:
		case !at.After(now):
			gone = append(gone, expiring{l, at, reason})
		case warn && !addDays(at, p.Location(), -p.Expiry.WarnDays).After(now) && !warned(l, at):
			soon = append(soon, expiring{l, at, reason})
		}
	}
	sortExpiring(gone)
	sortExpiring(soon)

	var pl Plan
	budget := MaxChanges
	if len(gone) > 0 {
		if len(gone) > budget-1 {
			gone, pl.More = gone[:budget-1], true
		}
		budget -= 1 + len(gone)
		expireLots(&pl, m, gone, p, now)
	}
	if len(soon) > budget {
		soon, pl.More = soon[:budget], true
	}
	for _, s := range soon {
		pl.Warnings = append(pl.Warnings, ExpiringLot{Lot: s.lot, ExpiresAt: s.at, Reason: s.reason,
			Value: ledger.ReportedValue(p, s.lot.Remaining)})
	}
	return pl
}

// warns reports whether m's lots are announced before they expire: an erased
// member has no one to warn. Its points still expire (and pending ones are
// still released), so that the partner's liability stays right.
func warns(m *ledger.Member) bool { return m.Status != ledger.StatusErased }

// expireLots books the expiry of lots (all due) into pl: one expire entry,
// with the value of the points it takes (ledger.ReportedValue).
func expireLots(pl *Plan, m *ledger.Member, gone []expiring, p *program.Program, now time.Time) {
	s := newScratch()
	var d ledger.Balances
	var lines []rules.Line
	for _, g := range gone {
		c := s.get(g.lot)
		n := c.Remaining
		switch c.State {
		case ledger.LotAvailable:
			d.Available -= n
		case ledger.LotPending:
			d.Pending -= n
		}
		c.Remaining, c.State, c.AvailableAt = 0, ledger.LotNone, nil
		lines = append(lines, rules.Line{Kind: rules.KindExpire, Rule: g.reason, Points: -n, Detail: expireDetail(g, m)})
	}
	n := -(d.Available + d.Pending)
	pl.Lots = s.changes()
	pl.Entries = append(pl.Entries, ledger.Entry{Kind: ledger.KindExpire, At: now, Points: -n, Breakdown: lines, Delta: d,
		Value: ledger.ReportedValue(p, n)})
}

func expireDetail(g expiring, m *ledger.Member) string {
	if g.reason == ReasonInactivity {
		last := m.LastActivity
		if last.IsZero() {
			last = m.CreatedAt
		}
		return lotName(g.lot) + ": no activity since " + last.UTC().Format(time.RFC3339)
	}
	return lotName(g.lot) + ": expired at " + g.at.Format(time.RFC3339)
}
