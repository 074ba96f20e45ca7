package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
)

// Entries returns all of a member's ledger entries, oldest first (the ledger
// index, read consistently).
func (s *Store) Entries(ctx context.Context, partner, member string) ([]ledger.Entry, error) {
	kc := expression.Key(AttrPK).Equal(expression.Value(memberPK(partner, member)))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fmt.Errorf("build ledger query: %w", err)
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: aws.String(s.table), IndexName: aws.String(IndexLedger), ConsistentRead: aws.Bool(true),
		Select:                 types.SelectAllAttributes, // the lots too: fetched from the table
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var out []ledger.Entry
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query ledger of %s/%s: %w", partner, member, err)
		}
		var es []ledger.Entry
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &es); err != nil {
			return nil, fmt.Errorf("unmarshal ledger: %w", err)
		}
		out = append(out, es...)
	}
	return out, nil
}

// Audit checks the spec §2 invariants of one member against its stored ledger
// (see ledger.Check). Tests run it after every scenario; operators can too.
// An absorbed member is checked itself (its ledger ends with the merge that
// emptied it), not its survivor.
func (s *Store) Audit(ctx context.Context, partner, member string) error {
	m, err := s.rawMember(ctx, partner, member)
	if err != nil {
		return err
	}
	es, err := s.Entries(ctx, partner, member)
	if err != nil {
		return err
	}
	if err := ledger.Check(m, es); err != nil {
		return fmt.Errorf("audit %s/%s: %w", partner, member, err)
	}
	return nil
}
