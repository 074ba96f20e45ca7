package ledger

// The member operations other than accruals and refunds, as pure decisions:
// each takes the member (and the lots or items it needs, already loaded),
// decides, books its entry onto the member (Apply) and returns what changed.
// The store loads their inputs, calls them and commits what they changed in
// one transaction, conditional on what it read; on a concurrent change it
// reloads and calls them again.

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/accrue/accrue/shared/money"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// StatusErasing: a GDPR erasure of the member is in progress; nothing but
// the erasure itself may change it.
const StatusErasing Status = "erasing"

// Errors of member operations.
var (
	// ErrMemberInactive: the member is suspended, erased or being erased:
	// its points cannot change.
	ErrMemberInactive  = errors.New("member is not active")
	ErrActivityDone    = errors.New("activity already rewarded")
	ErrUnknownActivity = errors.New("activity not in the program")
	// ErrValueOutOfRange: the money value of a bill credit does not fit in an
	// int64 number of minor units.
	ErrValueOutOfRange = errors.New("the points' money value is out of range")
	// ErrNotInReview: the held entry's points are no longer in review.
	ErrNotInReview = errors.New("the held points are no longer in review")
)

// RequireActive fails with ErrMemberInactive unless m is active.
func RequireActive(m *Member) error {
	if m.Status != StatusActive {
		return fmt.Errorf("%s/%s is %s: %w", m.PartnerID, m.ID, m.Status, ErrMemberInactive)
	}
	return nil
}

// CreditLot books points earned outside payments (an activity, an admin's
// credit) as an available lot with the program's expiry; the member is active
// again as of now (inactivity expiry counts from it).
func CreditLot(m *Member, p *program.Program, kind Kind, points int64, lines []rules.Line, now time.Time) Entry {
	d, lot := m.Credit(points, LotAvailable)
	if lot.State != LotNone {
		if exp, ok := p.LotExpiry(now); ok {
			exp = exp.UTC()
			lot.ExpiresAt = &exp
		}
	}
	e := Entry{Kind: kind, At: now.UTC(), Points: points, Delta: d, Lot: lot, Breakdown: lines}
	m.LastActivity = now.UTC()
	m.Apply(&e)
	return e
}

// Activity credits the fixed points of the program's activity name: once
// ever for a once-only activity.
func Activity(m *Member, p *program.Program, name string, now time.Time) (Entry, error) {
	var act *program.Activity
	for i := range p.Activities {
		if p.Activities[i].Name == name {
			act = &p.Activities[i]
		}
	}
	if act == nil {
		return Entry{}, fmt.Errorf("%q: %w", name, ErrUnknownActivity)
	}
	if err := RequireActive(m); err != nil {
		return Entry{}, err
	}
	if act.Once && m.Activities[name] > 0 {
		return Entry{}, fmt.Errorf("%q: %w", name, ErrActivityDone)
	}
	if m.Activities == nil {
		m.Activities = map[string]int64{}
	}
	m.Activities[name]++
	return CreditLot(m, p, KindBonus, act.Points, []rules.Line{{Kind: rules.KindActivity, Rule: name, Points: act.Points}}, now), nil
}

// Adjustment is a manual credit (Points > 0) or debit (< 0) by an admin.
type Adjustment struct {
	Points int64
	Reason string
	Actor  string // the API key id that made it
}

// Adjust books a manual adjustment. A credit is a new available lot; a debit
// takes available points from lots earliest-expiry first and never takes the
// balance below zero (ErrInsufficientPoints). It returns the entry and the
// lots the debit took from (their Remaining already lowered).
func Adjust(m *Member, lots []*Entry, p *program.Program, a Adjustment, now time.Time, keyOf func(*Entry) string) (Entry, []LotTake, error) {
	if a.Points == 0 {
		return Entry{}, nil, errors.New("an adjustment of 0 points")
	}
	line := []rules.Line{{Kind: rules.KindAdjust, Rule: "manual", Points: a.Points, Detail: a.Reason}}
	var e Entry
	var takes []LotTake
	if a.Points > 0 {
		e = CreditLot(m, p, KindAdjust, a.Points, line, now)
	} else {
		var d Balances
		var err error
		if takes, d, err = Spend(m, lots, -a.Points, keyOf); err != nil {
			return Entry{}, nil, err
		}
		d.Lifetime = 0 // a debit takes points back; it does not unearn them
		e = Entry{Kind: KindAdjust, At: now.UTC(), Points: a.Points, Delta: d, Breakdown: line}
		m.Apply(&e)
	}
	e.Reason, e.Actor = a.Reason, a.Actor
	return e, takes, nil
}

