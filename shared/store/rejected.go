package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Rejection is an event that can never succeed, kept with its reason and raw
// body (spec §3: bad input never disappears).
type Rejection struct {
	// PartnerID is the event's partner when it names a known one; otherwise empty
	// and the rejection is kept in the operators' partition.
	PartnerID string `dynamodbav:"partner,omitempty" json:"partner_id,omitempty"`
	// ClaimedPartnerID is the partner id the body named when it is not the
	// partner the rejection is kept under: another partner's id sent with an
	// API key (kept under the key's partner), or an unknown one (kept for
	// operators). Data only: nothing is ever written under it.
	ClaimedPartnerID string    `dynamodbav:"claimed,omitempty" json:"claimed_partner_id,omitempty"`
	MessageID        string    `dynamodbav:"msg" json:"message_id"`
	Source           string    `dynamodbav:"src" json:"source"` // "sqs" or "api"
	ReceivedAt       time.Time `dynamodbav:"received" json:"received_at"`
	EventID          string    `dynamodbav:"eid,omitempty" json:"event_id,omitempty"`
	Reason           string    `dynamodbav:"reason" json:"reason"`
	Field            string    `dynamodbav:"field,omitempty" json:"field,omitempty"`
	Detail           string    `dynamodbav:"detail" json:"detail"`
	Body             string    `dynamodbav:"body" json:"body"`
}

// RecordRejection stores a rejected event. Recording the same message again is
// a no-op.
func (s *Store) RecordRejection(ctx context.Context, r Rejection) error {
	r.ReceivedAt = r.ReceivedAt.UTC()
	it, err := item(r, rejectedPK(r.PartnerID), rejectionSK(&r))
	if err != nil {
		return err
	}
	if c := idemFrom(ctx); c != nil {
		// A request with an Idempotency-Key: the rejection and its response
		// in one transaction (a retry replays it, never records it twice).
		t := s.newTxn()
		if err := t.put(r, rejectedPK(r.PartnerID), rejectionSK(&r)); err != nil {
			return err
		}
		if err := t.commit(ctx, Written{Rejection: &r}); err != nil {
			return fmt.Errorf("record rejection of %s: %w", r.MessageID, err)
		}
		return nil
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: it,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("record rejection of %s: %w", r.MessageID, err)
	}
	return nil
}

// Rejections lists a partner's rejected events newest first (partner "" lists
// the operators' partition), up to limit, starting after cursor (empty for the
// first page). It returns the next cursor, empty on the last page.
func (s *Store) Rejections(ctx context.Context, partner string, limit int32, cursor string) ([]Rejection, string, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: rejectedPK(partner)}},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(limit),
	}
	if cursor != "" {
		k, err := decodeCursor(cursor, rejectedPK(partner), curPK, curSK)
		if err != nil {
			return nil, "", err
		}
		in.ExclusiveStartKey = k
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("query rejections of %q: %w", partner, err)
	}
	var rs []Rejection
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &rs); err != nil {
		return nil, "", fmt.Errorf("unmarshal rejections: %w", err)
	}
	return rs, encodeCursor(out.LastEvaluatedKey, curPK, curSK), nil
}

// RejectionQuery selects rejected events for ListRejections.
type RejectionQuery struct {
	// Partner whose rejections to list; "" lists the operators' partition
	// (events whose partner is unknown or unreadable).
	Partner string
	// Reason keeps only the rejections with this reason ("" keeps all).
	Reason string
	// Since and Until bound the time received, both inclusive; a zero time is
	// no bound.
	Since, Until time.Time
	// Limit is the most rejections returned (1 to MaxRejectionsLimit).
	Limit int32
	// Cursor continues a listing of the same partition ("" for the first
	// page); a cursor outside Since..Until is ErrBadCursor.
	Cursor string
}

// MaxRejectionsLimit bounds RejectionQuery.Limit.
const MaxRejectionsLimit = 1000

// maxRejectionPages bounds the pages one ListRejections reads when a reason
// filter skips most items: it then returns what it found with a cursor.
const maxRejectionPages = 10

