// Package program holds a partner's loyalty program (spec §5): the Go types of the
// program JSON, its strict parser and its validation. Every part of §5 is modelled
// here, including the parts (tiers, expiry) that scheduled jobs act on.
package program

import (
	"math/big"
	"time"

	"github.com/accrue/accrue/shared/money"
	"github.com/accrue/accrue/shared/payment"
)

// Categories a payment can carry (spec §3).
var Categories = payment.Categories

// Program is one partner's program configuration. Amounts are integer minor units,
// points are integers, rates and multipliers are exact ratios.
type Program struct {
	// Version is assigned by the store on every accepted PUT; ignored on input.
	Version int64  `json:"version,omitempty"`
	Name    string `json:"name"`
	// Timezone (IANA) in which days and months of caps and fixed expiry dates are counted. Default UTC.
	Timezone string `json:"timezone,omitempty"`
	// AutoEnroll creates a member on their first payment; otherwise payments of
	// unknown members are rejected.
	AutoEnroll bool `json:"auto_enroll"`
	// Rounding of the exact total, once per accrual: "floor" (default), "round_half_up" or "ceil".
	Rounding string `json:"rounding,omitempty"`

	Earning    []EarningRule   `json:"earning"`
	Streaks    []StreakRule    `json:"streaks,omitempty"`
	Frequency  []FrequencyRule `json:"frequency,omitempty"`
	Activities []Activity      `json:"activities,omitempty"`
	Campaigns  []Campaign      `json:"campaigns,omitempty"`
	Tiers      []Tier          `json:"tiers,omitempty"`
	// QualifyingWindowDays is the rolling window over which tier-qualifying points count.
	QualifyingWindowDays int `json:"qualifying_window_days,omitempty"`
	// PendingDays before earned points become available (refund window); 0 = at once.
	PendingDays int        `json:"pending_days,omitempty"`
	Expiry      Expiry     `json:"expiry,omitempty"`
	Caps        Caps       `json:"caps,omitempty"`
	Fraud       Fraud      `json:"fraud,omitempty"`
	PointValue  PointValue `json:"point_value"`
	// Transfers of points between members (family pooling, gifting); absent:
	// no transfers.
	Transfers Transfers `json:"transfers,omitzero"`
}

// Rate is points per amount: {"points":1,"per_minor":10000} is 1 point per 100.00.
type Rate struct {
	Points   int64 `json:"points"`
	PerMinor int64 `json:"per_minor"`
}

// Band raises the rate for payments of at least MinMinor: the whole amount then
// earns at the band's rate (the highest band reached wins).
type Band struct {
	MinMinor int64 `json:"min_minor"`
	Rate     Rate  `json:"rate"`
}

// EarningRule turns a payment amount into base points. The first rule (in order)
// whose categories, currencies, minimum and recurring flag match the payment applies.
type EarningRule struct {
	ID string `json:"id"`
	// Categories the rule applies to; empty = all.
	Categories []string `json:"categories,omitempty"`
	// Currencies (ISO 4217) the rule applies to; empty = all.
	Currencies     []string `json:"currencies,omitempty"`
	Rate           Rate     `json:"rate"`
	Bands          []Band   `json:"bands,omitempty"`
	MinAmountMinor int64    `json:"min_amount_minor,omitempty"`
	RecurringOnly  bool     `json:"recurring_only,omitempty"`
}

// StreakRule: Periods consecutive periods of one subscription, each paid on or before
// its due date, earn Bonus; a late or missed period resets the streak. The bonus is
// paid at every multiple of Periods (3, 6, 9 ... consecutive on-time periods).
type StreakRule struct {
	ID         string   `json:"id"`
	Periods    int      `json:"periods"`
	Bonus      int64    `json:"bonus"`
	Categories []string `json:"categories,omitempty"`
}

// FrequencyRule: Payments payments within Days days earn Bonus, once per window: after
// the bonus the count starts again from zero.
type FrequencyRule struct {
	ID         string   `json:"id"`
	Payments   int      `json:"payments"`
	Days       int      `json:"days"`
	Bonus      int64    `json:"bonus"`
	Categories []string `json:"categories,omitempty"`
}

// Activity: fixed points for a named non-payment action (registration, autopay_enabled, ...).
type Activity struct {
	Name   string `json:"name"`
	Points int64  `json:"points"`
	Once   bool   `json:"once,omitempty"`
}

