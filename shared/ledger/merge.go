package ledger

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// Member merge: two external ids of one partner that turn out to be one
// person become one member. The survivor keeps its id; the absorbed member
// is emptied into it and its id resolves to the survivor from then on (the
// store follows MergedInto). The rules, each chosen so that nothing is lost,
// nothing counted twice and no limit escaped:
//
//   - Lots: every open lot of the absorbed member (available or pending)
//     moves to the survivor as one "merge" entry of the survivor carrying
//     that lot, with its expiry, release time and expiry warning unchanged
//     (so no point lives longer or shorter, and none is announced twice),
//     naming the absorbed member's entry it came from (Counterpart,
//     CounterpartSeq). The absorbed lot is emptied and records where its
//     points went (Lot.MovedTo), so a refund of its payment finds them. Moved
//     available points repay the survivor's debt first, as every available
//     credit does.
//   - Balances: available, pending and lifetime points are summed; debt is
//     carried over (the absorbed member's debt is repaid at once from the
//     survivor's available lots, earliest expiry first, as far as they go:
//     no available lot stays beside debt). Held points and points in review
//     are not moved: the merge is refused (ErrMergeBlocked) while the
//     absorbed member has an open redemption hold or points in review —
//     capture or cancel the holds and decide the review first (each names
//     lots of the absorbed member that a decision must still find).
//   - The absorbed member's ledger stays as it was, readable, and ends with
//     one "merge" entry that empties it (every balance to zero); the
//     survivor's ends with the moved lots' entries and one "merge" entry for
//     the rest (the debt carried, the lifetime points). Each of the two
//     closing entries names the other (invariant 4: every balance change is
//     one entry, on each side).
//   - Rules state (rules.MergeState): qualifying points summed, the higher
//     tier (or the one the summed qualifying points reach, if higher still:
//     an upgrade happens at once, never a downgrade), streaks kept per
//     subscription (the longer of two), tags unioned, cap and fraud counters
//     summed, campaign use summed. Once-only activities: the union (the
//     counts summed). Last activity: the later. Points sent today (the daily
//     transfer limit): summed.
//   - Both members must be active; an absorbed (merged) member can be
//     neither side again (ErrAlreadyMerged), and an erased one is not found.
//   - A survivor holds at most MaxAbsorbed absorbed ids (its own and those of
//     members it absorbed): each is checked on its payments (deduplication).
//
// Lifetime points move with the person: the merge earns nothing and expires
// nothing (the stats roll-up counts neither), and it is no member activity.

// Errors of merges.
var (
	// ErrMergeSame: a member cannot absorb itself.
	ErrMergeSame = errors.New("a member cannot absorb itself")
	// ErrAlreadyMerged: the member was merged into another member before.
	ErrAlreadyMerged = errors.New("the member was merged into another member")
	// ErrMergeBlocked: the absorbed member has open redemption holds or
	// points in review.
	ErrMergeBlocked = errors.New("the absorbed member has open redemption holds or points in review")
	// ErrMergeLimit: more open lots than one merge moves, or more absorbed
	// ids than a member holds.
	ErrMergeLimit = errors.New("the merge is larger than one merge can be")
)

// MaxAbsorbed bounds the ids merged into one member.
const MaxAbsorbed = 10

// Merge breakdown rules: the absorbed member's entry, a survivor's entry
// carrying a moved lot, the survivor's closing entry.
const (
	MergeOut = "out"
	MergeLot = "lot"
	MergeIn  = "in"
)

// MergeRequest asks to merge a member into another.
type MergeRequest struct {
	// Reason: optional free text (kept in both closing entries and the audit trail).
	Reason string
	// Actor: the API key id that asked.
	Actor string
	// MaxItems bounds the lot writes one merge may make (what is left of a
	// transaction's items): two per moved lot (the absorbed lot emptied, the
	// survivor's entry carrying it) and one per survivor lot repaying the
	// absorbed member's debt. 0: no bound.
	MaxItems int
}

// Merged is what a merge booked.
type Merged struct {
	// Lots: the survivor's entries carrying the moved lots, in booking order.
	Lots []Entry
	// In: the survivor's closing entry (booked after Lots); Out: the absorbed
	// member's entry.
	In, Out Entry
	// Moved: the absorbed member's lots, emptied (MovedTo set).
	Moved []*Entry
	// Repaid: the survivor's lots that repaid the absorbed member's debt.
	Repaid []*Entry
}

