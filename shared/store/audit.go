package store

// The audit trail: admin actions (adjustments, review decisions, erasures,
// program and reward catalog changes, API keys, point transfers, ...), each
// written in the same transaction as the action itself:
//
//	P#{partner}#AUDIT       | {at}#{id}        the partner's trail, ordered by time
//	P#{partner}#M#{member}  | AUDIT#{at}#{id}  a copy in the partition of each member the
//	                                           action concerns (MemberID, OtherMemberID)
//
// GET /v1/audit reads a time range of the partner's partition, newest first;
// with member_id, the same range of that member's partition, which holds
// exactly the member's records. The copies cost one more item per member
// action (admin actions: adjustments, review decisions; and transfers, two);
// in return a member's trail is a key range however long the partner's trail
// is, where filtering the partner's partition by member would read all of
// its records in the range. The partner's partition takes every audited
// action: admin actions are rare, and transfers (the one audited action an
// app key makes) come at the pace of members giving points to each other,
// far below the ~1,000 writes a second one partition key takes (an audit
// item costs 2 write units in a transaction). Payments never write it.
//
// Adding an action: one AuditAction constant below (and its value in the
// enum of the OpenAPI document's AuditRecord.action, which a test checks).

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// AuditAction names what an audit record records.
type AuditAction string

// Audit actions.
const (
	AuditAdjust        AuditAction = "adjust"          // a manual credit or debit of a member
	AuditReviewApprove AuditAction = "review.approve"  // held points approved
	AuditReviewReject  AuditAction = "review.reject"   // held points rejected
	AuditMemberErase   AuditAction = "member.erase"    // a member's personal data erased (MemberID: its anonymous id)
	AuditProgramUpdate AuditAction = "program.update"  // PUT /v1/program: version and changed sections
	AuditRewardsUpdate AuditAction = "rewards.update"  // PUT /v1/rewards: rewards added, changed, removed
	AuditKeyCreate     AuditAction = "key.create"      // an API key created (Target: its id; role and label)
	AuditKeyRevoke     AuditAction = "key.revoke"      // an API key revoked
	AuditTransfer      AuditAction = "points.transfer" // points moved from MemberID to OtherMemberID
	AuditMerge         AuditAction = "member.merge"    // OtherMemberID merged into MemberID (the survivor)
	AuditImport        AuditAction = "import.create"   // a bulk import created (Target: its id; Reason: format and source)
)

// AuditRecord is one audited action, kept per partner (and per member
// concerned).
type AuditRecord struct {
	// ID is the record's own id (random; records written before ids have none).
	ID     string      `dynamodbav:"id,omitempty" json:"id,omitempty"`
	At     time.Time   `dynamodbav:"at" json:"at"`
	Actor  string      `dynamodbav:"actor" json:"actor"`
	Action AuditAction `dynamodbav:"action" json:"action"`
	// MemberID and OtherMemberID: the members the action concerns (a
	// transfer's sender and receiver).
	MemberID      string `dynamodbav:"member,omitempty" json:"member_id,omitempty"`
	OtherMemberID string `dynamodbav:"other,omitempty" json:"other_member_id,omitempty"`
	Points        int64  `dynamodbav:"pts,omitempty" json:"points,omitempty"`
	Reason        string `dynamodbav:"reason,omitempty" json:"reason,omitempty"`
	// Entry and OtherEntry: the ledger entries the action booked on each member.
	Entry      int64 `dynamodbav:"seq,omitempty" json:"entry_seq,omitempty"`
	OtherEntry int64 `dynamodbav:"oseq,omitempty" json:"other_entry_seq,omitempty"`
	// Target: what an action on something else than members changed
	// ("program", "rewards", an API key id).
	Target string `dynamodbav:"target,omitempty" json:"target,omitempty"`
	// Changes: what changed, field by field.
	Changes []AuditChange `dynamodbav:"chg,omitempty" json:"changes,omitempty"`
}

// AuditChange is one field an action changed: its JSON value before and
// after (absent: it did not exist). A value longer than MaxAuditValue bytes
// is not kept (Truncated).
type AuditChange struct {
	Field     string          `dynamodbav:"f" json:"field"`
	Before    json.RawMessage `dynamodbav:"b,omitempty" json:"before,omitempty"`
	After     json.RawMessage `dynamodbav:"a,omitempty" json:"after,omitempty"`
	Truncated bool            `dynamodbav:"tr,omitempty" json:"truncated,omitempty"`
}

// MaxAuditValue bounds one value of an AuditChange (an audit item stays
// small: a program has about 20 sections).
const MaxAuditValue = 1024

// Change is the AuditChange of field from before to after (JSON values; nil:
// absent), keeping values up to MaxAuditValue bytes.
func Change(field string, before, after json.RawMessage) AuditChange {
	c := AuditChange{Field: field, Before: before, After: after}
	if len(before) > MaxAuditValue || len(after) > MaxAuditValue {
		c.Before, c.After, c.Truncated = nil, nil, true
	}
	return c
}

