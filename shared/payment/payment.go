// Package payment parses payment events from billing systems (spec §3): CloudEvents
// 1.0 structured JSON whose data names the partner, member, payment and amount.
package payment

import "time"

// Event types a billing system sends.
const (
	TypeSucceeded = "payment.succeeded"
	TypeRefunded  = "payment.refunded"
)

// Recurring describes the subscription period a recurring payment pays for.
type Recurring struct {
	SubscriptionID string `json:"subscription_id" dynamodbav:"sub"`
	// Period is "YYYY-MM" (monthly), "YYYY-Qn" (quarterly), "YYYY-Www" (ISO week) or "YYYY" (yearly).
	Period string `json:"period" dynamodbav:"per"`
	// DueDate "YYYY-MM-DD": paid on or before it (in the program timezone) is on time.
	DueDate string `json:"due_date" dynamodbav:"due"`
}

// Payment is a validated payment event.
type Payment struct {
	EventID     string    // CloudEvents id
	Source      string    // CloudEvents source
	Type        string    // TypeSucceeded or TypeRefunded
	Time        time.Time // when the payment happened (CloudEvents time)
	PartnerID   string
	MemberID    string
	PaymentID   string
	AmountMinor int64  // > 0; for a refund, the refunded amount
	Currency    string // ISO 4217, upper case
	Category    string
	Recurring   *Recurring
	RefundOf    string // payment_id refunded, for TypeRefunded
}
