package jobs

import (
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
)

// addDays adds n calendar days to t on the wall clock of loc.
func addDays(t time.Time, loc *time.Location, n int) time.Time {
	return t.In(loc).AddDate(0, 0, n).UTC()
}

// InactivityDeadline returns when m's points expire for inactivity: its last
// activity (its enrolment when it has none) plus the program's
// expiry.inactivity_days calendar days. ok is false when the program has no
// inactivity expiry.
func InactivityDeadline(m *ledger.Member, p *program.Program) (deadline time.Time, ok bool) {
	if p == nil || p.Expiry.InactivityDays <= 0 {
		return time.Time{}, false
	}
	last := m.LastActivity
	if last.IsZero() {
		last = m.CreatedAt
	}
	if last.IsZero() {
		return time.Time{}, false
	}
	return addDays(last, p.Location(), p.Expiry.InactivityDays), true
}

// Expiry reasons: the rule of an expire entry's breakdown line, and
// ExpiringLot.Reason.
const (
	ReasonExpiry     = "expiry"     // the lot's own date (ledger.Lot.ExpiresAt)
	ReasonInactivity = "inactivity" // the member's inactivity deadline
)

// expiry computes lots' effective expiry for one member.
type expiry struct {
	deadline    time.Time
	hasDeadline bool
}

func expiryFor(m *ledger.Member, p *program.Program) expiry {
	d, ok := InactivityDeadline(m, p)
	return expiry{deadline: d, hasDeadline: ok}
}

// of returns when lot l expires — the earlier of its own date and the
// inactivity deadline — and why; ok is false when it never does. Only
// available and pending lots with points left expire.
func (x expiry) of(l *ledger.Entry) (at time.Time, reason string, ok bool) {
	if l.Remaining <= 0 || (l.State != ledger.LotAvailable && l.State != ledger.LotPending) {
		return time.Time{}, "", false
	}
	if l.ExpiresAt != nil {
		at, reason, ok = l.ExpiresAt.UTC(), ReasonExpiry, true
	}
	if x.hasDeadline && (!ok || x.deadline.Before(at)) {
		at, reason, ok = x.deadline, ReasonInactivity, true
	}
	return at, reason, ok
}

// ExpiringLot is a lot that expires, when and why: an entry of ExpiringBy and
// of Plan.Warnings.
type ExpiringLot struct {
	Lot       *ledger.Entry
	ExpiresAt time.Time
	// Reason is ReasonExpiry (the lot's own date) or ReasonInactivity.
	Reason string
	// Value (in Plan.Warnings only) is what the lot's remaining points are
	// worth (ledger.ReportedValue): the caller records it on the lot with the
	// expiry (ledger.Lot.WarnedValue), and points.expiring carries it.
	Value *ledger.Money
}

// ExpiringBy lists m's lots that expire at or before until, earliest first,
// by the same rule the expiry job applies (Expire): a lot's effective expiry
// is the earlier of its own date and the member's inactivity deadline, and
// only available and pending lots with points left expire. The member view's
// "expiring in the next 30 days" is this function, so it cannot disagree with
// what the job will do. lots may hold lots in any state.
func ExpiringBy(m *ledger.Member, lots []*ledger.Entry, p *program.Program, until time.Time) []ExpiringLot {
	if p == nil {
		p = &program.Program{}
	}
	x := expiryFor(m, p)
	var xs []expiring
	for _, l := range distinct(lots) {
		if at, reason, ok := x.of(l); ok && !at.After(until) {
			xs = append(xs, expiring{l, at, reason})
		}
	}
	sortExpiring(xs)
	out := make([]ExpiringLot, 0, len(xs))
	for _, e := range xs {
		out = append(out, ExpiringLot{Lot: e.lot, ExpiresAt: e.at, Reason: e.reason})
	}
	return out
}