// heldPoints is what is left to decide of a held lot: its remaining points
// while in review; 0 when a refund took all of it (a state the review queue
// no longer shows, kept for items decided before that).
func heldPoints(lot *Entry) (int64, error) {
	switch {
	case lot.State == LotReview:
		return lot.Remaining, nil
	case lot.State == LotNone && lot.Remaining == 0:
		return 0, nil
	}
	return 0, fmt.Errorf("held entry %d is %q: %w", lot.Seq, lot.State, ErrNotInReview)
}

// Approve releases the points of a lot held for review: they leave review
// for available (repaying debt first, as any available credit does), or for
// pending until the end of the original accrual's pending period when the
// program has one and it has not ended; they count toward lifetime and the
// tier (an upgrade happens at once, never a downgrade). The lot is changed in
// place; the "release" entry records the move.
func Approve(m *Member, lot *Entry, p *program.Program, actor string, now time.Time) (Entry, error) {
	n, err := heldPoints(lot)
	if err != nil {
		return Entry{}, err
	}
	state := LotAvailable
	var availableAt *time.Time
	if p.PendingDays > 0 {
		at := lot.At.In(p.Location()).AddDate(0, 0, p.PendingDays).UTC()
		if at.After(now) {
			state, availableAt = LotPending, &at
		}
	}
	d, nl := m.Credit(n, state)
	d.Review = -n
	lot.State, lot.Remaining, lot.AvailableAt = nl.State, nl.Remaining, nil
	if nl.State == LotPending {
		lot.AvailableAt = availableAt
	}
	detail := "approved: available"
	if state == LotPending {
		detail = "approved: pending until " + availableAt.Format(time.RFC3339)
	}
	lines := []rules.Line{{Kind: rules.KindReview, Rule: "approve", Points: n, Detail: detail}}
	m.Rules.Qualifying += n
	if t, ok := p.TierFor(m.Rules.Qualifying); ok && p.TierIndex(t.Name) > max(p.TierIndex(m.Rules.Tier), 0) {
		m.Rules.Tier = t.Name
		lines = append(lines, rules.Line{Kind: rules.KindTierChange, Rule: t.Name, Detail: "upgraded: qualifying points reached the threshold"})
	}
	e := Entry{Kind: KindRelease, At: now.UTC(), Points: n, Delta: d, Breakdown: lines}
	decided(&e, lot, actor)
	m.Apply(&e)
	return e, nil
}

// Reject refuses the points of a lot held for review: the lot leaves review
// with nothing remaining, and a "reverse" entry records it with the reason.
// Held points never counted in lifetime or qualifying points, so nothing
// else changes.
func Reject(m *Member, lot *Entry, reason, actor string, now time.Time) (Entry, error) {
	n, err := heldPoints(lot)
	if err != nil {
		return Entry{}, err
	}
	lot.Remaining, lot.State = 0, LotNone
	e := Entry{Kind: KindReverse, At: now.UTC(), Points: -n, Delta: Balances{Review: -n}, Reason: reason,
		Breakdown: []rules.Line{{Kind: rules.KindReview, Rule: "reject", Points: -n, Detail: reason}}}
	decided(&e, lot, actor)
	m.Apply(&e)
	return e, nil
}

// decided gives a review decision's entry its actor, the held payment's
// reference and its hold reasons.
func decided(e *Entry, lot *Entry, actor string) {
	e.Actor = actor
	e.PaymentRef = lot.PaymentRef
	e.HoldReasons = lot.HoldReasons
}

// Errors of redemptions.
var (
	ErrOutOfStock  = errors.New("reward out of stock")
	ErrTierTooLow  = errors.New("member's tier is below the reward's")
	ErrNotHeld     = errors.New("redemption is not an open hold")
	ErrHoldExpired = errors.New("hold has expired")
)

