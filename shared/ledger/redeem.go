package ledger

import (
	"errors"
	"fmt"
	"time"
)

// ErrInsufficientPoints: the member's available points do not cover the request.
var ErrInsufficientPoints = errors.New("not enough available points")

// LotTake records how many points an operation took from one lot, so that a
// cancelled redemption can give them back to the same lots.
type LotTake struct {
	Lot    string `dynamodbav:"lot" json:"lot"` // the lot's entry key (store-defined)
	Points int64  `dynamodbav:"pts" json:"points"`
}

// Spend takes n available points from lots, earliest expiry first (lots that
// never expire last). keyOf names each lot for the returned takes. It fails with
// ErrInsufficientPoints, changing nothing, when the member's available balance
// (which is Σ available lots − debt) is below n: a redemption never takes
// available below zero (invariant 2).
func Spend(m *Member, lots []*Entry, n int64, keyOf func(*Entry) string) ([]LotTake, Balances, error) {
	if n <= 0 {
		return nil, Balances{}, fmt.Errorf("points must be positive, got %d", n)
	}
	if m.Available < n {
		return nil, Balances{}, fmt.Errorf("%w: %d available, %d asked", ErrInsufficientPoints, m.Available, n)
	}
	sorted := append([]*Entry(nil), lots...)
	SortByExpiry(sorted)
	var total int64
	for _, l := range sorted {
		if l.State == LotAvailable {
			total += l.Remaining
		}
	}
	if total < n {
		return nil, Balances{}, fmt.Errorf("%w: lots hold %d, %d asked", ErrInsufficientPoints, total, n)
	}
	var takes []LotTake
	var d Balances
	rest := n
	for _, l := range sorted {
		if rest == 0 {
			break
		}
		if l.State != LotAvailable {
			continue
		}
		t, dd := l.take(rest)
		if t > 0 {
			d.Add(dd)
			rest -= t
			takes = append(takes, LotTake{Lot: keyOf(l), Points: t})
		}
	}
	return takes, d, nil
}

// Restore gives points back to a lot (a cancelled hold). The lot becomes
// available again even if it had been emptied.
func (l *Lot) Restore(points int64) Balances {
	l.Remaining += points
	l.State = LotAvailable
	return Balances{Available: points}
}

// Redemption statuses.
const (
	RedemptionHeld      = "held"
	RedemptionCaptured  = "captured"
	RedemptionCancelled = "cancelled"
	RedemptionExpired   = "expired"
)

// Redemption of points: a hold (points reserved, with an expiry) that is then
// captured or cancelled, or an immediate capture.
type Redemption struct {
	ID        string    `dynamodbav:"rid" json:"id"`
	PartnerID string    `dynamodbav:"partner" json:"-"`
	MemberID  string    `dynamodbav:"member" json:"member_id"`
	Status    string    `dynamodbav:"status" json:"status"`
	Points    int64     `dynamodbav:"pts" json:"points"`
	RewardID  string    `dynamodbav:"reward,omitempty" json:"reward_id,omitempty"`
	As        string    `dynamodbav:"as,omitempty" json:"as,omitempty"`
	Value     *Money    `dynamodbav:"value,omitempty" json:"value,omitempty"`
	Lots      []LotTake `dynamodbav:"lots,omitempty" json:"-"`
	CreatedAt time.Time `dynamodbav:"created" json:"created_at"`
	// ExpiresAt: a hold not captured by then is released (stale-holds job).
	ExpiresAt *time.Time `dynamodbav:"exp,omitempty" json:"expires_at,omitempty"`
	SettledAt *time.Time `dynamodbav:"settled,omitempty" json:"settled_at,omitempty"`
	Version   int64      `dynamodbav:"ver" json:"-"`
}

// Money is an amount of whole minor units of a currency (package money):
// {"amount_minor": 1, "currency": "JPY"} is one yen.
type Money struct {
	AmountMinor int64  `dynamodbav:"amt" json:"amount_minor"`
	Currency    string `dynamodbav:"cur" json:"currency"`
}
