package simulate

import (
	"time"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// MaxPayments is the most payments one simulation replays.
const MaxPayments = 10_000

// Request is one what-if: the payments to replay under two programs.
type Request struct {
	// Current is the partner's program now; nil makes every "current" figure 0.
	Current *program.Program
	// Proposed is the program to try (required; validated by the caller with
	// (*program.Program).Validate).
	Proposed *program.Program
	// Payments to replay, succeeded and refunded, in any order, of one or more
	// members (at most MaxPayments).
	Payments []payment.Payment
	// Start is the rules state each member starts from, by member id (e.g. the
	// tier and tags of the stored member); a member not in it starts fresh.
	Start map[string]rules.State
	// Now is the accrual time of a payment; nil means the payment's own Time.
	Now func(payment.Payment) time.Time
}

// Result of a simulation.
type Result struct {
	// Payments replayed, in replay order.
	Payments []PaymentResult `json:"payments"`
	// Duplicates: payments not replayed because an earlier one in the input has
	// the same member id, payment id and type.
	Duplicates []Ignored `json:"duplicates,omitempty"`
	// Skipped: refunds that change nothing (see the Reason constants).
	Skipped []Ignored `json:"skipped,omitempty"`
	// Members: totals per member, by member id.
	Members []MemberTotals `json:"members"`

	// Points in total over all replayed payments; Delta = Proposed − Current.
	Current  int64 `json:"current_points"`
	Proposed int64 `json:"proposed_points"`
	Delta    int64 `json:"delta_points"`

	// CurrentLiability = Current × the current point value; ProposedLiability =
	// Proposed × the proposed point value: whole minor units, rounded half to
	// even (see the package documentation).
	CurrentLiability  Money `json:"current_liability"`
	ProposedLiability Money `json:"proposed_liability"`
	// LiabilityDelta = ProposedLiability − CurrentLiability; nil when the two
	// point values have different currencies (LiabilityNote then says so).
	LiabilityDelta *Money `json:"liability_delta,omitempty"`
	LiabilityNote  string `json:"liability_note,omitempty"`
}

// PaymentResult is one replayed payment under both programs.
type PaymentResult struct {
	// Index of the payment in Request.Payments.
	Index     int       `json:"index"`
	PaymentID string    `json:"payment_id"`
	MemberID  string    `json:"member_id"`
	Type      string    `json:"type"`
	RefundOf  string    `json:"refund_of,omitempty"`
	Time      time.Time `json:"time"`
	Current   Outcome   `json:"current"`
	Proposed  Outcome   `json:"proposed"`
	// Delta = Proposed.Points − Current.Points.
	Delta int64 `json:"delta"`
}

// Outcome of one payment under one program.
type Outcome struct {
	// Points credited (>= 0), or for a refund minus the points reversed (<= 0).
	Points int64 `json:"points"`
	// Held: the accrual is held for review by a fraud limit (HoldReasons say which).
	Held        bool     `json:"held,omitempty"`
	HoldReasons []string `json:"hold_reasons,omitempty"`
	// Breakdown: the rules' lines (rules.Evaluate), or one "reverse" line for a refund.
	Breakdown []rules.Line `json:"breakdown,omitempty"`
	// Tier of the member after this payment ("" without tiers or program).
	Tier string `json:"tier,omitempty"`
	// TierChanged: this payment moved the member up a tier.
	TierChanged bool `json:"tier_changed,omitempty"`
}

// MemberTotals are one member's points under both programs.
type MemberTotals struct {
	MemberID string `json:"member_id"`
	Current  int64  `json:"current_points"`
	Proposed int64  `json:"proposed_points"`
	Delta    int64  `json:"delta_points"`
	// Tier at the end of each replay ("" without tiers or program).
	CurrentTier  string `json:"current_tier,omitempty"`
	ProposedTier string `json:"proposed_tier,omitempty"`
}

// Ignored is a payment that changed nothing.
type Ignored struct {
	Index     int    `json:"index"`
	PaymentID string `json:"payment_id"`
	MemberID  string `json:"member_id"`
	Type      string `json:"type"`
	RefundOf  string `json:"refund_of,omitempty"`
	Reason    string `json:"reason"`
	Detail    string `json:"detail"`
}

// Reasons a payment is ignored.
const (
	ReasonDuplicate      = "duplicate"       // same member, payment id and type as an earlier payment
	ReasonUnknownPayment = "unknown_payment" // refund of a payment not in the input for that member
	ReasonCurrency       = "currency_mismatch"
	ReasonExceedsPayment = "exceeds_payment" // refunds would add up to more than the payment
)

// Run replays req.Payments under req.Current and req.Proposed. It returns an
// *InputError when the request is invalid; otherwise it never fails.
func Run(req Request) (Result, error) {
	if err := validate(req); err != nil {
		return Result{}, err
	}
	if req.Now == nil {
		req.Now = func(p payment.Payment) time.Time { return p.Time }
	}
	pl := makePlan(req.Payments)
	cur := replay(req, req.Current, pl)
	prop := replay(req, req.Proposed, pl)
	return assemble(req, pl, cur, prop), nil
}