// Reward is an item of a partner's catalog.
type Reward struct {
	ID   string `dynamodbav:"id" json:"id"`
	Name string `dynamodbav:"name" json:"name"`
	Cost int64  `dynamodbav:"cost" json:"cost"`
	// Stock left; nil = unlimited. Redemptions never take it below zero.
	Stock *int64 `dynamodbav:"stock,omitempty" json:"stock,omitempty"`
	// MinTier: members below this tier cannot redeem it ("" = everyone).
	MinTier string `dynamodbav:"min_tier,omitempty" json:"min_tier,omitempty"`
}

// RedeemRequest asks for a redemption: Points, or RewardID (its cost), with As
// "bill_credit" for points paid toward the member's next bill.
type RedeemRequest struct {
	Points   int64
	RewardID string
	As       string
	Capture  bool          // settle at once instead of holding
	HoldFor  time.Duration // how long a hold stays open (default DefaultHold)
}

// DefaultHold is how long a redemption hold stays open unless asked otherwise.
const DefaultHold = 30 * time.Minute

// AsBillCredit is RedeemRequest.As for points paid toward the next bill.
const AsBillCredit = "bill_credit"

// Redeem holds (or, with Capture, redeems at once) points of an active
// member, taking available lots earliest-expiry first; a reward (nil for a
// points redemption) must be within the member's tier and in stock. Available
// never goes below zero (ErrInsufficientPoints). It returns the redemption
// (id id) and its entry, booked; the lots it took from are changed in place.
// A redemption is member activity (inactivity expiry counts from it); a hold
// makes the member due at its expiry (the stale-holds job).
func Redeem(m *Member, lots []*Entry, reward *Reward, p *program.Program, req RedeemRequest, id string, now time.Time, keyOf func(*Entry) string) (Redemption, Entry, error) {
	if err := RequireActive(m); err != nil {
		return Redemption{}, Entry{}, err
	}
	points := req.Points
	if reward != nil {
		if reward.MinTier != "" && p.TierIndex(m.Rules.Tier) < p.TierIndex(reward.MinTier) {
			return Redemption{}, Entry{}, fmt.Errorf("%w: %s needs %s", ErrTierTooLow, reward.ID, reward.MinTier)
		}
		if reward.Stock != nil && *reward.Stock < 1 {
			return Redemption{}, Entry{}, fmt.Errorf("%w: %s", ErrOutOfStock, reward.ID)
		}
		points = reward.Cost
	}
	var value *Money
	if req.As == AsBillCredit {
		var err error
		if value, err = BillCreditValue(p, points); err != nil {
			return Redemption{}, Entry{}, err
		}
	}
	takes, d, err := Spend(m, lots, points, keyOf)
	if err != nil {
		return Redemption{}, Entry{}, err
	}
	now = now.UTC()
	m.LastActivity = now
	red := Redemption{
		ID: id, PartnerID: m.PartnerID, MemberID: m.ID, Points: points, RewardID: req.RewardID, As: req.As,
		Lots: takes, CreatedAt: now, Status: RedemptionHeld, Value: value,
	}
	step := "hold"
	if req.Capture {
		red.Status, red.SettledAt, step = RedemptionCaptured, &now, "capture"
	} else {
		hold := req.HoldFor
		if hold <= 0 {
			hold = DefaultHold
		}
		d.Held += points
		exp := now.Add(hold)
		red.ExpiresAt = &exp
		m.LowerDue(exp)
	}
	e := Entry{Kind: KindRedeem, At: now, Points: -points, Delta: d, RedemptionID: id,
		Breakdown: []rules.Line{{Kind: rules.KindRedeem, Rule: step, Points: -points, Detail: redemptionDetail(req)}}}
	m.Apply(&e)
	return red, e, nil
}

func redemptionDetail(req RedeemRequest) string {
	switch {
	case req.RewardID != "":
		return "reward " + req.RewardID
	case req.As != "":
		return strings.ReplaceAll(req.As, "_", " ")
	}
	return "points"
}

