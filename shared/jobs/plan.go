package jobs

import "github.com/accrue/accrue/shared/ledger"

// MaxChanges bounds the items one plan changes — entries, lots, redemptions
// (and a reward's stock per released hold), lots warned about — so that the
// plan, with the member item and a few items of the caller's, fits one
// TransactWriteItems (100 items). A plan cut short sets More.
const MaxChanges = 90

// Plan is what one job decides for one member. The zero Plan changes nothing.
type Plan struct {
	// Entries to book, in order. Each carries its Kind, At, Points, Breakdown
	// and Delta; Seq and the member ids are set when booked.
	Entries []ledger.Entry
	// Lots changed, with their new values (one change per lot).
	Lots []LotChange
	// Holds settled by ReleaseStaleHolds, with their new status. The caller
	// writes each back conditional on its Version (and increments it), as
	// store.Cancel does, and gives a reward's stock back.
	Holds []ledger.Redemption
	// Warnings: lots to announce as expiring at ExpiresAt. The caller records
	// each on its lot (see Warned); that write is what shared/domainevents
	// publishes as points.expiring. Reason says why, as ExpiringBy does; only
	// the expiry is stored.
	Warnings []ExpiringLot
	// Tier is the member's new tier state (EvaluateTier); nil = unchanged.
	Tier *TierUpdate
	// More is set when the plan was cut at MaxChanges: commit it and plan again.
	More bool
}

// LotChange is the new value of one lot.
type LotChange struct {
	// Entry is the lot as it was passed in (the caller's handle on it: the
	// store keys its writes by this pointer). Planning does not change it.
	Entry *ledger.Entry
	// Lot is its new value.
	Lot ledger.Lot
}

// TierUpdate is the member's new tier state. A change (From → To) reaches
// partners as tier.changed, which shared/domainevents derives from the
// member item's old and new images once the plan is stored.
type TierUpdate struct {
	From, To   string
	Qualifying int64
	// Changed: To differs from From (the effective tier changes; an empty or
	// unknown tier that stays the first one is not rewritten).
	Changed bool
}

// Empty reports whether the plan changes nothing.
func (pl *Plan) Empty() bool {
	return len(pl.Entries) == 0 && len(pl.Lots) == 0 && len(pl.Holds) == 0 &&
		len(pl.Warnings) == 0 && pl.Tier == nil
}

// Apply carries the plan out on m: it writes the new lot values into the lots
// that were planned on (calling changed for each, if not nil), sets the tier
// state and books the entries in order with book (m.Apply when nil; a ledger
// transaction passes its Book method, which applies the entry to the same
// member). Holds and Warnings are left to the caller. Apply a plan once, to
// the member it was planned on.
func (pl *Plan) Apply(m *ledger.Member, book func(*ledger.Entry), changed func(*ledger.Entry)) {
	for _, c := range pl.Lots {
		c.Entry.Lot = c.Lot
		if changed != nil {
			changed(c.Entry)
		}
	}
	if t := pl.Tier; t != nil {
		m.Rules.Tier, m.Rules.Qualifying = t.To, t.Qualifying
	}
	for i := range pl.Entries {
		if book != nil {
			book(&pl.Entries[i])
		} else {
			m.Apply(&pl.Entries[i])
		}
	}
}

// scratch holds working copies of the lots a plan changes, in the order they
// were first touched, so that planning never writes into its inputs.
type scratch struct {
	order  []*ledger.Entry
	copies map[*ledger.Entry]*ledger.Entry
}

func newScratch() *scratch { return &scratch{copies: map[*ledger.Entry]*ledger.Entry{}} }

// get returns the working copy of lot l.
func (s *scratch) get(l *ledger.Entry) *ledger.Entry {
	if c, ok := s.copies[l]; ok {
		return c
	}
	c := *l
	s.copies[l] = &c
	s.order = append(s.order, l)
	return &c
}

func (s *scratch) changes() []LotChange {
	var out []LotChange
	for _, l := range s.order {
		out = append(out, LotChange{Entry: l, Lot: s.copies[l].Lot})
	}
	return out
}

// repay takes up to debt points from lots (working copies, all available),
// earliest expiry first, and returns how many it took. It is what a credit
// does when debt is owed: the debt shrinks, the lots keep what is left.
func repay(lots []*ledger.Entry, debt int64) int64 {
	if debt <= 0 {
		return 0
	}
	sorted := append([]*ledger.Entry(nil), lots...)
	ledger.SortByExpiry(sorted)
	var took int64
	for _, l := range sorted {
		t := min(debt-took, l.Remaining)
		if t <= 0 {
			continue
		}
		l.Remaining -= t
		took += t
		if l.Remaining == 0 {
			l.State = ledger.LotNone
		}
	}
	return took
}

// distinct drops repeated lots (the same pointer twice) and nil ones.
func distinct(lots []*ledger.Entry) []*ledger.Entry {
	seen := make(map[*ledger.Entry]bool, len(lots))
	out := make([]*ledger.Entry, 0, len(lots))
	for _, l := range lots {
		if l != nil && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}