// Merge moves absorbed (its open lots: aLots) into survivor under program p
// and books the entries on both (see the rules above). sLots are the
// survivor's available lots (used only to repay the absorbed member's debt);
// openHolds is the number of the absorbed member's open redemption holds.
// Both members and the lots are changed in place; nothing changes on error:
// ErrMergeSame, ErrAlreadyMerged, ErrMemberInactive (either), ErrMergeBlocked,
// ErrMergeLimit.
func Merge(survivor, absorbed *Member, aLots, sLots []*Entry, openHolds int, p *program.Program, req MergeRequest, now time.Time) (Merged, error) {
	s, a := survivor, absorbed
	if err := mergeable(s, a, openHolds); err != nil {
		return Merged{}, err
	}
	ids := absorbedIDs(s, a)
	if len(ids) > MaxAbsorbed {
		return Merged{}, fmt.Errorf("%w: %s/%s would hold %d absorbed ids, at most %d", ErrMergeLimit, s.PartnerID, s.ID, len(ids), MaxAbsorbed)
	}
	var open []*Entry
	for _, l := range aLots {
		switch {
		case l.Remaining <= 0:
		case l.State == LotAvailable || l.State == LotPending:
			open = append(open, l)
		default:
			return Merged{}, fmt.Errorf("%w: entry %d of %s/%s has points in review", ErrMergeBlocked, l.Seq, a.PartnerID, a.ID)
		}
	}
	SortByExpiry(open)
	repaying := debtRepayment(sLots, a.Debt)
	if need := 2*len(open) + len(repaying); req.MaxItems > 0 && need > req.MaxItems {
		return Merged{}, fmt.Errorf("%w: %s/%s has %d open lots, more than one merge moves (%d, in one transaction)",
			ErrMergeLimit, a.PartnerID, a.ID, len(open), max((req.MaxItems-len(repaying))/2, 0))
	}
	now = now.UTC()
	before, qualifying := a.Balances, a.Rules.Qualifying
	var out Merged
	var moved Balances
	debt := s.Debt // what the moved available points repay first
	for _, l := range open {
		e, repaid := lotEntry(s, a, l, debt, now)
		debt -= repaid
		moved.Add(e.Delta)
		s.Apply(&e)
		l.Remaining, l.State, l.MovedTo = 0, LotNone, &LotMove{MemberID: s.ID, EntrySeq: e.Seq}
		out.Lots = append(out.Lots, e)
		out.Moved = append(out.Moved, l)
	}
	var repaid int64
	for _, l := range repaying {
		t := min(l.Remaining, before.Debt-repaid)
		l.Remaining -= t
		if l.Remaining == 0 {
			l.State = LotNone
		}
		repaid += t
		out.Repaid = append(out.Repaid, l)
	}

	tierBefore := s.Rules.Tier
	s.Rules = rules.MergeState(p, s.Rules, a.Rules)
	if p != nil {
		if t, ok := p.TierFor(s.Rules.Qualifying); ok && p.TierIndex(t.Name) > max(p.TierIndex(s.Rules.Tier), 0) {
			s.Rules.Tier = t.Name // the summed qualifying points reach a higher tier still
		}
	}
	for name, n := range a.Activities {
		if s.Activities == nil {
			s.Activities = map[string]int64{}
		}
		s.Activities[name] += n
	}
	if a.LastActivity.After(s.LastActivity) {
		s.LastActivity = a.LastActivity
	}
	s.SentDay, s.SentOnDay = rules.MergeCounter(s.SentDay, s.SentOnDay, a.SentDay, a.SentOnDay)
	if a.Due > 0 {
		s.LowerDue(time.Unix(a.Due, 0)) // the absorbed member's tier window, among others
	}
	s.Absorbed = ids

	pointsOut := -(before.Available + before.Pending)
	out.Out = Entry{Kind: KindMerge, At: now, Points: pointsOut, Counterpart: s.ID, Reason: req.Reason, Actor: req.Actor,
		Delta: Balances{Available: -before.Available, Pending: -before.Pending, Review: -before.Review, Held: -before.Held,
			Debt: -before.Debt, Lifetime: -before.Lifetime},
		Breakdown: []rules.Line{{Kind: rules.KindMerge, Rule: MergeOut, Points: pointsOut,
			Detail: fmt.Sprintf("merged into another member: %d lots moved", len(open))}}}
	a.Apply(&out.Out)
	a.Status, a.MergedInto, a.Absorbed = StatusMerged, s.ID, nil
	a.Rules.Qualifying, a.ReleaseAt, a.Due = 0, 0, 0

	lines := []rules.Line{{Kind: rules.KindMerge, Rule: MergeIn, Detail: fmt.Sprintf(
		"absorbed another member: %d lots moved (%d available, %d pending points), %d lifetime and %d qualifying points",
		len(open), moved.Available, moved.Pending, before.Lifetime, qualifying)}}
	if before.Debt > 0 {
		lines = append(lines, rules.Line{Kind: rules.KindDebt, Rule: "carried", Points: -before.Debt, Detail: "the absorbed member's debt"})
		if repaid > 0 {
			lines = append(lines, rules.Line{Kind: rules.KindDebt, Rule: "repay", Detail: fmt.Sprintf("%d of it repaid from available lots", repaid)})
		}
	}
	if s.Rules.Tier != tierBefore {
		lines = append(lines, rules.Line{Kind: rules.KindTierChange, Rule: s.Rules.Tier, Detail: "the higher tier of the two members"})
	}
	out.In = Entry{Kind: KindMerge, At: now, Points: -before.Debt, Breakdown: lines, Reason: req.Reason, Actor: req.Actor,
		Delta:       Balances{Available: -before.Debt, Debt: before.Debt - repaid, Lifetime: before.Lifetime},
		Counterpart: a.ID, CounterpartSeq: out.Out.Seq}
	s.Apply(&out.In)
	out.Out.CounterpartSeq = out.In.Seq
	return out, nil
}

