package simulate

import (
	"cmp"
	"fmt"
	"github.com/accrue/accrue/shared/satint"
	"slices"
)

// assemble turns the plan and both replays into the Result.
func assemble(req Request, pl plan, cur, prop run) Result {
	res := Result{
		Payments:   make([]PaymentResult, len(pl.steps)),
		Duplicates: pl.duplicates,
		Skipped:    pl.skipped,
	}
	members := make(map[string]*MemberTotals)
	for i, s := range pl.steps {
		p := req.Payments[s.idx]
		c, q := cur.outcomes[i], prop.outcomes[i]
		res.Payments[i] = PaymentResult{
			Index: s.idx, PaymentID: p.PaymentID, MemberID: p.MemberID, Type: p.Type, RefundOf: p.RefundOf,
			Time: p.Time, Current: c, Proposed: q, Delta: q.Points - c.Points,
		}
		m := members[p.MemberID]
		if m == nil {
			m = &MemberTotals{MemberID: p.MemberID}
			members[p.MemberID] = m
		}
		m.Current = satint.Add(m.Current, c.Points)
		m.Proposed = satint.Add(m.Proposed, q.Points)
		res.Current = satint.Add(res.Current, c.Points)
		res.Proposed = satint.Add(res.Proposed, q.Points)
	}
	res.Delta = satint.Sub(res.Proposed, res.Current)

	res.Members = make([]MemberTotals, 0, len(members))
	for id, m := range members {
		m.Delta = satint.Sub(m.Proposed, m.Current)
		m.CurrentTier = tierName(req.Current, cur.states[id].Tier)
		m.ProposedTier = tierName(req.Proposed, prop.states[id].Tier)
		res.Members = append(res.Members, *m)
	}
	slices.SortFunc(res.Members, func(a, b MemberTotals) int { return cmp.Compare(a.MemberID, b.MemberID) })

	propL := liability(res.Proposed, req.Proposed.PointValue)
	curL, curCcy := int64(0), req.Proposed.PointValue.Currency
	if req.Current != nil {
		curL, curCcy = liability(res.Current, req.Current.PointValue), req.Current.PointValue.Currency
	}
	res.CurrentLiability = Money{AmountMinor: curL, Currency: curCcy}
	res.ProposedLiability = Money{AmountMinor: propL, Currency: req.Proposed.PointValue.Currency}
	if curCcy == res.ProposedLiability.Currency {
		// The difference of the two figures shown, so that they add up.
		res.LiabilityDelta = &Money{AmountMinor: satint.Sub(propL, curL), Currency: curCcy}
	} else {
		res.LiabilityNote = fmt.Sprintf("point values are in different currencies (current %s, proposed %s): no liability delta", curCcy, res.ProposedLiability.Currency)
	}
	return res
}
