package jobs

import (
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
)

// When the jobs next have work for a member.
//
// The member item carries Due (ledger.Member.Due, a unix second) in a sparse
// index the member jobs query for due <= now, so a run reads only the members
// that have work. Two rules keep the index right:
//
//   - Writers only move Due earlier: whoever creates or restores a lot, opens a
//     hold or books qualifying points lowers Due to the candidates of what it
//     wrote (LotDue, HoldDue, TierDue). An early Due costs one visit that finds
//     nothing; a late one would delay a job, so writers never raise it.
//   - The member jobs, having brought the member up to date at now, set Due to
//     NextDue: the earliest candidate after now of everything the member has,
//     or 0 when nothing will ever be due (the member leaves the index).
//
// Candidates are the instants at which a planner's answer changes: a lot's
// effective expiry and its warning time (Expire), a hold's ExpiresAt
// (ReleaseStaleHolds), and the instant a qualifying entry leaves the rolling
// window (EvaluateTier). A pending lot's AvailableAt is not one: its points
// count as available from then on without a visit (ReleasePending applied
// by every read, booked by the member's next write), so the release of
// every payment's points costs no visit and no write of its own.

// LotDue returns the earliest instant at which the jobs have work for lot:
// its effective expiry (its date or the member's inactivity deadline) or the
// warning before it (when the program warns, the member is not erased and
// the lot was not announced for that expiry). Zero when none: a lot with
// nothing left, or in review. A pending lot's release is no job's work (see
// ReleaseTime).
func LotDue(m *ledger.Member, l *ledger.Entry, p *program.Program) time.Time {
	if p == nil {
		p = &program.Program{}
	}
	return lotDue(m, l, p, expiryFor(m, p))
}

func lotDue(m *ledger.Member, l *ledger.Entry, p *program.Program, x expiry) time.Time {
	var due time.Time
	at, _, ok := x.of(l)
	if !ok {
		return due
	}
	due = earliest(due, at)
	if p.Expiry.WarnDays > 0 && warns(m) && (l.WarnedFor == nil || !l.WarnedFor.Equal(at)) {
		due = earliest(due, addDays(at, p.Location(), -p.Expiry.WarnDays))
	}
	return due
}

// HoldDue returns when the stale-holds job releases r (zero unless it is held
// with an expiry).
func HoldDue(r *ledger.Redemption) time.Time {
	if r.Status != ledger.RedemptionHeld || r.ExpiresAt == nil {
		return time.Time{}
	}
	return r.ExpiresAt.UTC()
}

// TierDue returns the first instant at which entry e no longer counts in the
// member's qualifying window (QualifyingInWindow), when it counts at all: an
// earn, review-approval or imported qualifying entry with qualifying points, a program with tiers
// and a window, a member not erased. Zero otherwise.
func TierDue(m *ledger.Member, e *ledger.Entry, p *program.Program) time.Time {
	if p == nil || len(p.Tiers) == 0 || p.QualifyingWindowDays <= 0 || m.Status == ledger.StatusErased {
		return time.Time{}
	}
	if e.Delta.Lifetime <= 0 || !e.QualifiesForTier() {
		return time.Time{}
	}
	return windowExit(e.EarnedAt().UTC(), p)
}

// windowExit is the first whole second t at which an entry made at a is
// before QualifyingWindowStart(p, t). Calendar days are not a fixed length
// (DST), so the guess a + window days is checked and, in the rare hour a DST
// change makes it too early, moved on; never earlier than the true exit.
func windowExit(a time.Time, p *program.Program) time.Time {
	t := time.Unix(ledger.DueSecond(addDays(a, p.Location(), p.QualifyingWindowDays).Add(time.Nanosecond)), 0).UTC()
	for i := 0; i < 4; i++ {
		if start, _ := QualifyingWindowStart(p, t); start.After(a) {
			return t
		}
		t = t.Add(time.Hour)
	}
	return t
}

// NextDue returns the earliest instant after now at which the jobs have work
// for the member, given everything it has: lots (any state), holds (any
// status) and the entries that may count for its tier (any of its entries;
// those that do not count are ignored). Call it after the member was brought
// up to date at now (every planner returned an empty plan at now): then
// nothing is due at or before now, and instants up to now are skipped. Zero
// when nothing will ever be due.
func NextDue(m *ledger.Member, lots []*ledger.Entry, holds []ledger.Redemption, entries []ledger.Entry, p *program.Program, now time.Time) time.Time {
	if p == nil {
		p = &program.Program{}
	}
	now = now.UTC()
	var due time.Time
	after := func(t time.Time) {
		if t.After(now) {
			due = earliest(due, t)
		}
	}
	x := expiryFor(m, p)
	for _, l := range distinct(lots) {
		after(lotDue(m, l, p, x))
	}
	for i := range holds {
		after(HoldDue(&holds[i]))
	}
	// Tiers: the qualifying sum (and with it the tier) changes when an entry
	// leaves the window. Worth a visit only while there is something to lower.
	if m.Rules.Qualifying > 0 || max(p.TierIndex(m.Rules.Tier), 0) > 0 {
		for i := range entries {
			after(TierDue(m, &entries[i], p))
		}
	}
	return due
}

// earliest returns the earlier of a and b, ignoring zero times.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}