// mergeable checks the members of a merge.
func mergeable(s, a *Member, openHolds int) error {
	switch {
	case s.PartnerID != a.PartnerID:
		return fmt.Errorf("merge %s/%s into %s/%s: members of two partners", a.PartnerID, a.ID, s.PartnerID, s.ID)
	case s.ID == a.ID:
		return fmt.Errorf("%s/%s: %w", s.PartnerID, s.ID, ErrMergeSame)
	}
	for _, m := range []*Member{a, s} {
		if m.Status == StatusMerged {
			return fmt.Errorf("%s/%s into %s: %w", m.PartnerID, m.ID, m.MergedInto, ErrAlreadyMerged)
		}
	}
	if err := RequireActive(s); err != nil {
		return err
	}
	if err := RequireActive(a); err != nil {
		return err
	}
	if openHolds > 0 || a.Held > 0 || a.Review > 0 {
		return fmt.Errorf("%w: %s/%s has %d open holds (%d points held) and %d points in review: capture or cancel the holds and decide the review first",
			ErrMergeBlocked, a.PartnerID, a.ID, openHolds, a.Held, a.Review)
	}
	return nil
}

// absorbedIDs is the survivor's absorbed ids after the merge: its own, the
// absorbed member and those it had absorbed.
func absorbedIDs(s, a *Member) []string {
	ids := slices.Clone(s.Absorbed)
	for _, id := range append([]string{a.ID}, a.Absorbed...) {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// debtRepayment is the survivor's available lots that repay debt points of
// the absorbed member, earliest expiry first.
func debtRepayment(sLots []*Entry, debt int64) []*Entry {
	if debt <= 0 {
		return nil
	}
	sorted := slices.Clone(sLots)
	SortByExpiry(sorted)
	var out []*Entry
	for _, l := range sorted {
		if debt <= 0 {
			break
		}
		if l.State != LotAvailable || l.Remaining <= 0 {
			continue
		}
		out = append(out, l)
		debt -= l.Remaining
	}
	return out
}

// lotEntry is the survivor's entry carrying the absorbed lot l (debt: the
// survivor's debt its available points repay first), and what it repaid.
func lotEntry(s, a *Member, l *Entry, debt int64, now time.Time) (Entry, int64) {
	r := l.Remaining
	lot := Lot{State: l.State, Remaining: r, ExpiresAt: l.ExpiresAt, AvailableAt: l.AvailableAt,
		WarnedFor: l.WarnedFor, WarnedValue: l.WarnedValue}
	lines := []rules.Line{{Kind: rules.KindMerge, Rule: MergeLot, Points: r,
		Detail: fmt.Sprintf("the lot of entry %d of the absorbed member", l.Seq)}}
	var d Balances
	var repaid int64
	switch l.State {
	case LotAvailable:
		repaid = min(debt, r)
		d = Balances{Available: r, Debt: -repaid}
		lot.Remaining = r - repaid
		if repaid > 0 {
			lines = append(lines, rules.Line{Kind: rules.KindDebt, Rule: "repay", Detail: fmt.Sprintf("%d of the points repaid debt", repaid)})
		}
	case LotPending:
		d = Balances{Pending: r}
		if l.AvailableAt != nil {
			s.LowerRelease(*l.AvailableAt)
		}
	}
	if lot.Remaining == 0 {
		lot = Lot{}
	}
	return Entry{Kind: KindMerge, At: now, Points: r, Delta: d, Lot: lot, Breakdown: lines,
		Counterpart: a.ID, CounterpartSeq: l.Seq}, repaid
}
