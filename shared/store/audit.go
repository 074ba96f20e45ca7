package store

import "time"

// The audit trail: admin actions (adjustments, review decisions, erasures),
// one item per action in the partner's audit partition (auditPK), written in
// the same transaction as the action itself, ordered by time (auditSK).

// AuditRecord is one admin action, kept per partner.
type AuditRecord struct {
	At       time.Time `dynamodbav:"at" json:"at"`
	Actor    string    `dynamodbav:"actor" json:"actor"`
	Action   string    `dynamodbav:"action" json:"action"`
	MemberID string    `dynamodbav:"member,omitempty" json:"member_id,omitempty"`
	Points   int64     `dynamodbav:"pts,omitempty" json:"points,omitempty"`
	Reason   string    `dynamodbav:"reason,omitempty" json:"reason,omitempty"`
	Entry    int64     `dynamodbav:"seq,omitempty" json:"entry_seq,omitempty"`
}

// Audit actions.
const (
	AuditAdjust        = "adjust"
	AuditReviewApprove = "review.approve"
	AuditReviewReject  = "review.reject"
	AuditMemberErase   = "member.erase"
)