// Campaign is a time-boxed promotion. Exactly one of Multiplier (applied to the base
// points: a multiplier of 2 adds the base once more) and Bonus (fixed points) is set.
type Campaign struct {
	ID       string    `json:"id"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"` // exclusive
	// Targeting; an empty list matches everything.
	Categories []string `json:"categories,omitempty"`
	Tiers      []string `json:"tiers,omitempty"`
	// Tags: the member must carry at least one of them.
	Tags       []string `json:"tags,omitempty"`
	Multiplier Ratio    `json:"multiplier,omitzero"`
	Bonus      int64    `json:"bonus,omitempty"`
	// Budget in points over the whole campaign; 0 = unlimited. The campaign stops when spent.
	Budget int64 `json:"budget,omitempty"`
	// Per-member limits over the whole campaign; 0 = unlimited.
	PerMemberMaxPoints int64 `json:"per_member_max_points,omitempty"`
	PerMemberMaxTimes  int64 `json:"per_member_max_times,omitempty"`
}

// Tier: reached when qualifying points over the rolling window reach Threshold.
// Tiers are listed in ascending threshold order; the first has threshold 0.
type Tier struct {
	Name       string `json:"name"`
	Threshold  int64  `json:"threshold"`
	Multiplier Ratio  `json:"multiplier"`
}

// Expiry of earned points. Any combination may be set; a lot expires at the earliest
// of its rolling and fixed dates, and inactivity expires all of a member's points.
type Expiry struct {
	// RollingDays: points expire N days after they were earned.
	RollingDays int `json:"rolling_days,omitempty"`
	// FixedDate "MM-DD": points expire at the start of that calendar day (program
	// timezone) at its first occurrence after FixedMinDays days from earning.
	FixedDate    string `json:"fixed_date,omitempty"`
	FixedMinDays int    `json:"fixed_min_days,omitempty"`
	// InactivityDays: all points expire after N days without a payment or activity.
	InactivityDays int `json:"inactivity_days,omitempty"`
	// WarnDays before expiry a points.expiring event is published (once per lot).
	WarnDays int `json:"warn_days,omitempty"`
}

// Caps on points credited from payments; 0 = none.
type Caps struct {
	MemberDaily    int64 `json:"member_daily,omitempty"`
	MemberMonthly  int64 `json:"member_monthly,omitempty"`
	ProgramMonthly int64 `json:"program_monthly,omitempty"`
}

// Fraud limits; an event over any of them is accrued as held for review. 0 = none.
type Fraud struct {
	MaxEventsPerHour int   `json:"max_events_per_hour,omitempty"`
	MaxPointsPerDay  int64 `json:"max_points_per_day,omitempty"`
	// LargePaymentMinor: per currency, a payment of at least this amount is held.
	LargePaymentMinor map[string]int64 `json:"large_payment_minor,omitempty"`
}

// Transfers is the switch and the limits of point transfers between two
// members of the program (POST /v1/members/{id}/transfers). Limits of 0 are
// none; the daily limit counts the points a member sends per calendar day of
// the program's time zone.
type Transfers struct {
	Enabled bool `json:"enabled"`
	// MinPoints and MaxPoints bound one transfer.
	MinPoints int64 `json:"min_points,omitempty"`
	MaxPoints int64 `json:"max_points,omitempty"`
	// MemberDaily: the points one member may send per day.
	MemberDaily int64 `json:"member_daily,omitempty"`
}

// PointValue is the money value of one point, for liability reporting and
// bill credits: {"minor":"0.5","currency":"RUB"} = one point is worth half a
// kopeck. Minor is in minor units of Currency (so "0.5" JPY is half a yen, and
// "0.5" KWD half a fils) and may be a fraction of one.
type PointValue struct {
	Minor    Ratio  `json:"minor"`
	Currency string `json:"currency"`
}

// Exact is points × the point value, an exact number of minor units.
func (pv PointValue) Exact(points int64) *big.Rat {
	v := pv.Minor.Rat()
	return v.Mul(v, new(big.Rat).SetInt64(points))
}

// Value is points × the point value in whole minor units of its currency,
// rounded once by r (money.Floor for what is paid out, money.HalfEven for
// what is reported). It fails with money.ErrOutOfRange beyond the int64
// range.
func (pv PointValue) Value(points int64, r money.Rounding) (int64, error) {
	return r.Round(pv.Exact(points))
}
