package rules

// State is the per-member state the rules need. It lives inside the member item, so
// every field is bounded (lists never grow past the limit that uses them).
type State struct {
	Tier       string   `dynamodbav:"tier,omitempty" json:"tier,omitempty"`
	Tags       []string `dynamodbav:"tags,omitempty" json:"tags,omitempty"`
	Qualifying int64    `dynamodbav:"qual,omitempty" json:"qualifying,omitempty"`

	// Day ("2006-01-02") and Month ("2006-01") in the program timezone of the last
	// accrual, and the points credited from payments (held ones included) in them.
	Day         string `dynamodbav:"day,omitempty" json:"day,omitempty"`
	DayPoints   int64  `dynamodbav:"dayp,omitempty" json:"day_points,omitempty"`
	Month       string `dynamodbav:"mon,omitempty" json:"month,omitempty"`
	MonthPoints int64  `dynamodbav:"monp,omitempty" json:"month_points,omitempty"`

	// RecentEvents: unix seconds of the latest payment events (at most the fraud
	// limit's max events per hour), for the rolling one-hour limit.
	RecentEvents []int64 `dynamodbav:"recent,omitempty" json:"recent_events,omitempty"`

	// Streaks by StreakKey(rule id, subscription id).
	Streaks map[string]Streak `dynamodbav:"streaks,omitempty" json:"streaks,omitempty"`
	// Frequency: by rule id, unix seconds of the payments counted in the open window.
	Frequency map[string][]int64 `dynamodbav:"freq,omitempty" json:"frequency,omitempty"`
	// Campaigns: by campaign id, what this member has received from it.
	Campaigns map[string]CampaignUse `dynamodbav:"camp,omitempty" json:"campaigns,omitempty"`
}

// Streak of one subscription under one streak rule.
type Streak struct {
	LastPeriod string `dynamodbav:"p" json:"last_period"`
	Count      int    `dynamodbav:"n" json:"count"`
}

// CampaignUse is what one member has received from one campaign.
type CampaignUse struct {
	Times  int64 `dynamodbav:"t" json:"times"`
	Points int64 `dynamodbav:"p" json:"points"`
}

// StreakKey names a streak in State.Streaks.
func StreakKey(ruleID, subscriptionID string) string { return ruleID + "|" + subscriptionID }

// Budgets are the program-wide amounts already spent, read by the store from the
// counters of the accrual's month and of the campaigns that may apply.
type Budgets struct {
	// ProgramMonth is the month ("2006-01", program timezone) ProgramSpent counts.
	// The store reads the counter of the accrual's month (PeriodKeys); a spend of
	// another month counts as 0 spent this month.
	ProgramMonth string
	ProgramSpent int64
	// CampaignSpent by campaign id.
	CampaignSpent map[string]int64
}

// Line is one rule's contribution. Lines of a Result always sum to Result.Points.
// Ledger entries carry lines too (their breakdown), of the same vocabulary.
type Line struct {
	Kind   LineKind `dynamodbav:"k" json:"kind"`   // one of the Kind constants
	Rule   string   `dynamodbav:"r" json:"rule"`   // rule, campaign or tier id; cap name
	Points int64    `dynamodbav:"p" json:"points"` // may be negative for caps
	Detail string   `dynamodbav:"d,omitempty" json:"detail,omitempty"`
}

// LineKind says what produced a breakdown line. The kinds are part of the API
// (an entry's breakdown): the OpenAPI document lists exactly LineKinds.
type LineKind string

// Line kinds of the rules engine (an accrual's computation).
const (
	KindEarn      LineKind = "earn"      // base rate (or band rate) on the amount
	KindTier      LineKind = "tier"      // tier multiplier's extra over base
	KindCampaign  LineKind = "campaign"  // campaign multiplier's extra or fixed bonus
	KindStreak    LineKind = "streak"    // streak bonus
	KindFrequency LineKind = "frequency" // frequency bonus
	KindCap       LineKind = "cap"       // reduction by a daily/monthly cap or program budget
)

// Line kinds of the other ledger entries.
const (
	KindActivity   LineKind = "activity"    // fixed points of a program activity (Rule: its name)
	KindAdjust     LineKind = "adjust"      // a manual credit or debit (Detail: the admin's reason)
	KindRedeem     LineKind = "redeem"      // a redemption step: hold, capture, cancel, expire (Rule)
	KindReview     LineKind = "review"      // a review decision: approve, reject (Rule; Detail of a reject: the reason)
	KindTierChange LineKind = "tier_change" // a tier moved (Rule: the new tier)
	KindRelease    LineKind = "release"     // pending points became available
	KindExpire     LineKind = "expire"      // points expired (Rule: expiry or inactivity)
	KindReverse    LineKind = "reverse"     // a refund took points back
	KindDebt       LineKind = "debt"        // a clawback created debt, or a credit repaid it
	KindTransfer   LineKind = "transfer"    // points sent to or received from another member (Rule: out, in; Detail: the reason)
	KindMerge      LineKind = "merge"       // a member merge (Rule: out on the absorbed member; lot, in on the survivor)
	KindImport     LineKind = "import"      // an opening balance of a bulk import (Rule: available, pending, qualifying, lifetime)
)

// LineKinds lists every line kind.
func LineKinds() []LineKind {
	return []LineKind{KindEarn, KindTier, KindCampaign, KindStreak, KindFrequency, KindCap,
		KindActivity, KindAdjust, KindRedeem, KindReview, KindTierChange, KindRelease, KindExpire, KindReverse, KindDebt, KindTransfer, KindMerge, KindImport}
}

// Result of evaluating one payment.
type Result struct {
	// Points to credit (>= 0). Equal to the sum of Breakdown.
	Points    int64
	Breakdown []Line
	// Held: over a fraud limit; the points are credited as held for review.
	Held        bool
	HoldReasons []string
	// State is the member state after this payment; the store writes it back.
	State State
	// ProgramSpend: points to add to the program monthly counter of Budgets.ProgramMonth
	// (0 when the program has no monthly budget).
	ProgramSpend int64
	// CampaignSpend: points to add to each budgeted campaign's counter.
	CampaignSpend map[string]int64
	// TierChanged is set when the accrual crossed a tier threshold (upgrade only).
	TierChanged bool
}
