package jobs

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/rules"
)

// ErrLotMissing: a hold names a lot the caller did not pass in.
var ErrLotMissing = errors.New("lot of a hold not loaded")

// ReleaseStaleHolds releases the member's holds (status held) whose ExpiresAt
// is at or before now, like a cancel: status expired (SettledAt now), points
// back to the lots they came from, debt repaid from them first (earliest
// expiry first), one entry per hold. holds may hold redemptions in any
// status; lots must hold every lot the due holds name, by the key of their
// LotTake (ErrLotMissing otherwise, with an empty plan). The earliest expired
// holds go first when the plan is cut at MaxChanges (a hold is never split;
// the first one is always taken). See the package doc.
func ReleaseStaleHolds(m *ledger.Member, holds []ledger.Redemption, lots map[string]*ledger.Entry, now time.Time) (Plan, error) {
	now = now.UTC()
	seen := map[string]bool{}
	var due []ledger.Redemption
	for _, r := range holds {
		if r.Status != ledger.RedemptionHeld || r.ExpiresAt == nil || r.ExpiresAt.After(now) || seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		due = append(due, r)
	}
	sort.SliceStable(due, func(i, j int) bool {
		if !due[i].ExpiresAt.Equal(*due[j].ExpiresAt) {
			return due[i].ExpiresAt.Before(*due[j].ExpiresAt)
		}
		return due[i].ID < due[j].ID
	})

	var pl Plan
	s := newScratch()
	debt := m.Debt
	used := 0
	for _, r := range due {
		cost := holdCost(r)
		if used+cost > MaxChanges && len(pl.Entries) > 0 {
			pl.More = true
			break
		}
		used += cost
		var back int64
		var restored []*ledger.Entry
		for _, t := range r.Lots {
			l := lots[t.Lot]
			if l == nil {
				return Plan{}, fmt.Errorf("hold %s of %s/%s names lot %q: %w", r.ID, m.PartnerID, m.ID, t.Lot, ErrLotMissing)
			}
			c := s.get(l)
			back += c.Restore(t.Points).Available
			restored = append(restored, c)
		}
		repaid := repay(restored, debt)
		debt -= repaid
		lines := []rules.Line{{Kind: rules.KindRedeem, Rule: "expire", Points: r.Points,
			Detail: "hold expired at " + r.ExpiresAt.UTC().Format(time.RFC3339) + ": points returned"}}
		if repaid > 0 {
			lines = append(lines, rules.Line{Kind: rules.KindDebt, Rule: "repay", Detail: fmt.Sprintf("%d of the returned points repaid debt", repaid)})
		}
		pl.Entries = append(pl.Entries, ledger.Entry{
			Kind: ledger.KindRedeem, At: now, Points: r.Points, Breakdown: lines, RedemptionID: r.ID,
			Delta: ledger.Balances{Held: -r.Points, Available: back, Debt: -repaid},
		})
		settled := now
		r.Status, r.SettledAt = ledger.RedemptionExpired, &settled
		r.Lots = append([]ledger.LotTake(nil), r.Lots...)
		pl.Holds = append(pl.Holds, r)
	}
	pl.Lots = s.changes()
	return pl, nil
}

// holdCost is how many items releasing r writes: its entry, the redemption,
// its lots and a reward's stock.
func holdCost(r ledger.Redemption) int {
	n := 2 + len(r.Lots)
	if r.RewardID != "" {
		n++
	}
	return n
}