// ChangeOf is Change of Go values (nil: absent), marshalled as JSON.
func ChangeOf(field string, before, after any) (AuditChange, error) {
	enc := func(v any) (json.RawMessage, error) {
		if v == nil {
			return nil, nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("audit change %s: %w", field, err)
		}
		return b, nil
	}
	b, err := enc(before)
	if err != nil {
		return AuditChange{}, err
	}
	a, err := enc(after)
	if err != nil {
		return AuditChange{}, err
	}
	return Change(field, b, a), nil
}

// objectChanges lists the top-level fields in which two JSON objects differ
// (prefix + field name), in field order. Either may be empty (absent).
func objectChanges(prefix string, before, after []byte) ([]AuditChange, error) {
	var b, a map[string]json.RawMessage
	if len(before) > 0 {
		if err := json.Unmarshal(before, &b); err != nil {
			return nil, fmt.Errorf("audit: old value: %w", err)
		}
	}
	if len(after) > 0 {
		if err := json.Unmarshal(after, &a); err != nil {
			return nil, fmt.Errorf("audit: new value: %w", err)
		}
	}
	fields := make([]string, 0, len(a)+len(b))
	for f := range b {
		fields = append(fields, f)
	}
	for f := range a {
		if _, ok := b[f]; !ok {
			fields = append(fields, f)
		}
	}
	sort.Strings(fields)
	var out []AuditChange
	for _, f := range fields {
		if string(b[f]) != string(a[f]) {
			out = append(out, Change(prefix+f, b[f], a[f]))
		}
	}
	return out, nil
}

// ActorOperator is the actor of changes made without an API key (the
// operator CLI).
const ActorOperator = "operator"

type actorCtxKey struct{}

// WithActor names who makes the changes under ctx (an API key id), for the
// audit records written with them.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorCtxKey{}, actor)
}

// ActorFrom is the actor WithActor put in ctx; ActorOperator without one.
func ActorFrom(ctx context.Context) string {
	if a, _ := ctx.Value(actorCtxKey{}).(string); a != "" {
		return a
	}
	return ActorOperator
}

// audit adds an audit record of partner to the transaction: the partner's
// record and a copy for each member it concerns.
func (t *txn) audit(partner string, rec AuditRecord) error {
	if rec.ID == "" {
		rec.ID = newID("")
	}
	rec.At = rec.At.UTC()
	if err := t.putNew(rec, auditPK(partner), auditSK(rec.At, rec.ID)); err != nil {
		return err
	}
	for i, m := range []string{rec.MemberID, rec.OtherMemberID} {
		if m == "" || (i == 1 && m == rec.MemberID) {
			continue
		}
		if err := t.putNew(rec, memberPK(partner, m), auditMemberSK(rec.At, rec.ID)); err != nil {
			return err
		}
	}
	return nil
}

// ErrConcurrentChange: a condition of a change committed through
// CommitAudited failed, or a concurrent transaction held one of its items:
// read again and decide again.
var ErrConcurrentChange = errConflict

// CommitAudited commits items that another package built with this
// package's keys (package keys: an API key's items) in one
// TransactWriteItems, with rec, the audit record of the change, and, under
// an Idempotency-Key claim in ctx, the response rendered from w. It fails
// with ErrConcurrentChange when a condition failed, ErrIdempotencyLost when
// the claim was taken over.
func (s *Store) CommitAudited(ctx context.Context, partner string, items []types.TransactWriteItem, rec AuditRecord, w Written) error {
	t := s.newTxn()
	for _, it := range items {
		t.add(roleFenced, it)
	}
	if err := t.audit(partner, rec); err != nil {
		return err
	}
	return t.commit(ctx, w)
}

// AuditQuery selects records of the audit trail: from From to To
// (inclusive; zero: unbounded), of one member (MemberID) or all.
type AuditQuery struct {
	From, To time.Time
	MemberID string
	Limit    int32
	Cursor   string
}

// latestAudit bounds a query without To.
var latestAudit = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)

// AuditTrail returns a page of partner's audit trail, newest first. A cursor
// continues only the list it came from (the same partner, member and time
// range): another is ErrBadCursor.
func (s *Store) AuditTrail(ctx context.Context, partner string, q AuditQuery) (Page[AuditRecord], error) {
	var page Page[AuditRecord]
	to := q.To
	if to.IsZero() {
		to = latestAudit
	}
	pk := auditPK(partner)
	if q.MemberID != "" {
		pk = memberPK(partner, q.MemberID)
	}
	lo, hi := auditRange(q.From, to, q.MemberID != "")
	in := s.rangeQuery(pk, lo, hi, true)
	in.Limit = aws.Int32(q.Limit)
	if q.Cursor != "" {
		// The cursor's key must lie in the range: DynamoDB refuses a start
		// key outside the key condition (a 500, not the client's 400).
		inRange := cursorKey{attr: AttrSK, valid: func(sk string) bool { return sk >= lo && sk <= hi }}
		k, err := decodeCursor(q.Cursor, pk, curPK, inRange)
		if err != nil {
			return page, err
		}
		in.ExclusiveStartKey = k
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return page, fmt.Errorf("query audit trail of %s: %w", partner, err)
	}
	page.Items = []AuditRecord{}
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &page.Items); err != nil {
		return page, fmt.Errorf("unmarshal audit records: %w", err)
	}
	page.Next = encodeCursor(out.LastEvaluatedKey, curPK, curSK)
	return page, nil
}
