package store

// The partner registry (registryPK | {partner}): every partner and when it was
// registered, written with the partner's first program (PutProgram), so that
// jobs enumerate partners without a Scan.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// PartnerRecord is a partner's entry in the partner registry.
type PartnerRecord struct {
	PartnerID string `dynamodbav:"partner" json:"partner_id"`
	// CreatedAt is when the partner was created — or, when Preexisting, when
	// a PutProgram first found it without a registry entry.
	CreatedAt time.Time `dynamodbav:"created" json:"created_at"`
	// Preexisting: the partner existed before the registry did. The roll-up
	// counts only the entries of CreatedAt's day on (it never read older
	// ones), so it starts at that day, from zero.
	Preexisting bool `dynamodbav:"preexisting,omitempty" json:"preexisting,omitempty"`
}

// RegisterPartner adds an existing partner to the registry unless it is there
// already: a partner created before the registry existed is rolled up from
// now on, from zero (its older entries are in no figures). PutProgram does it too.
func (s *Store) RegisterPartner(ctx context.Context, partner string) error {
	return s.registerPartner(ctx, partner, s.now())
}

// registerPartner adds an existing partner to the registry unless it is there
// already (PutProgram of a partner created before the registry existed).
func (s *Store) registerPartner(ctx context.Context, partner string, now time.Time) error {
	it, err := item(PartnerRecord{PartnerID: partner, CreatedAt: now.UTC(), Preexisting: true}, registryPK, partner)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: it, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if err != nil && !isConditionFailure(err) {
		return fmt.Errorf("register partner %s: %w", partner, err)
	}
	return nil
}

// isConditionFailure reports whether err is a failed condition of a put or of
// a transaction (or a transaction conflict).
func isConditionFailure(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed", "TransactionConflict":
				return true
			}
		}
	}
	return false
}

// Partners returns the partner registry, ordered by partner id.
func (s *Store) Partners(ctx context.Context) ([]PartnerRecord, error) {
	kc := expression.Key(AttrPK).Equal(expression.Value(registryPK))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fmt.Errorf("build partners query: %w", err)
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var out []PartnerRecord
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query partner registry: %w", err)
		}
		var rs []PartnerRecord
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &rs); err != nil {
			return nil, fmt.Errorf("unmarshal partner registry: %w", err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// Partner returns one partner's registry entry; found is false when absent.
func (s *Store) Partner(ctx context.Context, partner string) (rec PartnerRecord, found bool, err error) {
	found, err = s.getItem(ctx, registryPK, partner, &rec)
	return rec, found, err
}
