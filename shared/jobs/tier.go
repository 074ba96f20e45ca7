package jobs

import (
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
)

// QualifyingWindowStart returns the first instant of the qualifying window
// that ends at now: now − qualifying_window_days calendar days in the program
// time zone. ok is false when the program has no window (everything counts).
func QualifyingWindowStart(p *program.Program, now time.Time) (start time.Time, ok bool) {
	if p == nil || p.QualifyingWindowDays <= 0 {
		return time.Time{}, false
	}
	return addDays(now, p.Location(), -p.QualifyingWindowDays), true
}

// QualifyingInWindow sums the tier-qualifying points of the entries made in
// [QualifyingWindowStart, now], both ends included: earn entries not held for
// review, review approvals, imported qualifying points (dated by when they
// were earned: ledger.Entry.EarnedAt), minus the reversals of those payments
// (each entry's Delta.Lifetime; a reversal counts only when the payment it
// reverses qualified in the window). entries may hold any of the member's entries, in
// any order; those outside the window are ignored. The sum is never negative.
func QualifyingInWindow(entries []ledger.Entry, p *program.Program, now time.Time) int64 {
	start, windowed := QualifyingWindowStart(p, now)
	in := func(t time.Time) bool {
		return !t.After(now) && (!windowed || !t.Before(start))
	}
	paid := map[string]bool{} // payments that qualified in the window
	var sum int64
	for i := range entries {
		e := &entries[i]
		if !in(e.EarnedAt()) || e.Delta.Lifetime <= 0 {
			continue
		}
		if e.QualifiesForTier() {
			sum += e.Delta.Lifetime
			if e.PaymentID != "" {
				paid[e.PaymentID] = true
			}
		}
	}
	for i := range entries {
		e := &entries[i]
		if e.Kind == ledger.KindReverse && e.Delta.Lifetime < 0 && in(e.At) && e.RefundOf != "" && paid[e.RefundOf] {
			sum += e.Delta.Lifetime
		}
	}
	return max(sum, 0)
}

// EvaluateTier plans the member's tier for qualifying points earned in the
// window (QualifyingInWindow): the highest tier whose threshold they reach,
// else the first tier — a downgrade, a confirmation or an upgrade — and
// rules.State.Qualifying = qualifying. The tier is rewritten only when the
// effective tier changes (an empty or unknown tier counts as the first tier,
// as accrual reads it, and is left as it is otherwise: rewriting it would
// announce a change that is none). The plan is empty when nothing changes,
// and for an erased member. See the package doc.
func EvaluateTier(m *ledger.Member, p *program.Program, qualifying int64) Plan {
	if m.Status == ledger.StatusErased {
		return Plan{}
	}
	qualifying = max(qualifying, 0)
	from, to := m.Rules.Tier, m.Rules.Tier
	if p != nil && len(p.Tiers) > 0 {
		target, ok := p.TierFor(qualifying)
		if !ok {
			target = p.Tiers[0]
		}
		if p.TierIndex(target.Name) != max(p.TierIndex(from), 0) {
			to = target.Name
		}
	}
	if to == from && qualifying == m.Rules.Qualifying {
		return Plan{}
	}
	return Plan{Tier: &TierUpdate{From: from, To: to, Qualifying: qualifying, Changed: to != from}}
}
