package store

import (
	"fmt"
	"time"
)

// ReviewItem is an accrual held by a fraud limit, waiting for an admin's
// decision (GET /v1/review). It is written in the accrual's own transaction,
// only for held accruals.
type ReviewItem struct {
	ID          string    `dynamodbav:"-" json:"id"`
	MemberID    string    `dynamodbav:"member" json:"member_id"`
	PaymentID   string    `dynamodbav:"pid" json:"payment_id"`
	EventID     string    `dynamodbav:"eid" json:"event_id"`
	Points      int64     `dynamodbav:"pts" json:"points"`
	Reasons     []string  `dynamodbav:"reasons" json:"reasons"`
	HeldAt      time.Time `dynamodbav:"held" json:"held_at"`
	AmountMinor int64     `dynamodbav:"amt" json:"amount_minor"`
	Currency    string    `dynamodbav:"cur" json:"currency"`
}

func reviewPK(partner string) string { return "P#" + partner + "#REVIEW" }

// reviewSK orders the queue by time held.
func reviewSK(at time.Time, member, paymentID string) string {
	return fmt.Sprintf("%s#%s#%s", at.UTC().Format("2006-01-02T15:04:05.000000000Z"), member, paymentID)
}