// Capture settles an open hold: the held points are spent. r is changed in
// place (status, settled time).
func Capture(m *Member, r *Redemption, now time.Time) (Entry, error) {
	if err := openHold(r); err != nil {
		return Entry{}, err
	}
	now = now.UTC()
	if r.ExpiresAt != nil && !now.Before(*r.ExpiresAt) {
		return Entry{}, fmt.Errorf("%s expired at %s: %w", r.ID, r.ExpiresAt.Format(time.RFC3339), ErrHoldExpired)
	}
	r.Status, r.SettledAt = RedemptionCaptured, &now
	e := Entry{Kind: KindRedeem, At: now, Points: 0, Delta: Balances{Held: -r.Points}, RedemptionID: r.ID,
		Breakdown: []rules.Line{{Kind: rules.KindRedeem, Rule: "capture", Points: 0}}}
	m.Apply(&e)
	return e, nil
}

// Cancel releases an open hold (also after its expiry): the points go back to
// the lots they came from (lots: those lots, by the keys the redemption
// names), repaying debt first if a refund created some meanwhile (so no
// available lot sits beside debt). r and the lots are changed in place.
func Cancel(m *Member, r *Redemption, lots map[string]*Entry, now time.Time) (Entry, error) {
	if err := openHold(r); err != nil {
		return Entry{}, err
	}
	now = now.UTC()
	back, err := RestoreLots(m, r.Lots, lots)
	if err != nil {
		return Entry{}, err
	}
	r.Status, r.SettledAt = RedemptionCancelled, &now
	e := Entry{Kind: KindRedeem, At: now, Points: r.Points, Delta: Balances{Held: -r.Points, Available: back.Available, Debt: back.Debt},
		RedemptionID: r.ID, Breakdown: []rules.Line{{Kind: rules.KindRedeem, Rule: "cancel", Points: r.Points}}}
	m.Apply(&e)
	return e, nil
}

func openHold(r *Redemption) error {
	if r.Status != RedemptionHeld {
		return fmt.Errorf("%s is %s: %w", r.ID, r.Status, ErrNotHeld)
	}
	return nil
}

// RestoreLots gives a hold's points back to the lots it took them from
// (lots by key), repaying m's debt first from them; it returns the balance
// delta (Available, Debt) of the restoration.
func RestoreLots(m *Member, takes []LotTake, lots map[string]*Entry) (Balances, error) {
	var d Balances
	restored := make([]*Entry, 0, len(takes))
	for _, t := range takes {
		l := lots[t.Lot]
		if l == nil {
			return d, fmt.Errorf("lot %s of the hold is missing", t.Lot)
		}
		d.Available += l.Restore(t.Points).Available
		restored = append(restored, l)
	}
	if owed := m.Debt; owed > 0 {
		repay := min(owed, d.Available)
		keyOf := func(e *Entry) string { return "" }
		if _, _, err := Spend(&Member{Balances: Balances{Available: repay}}, restored, repay, keyOf); err == nil {
			d.Debt = -repay // the lots shrink by repay; available is unchanged by a repayment
		}
	}
	return d, nil
}

// BillCreditValue is the money value of points paid toward a bill: points ×
// the program's point value in whole minor units of its currency, rounded
// down (money.Floor: what is paid out never exceeds the points' exact value,
// and falls short of it by less than one minor unit). A value beyond the int64
// range (an absurd point value) fails with ErrValueOutOfRange.
func BillCreditValue(p *program.Program, points int64) (*Money, error) {
	n, err := p.PointValue.Value(points, money.Floor)
	if err != nil {
		return nil, fmt.Errorf("%d points at %s %s: %w", points, p.PointValue.Minor, p.PointValue.Currency, ErrValueOutOfRange)
	}
	return &Money{AmountMinor: n, Currency: p.PointValue.Currency}, nil
}

// ReportedValue is what points are worth as a reported figure, not money paid
// out: points × the program's point value in whole minor units of its
// currency, rounded half to even (money.HalfEven), as liability is. It is the
// value points.expired and points.expiring carry. nil when the value does not
// fit an int64 (an absurd point value): a figure that cannot be stated is left
// out rather than clipped. nil too for a program without a point value (valid
// programs have one).
func ReportedValue(p *program.Program, points int64) *Money {
	if p == nil || !p.PointValue.Minor.IsSet() || p.PointValue.Currency == "" {
		return nil
	}
	n, err := p.PointValue.Value(points, money.HalfEven)
	if err != nil {
		return nil
	}
	return &Money{AmountMinor: n, Currency: p.PointValue.Currency}
}
