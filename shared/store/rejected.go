package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
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
