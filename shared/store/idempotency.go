package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// IdempotencyTTL is how long an Idempotency-Key is remembered.
const IdempotencyTTL = 24 * time.Hour

// IdemRecord is a remembered request: its fingerprint and, once done, the response.
type IdemRecord struct {
	RequestHash string `dynamodbav:"hash"`
	Done        bool   `dynamodbav:"done"`
	Status      int    `dynamodbav:"status,omitempty"`
	ContentType string `dynamodbav:"ctype,omitempty"`
	Body        []byte `dynamodbav:"body,omitempty"`
	TTL         int64  `dynamodbav:"ttl"`
}

func idemPK(partner string) string { return "P#" + partner + "#IDEM" }

// BeginIdempotent claims key for a request with fingerprint hash. When the key
// is new it returns (nil, nil) and the caller runs the request, then calls
// FinishIdempotent (or AbandonIdempotent). When the key is known it returns the
// stored record, done or still in progress, for the caller to compare.
func (s *Store) BeginIdempotent(ctx context.Context, partner, key, hash string) (*IdemRecord, error) {
	now := s.now()
	rec := IdemRecord{RequestHash: hash, TTL: now.Add(IdempotencyTTL).Unix()}
	it, err := item(rec, idemPK(partner), key)
	if err != nil {
		return nil, err
	}
	// A record past its TTL may not be deleted yet: treat it as absent.
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: it,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #ttl < :now"),
		ExpressionAttributeNames:  map[string]string{"#ttl": AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)}},
	})
	var ccf *types.ConditionalCheckFailedException
	if err == nil {
		return nil, nil
	}
	if !errors.As(err, &ccf) {
		return nil, fmt.Errorf("claim idempotency key: %w", err)
	}
	var old IdemRecord
	if found, err := s.getItem(ctx, idemPK(partner), key, &old); err != nil {
		return nil, err
	} else if !found {
		return s.BeginIdempotent(ctx, partner, key, hash)
	}
	return &old, nil
}

// FinishIdempotent stores the response of a claimed key.
func (s *Store) FinishIdempotent(ctx context.Context, partner, key, hash string, status int, contentType string, body []byte) error {
	rec := IdemRecord{RequestHash: hash, Done: true, Status: status, ContentType: contentType, Body: body, TTL: s.now().Add(IdempotencyTTL).Unix()}
	it, err := item(rec, idemPK(partner), key)
	if err != nil {
		return err
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it}); err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	return nil
}

// AbandonIdempotent forgets a claimed key (the request failed transiently and
// may be retried with the same key).
func (s *Store) AbandonIdempotent(ctx context.Context, partner, idemKey string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key(idemPK(partner), idemKey)})
	if err != nil {
		return fmt.Errorf("abandon idempotency key: %w", err)
	}
	return nil
}