// ListRejections lists rejected events newest first, as q selects them, with
// the cursor of the next page ("" on the last). With a Reason filter a page
// may hold fewer than Limit rejections although more follow: the cursor says
// whether they do. The partition is read with the store's cursor codec, so a
// cursor only continues its own partition.
func (s *Store) ListRejections(ctx context.Context, q RejectionQuery) ([]Rejection, string, error) {
	if q.Limit < 1 || q.Limit > MaxRejectionsLimit {
		return nil, "", fmt.Errorf("limit %d: must be 1 to %d", q.Limit, MaxRejectionsLimit)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return nil, "", fmt.Errorf("until %s is before since %s", q.Until.Format(time.RFC3339Nano), q.Since.Format(time.RFC3339Nano))
	}
	pk := rejectedPK(q.Partner)
	// Sort keys are {received unix nanos, 20 digits}#{message id}: a time
	// bound is a bound on the prefix (lo ≤ sk < hi).
	lo, hi := "", ""
	if !q.Since.IsZero() {
		lo = fmt.Sprintf("%020d", sortNanos(q.Since))
	}
	if !q.Until.IsZero() {
		hi = fmt.Sprintf("%020d", sortNanos(q.Until)+1)
	}
	kc := expression.Key(AttrPK).Equal(expression.Value(pk))
	switch {
	case lo != "" && hi != "":
		kc = kc.And(expression.Key(AttrSK).Between(expression.Value(lo), expression.Value(hi)))
	case lo != "":
		kc = kc.And(expression.Key(AttrSK).GreaterThanEqual(expression.Value(lo)))
	case hi != "":
		kc = kc.And(expression.Key(AttrSK).LessThan(expression.Value(hi)))
	}
	b := expression.NewBuilder().WithKeyCondition(kc)
	if q.Reason != "" {
		b = b.WithFilter(expression.Name("reason").Equal(expression.Value(q.Reason)))
	}
	expr, err := b.Build()
	if err != nil {
		return nil, "", fmt.Errorf("build rejections query: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.table), KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ScanIndexForward: aws.Bool(false),
	}
	if q.Cursor != "" {
		k, err := decodeCursor(q.Cursor, pk, curPK, curSK)
		if err != nil {
			return nil, "", err
		}
		if sk := k[AttrSK].(*types.AttributeValueMemberS).Value; sk < lo || (hi != "" && sk >= hi) {
			return nil, "", fmt.Errorf("cursor outside the time range: %w", ErrBadCursor)
		}
		in.ExclusiveStartKey = k
	}
	out := []Rejection{}
	for page := 0; ; page++ {
		in.Limit = aws.Int32(q.Limit - int32(len(out)))
		if q.Reason != "" {
			in.Limit = aws.Int32(MaxRejectionsLimit) // most items may be filtered out
		}
		res, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("query rejections of %q: %w", q.Partner, err)
		}
		for i, it := range res.Items {
			var r Rejection
			if err := attributevalue.UnmarshalMap(it, &r); err != nil {
				return nil, "", fmt.Errorf("unmarshal rejection: %w", err)
			}
			out = append(out, r)
			if int32(len(out)) == q.Limit {
				if i == len(res.Items)-1 && len(res.LastEvaluatedKey) == 0 {
					return out, "", nil
				}
				// Continue right after the last rejection returned.
				return out, encodeCursor(map[string]types.AttributeValue{AttrPK: it[AttrPK], AttrSK: it[AttrSK]}, curPK, curSK), nil
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, "", nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
		if page+1 == maxRejectionPages {
			return out, encodeCursor(res.LastEvaluatedKey, curPK, curSK), nil
		}
	}
}

// sortNanos is t as the unix nanoseconds of a rejection's sort key, clamped
// to the range those keys can hold.
func sortNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, 0)):
		return 0
	case t.After(time.Unix(0, math.MaxInt64-1)):
		return math.MaxInt64 - 1
	}
	return t.UnixNano()
}
