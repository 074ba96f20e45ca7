package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// DayStats are one partner's figures for one day (program time zone), written
// by the stats roll-up job (package rollup, which defines each figure) and read
// by GET /v1/stats. Points are integers; the liability is an exact decimal.
type DayStats struct {
	Day string `dynamodbav:"day" json:"day"`
	// Flows of the day.
	Issued   int64 `dynamodbav:"issued" json:"issued"`
	Reversed int64 `dynamodbav:"reversed" json:"reversed"`
	Redeemed int64 `dynamodbav:"redeemed" json:"redeemed"`
	Expired  int64 `dynamodbav:"expired" json:"expired"`
	Debited  int64 `dynamodbav:"debited" json:"debited"`
	// Imported: opening balances brought in by bulk imports that day.
	Imported int64 `dynamodbav:"imported" json:"imported"`
	// Totals at the end of the day (at AsOf for figures so far).
	Outstanding int64  `dynamodbav:"outstanding" json:"outstanding"`
	Debt        int64  `dynamodbav:"debt" json:"debt"`
	Liability   string `dynamodbav:"liability" json:"liability_minor"` // exact decimal, minor units
	Currency    string `dynamodbav:"cur" json:"currency"`

	ActiveMembers int64 `dynamodbav:"active" json:"active_members"`
	// Final: the day is over (plus the roll-up's grace period) and its figures
	// will not change; false for the figures so far of the current day.
	Final bool `dynamodbav:"final" json:"final"`
	// AsOf: the figures count the entries before this instant (the end of the
	// day once final).
	AsOf time.Time `dynamodbav:"as_of" json:"as_of"`
}

// Stats returns the days from..to (inclusive, "YYYY-MM-DD") that have figures.
func (s *Store) Stats(ctx context.Context, partner, from, to string) ([]DayStats, error) {
	kc := expression.Key(AttrPK).Equal(expression.Value(statsPK(partner))).
		And(expression.Key(AttrSK).Between(expression.Value(from), expression.Value(to)))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fmt.Errorf("build stats query: %w", err)
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: aws.String(s.table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	out := []DayStats{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query stats of %s: %w", partner, err)
		}
		var ds []DayStats
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &ds); err != nil {
			return nil, fmt.Errorf("unmarshal stats: %w", err)
		}
		out = append(out, ds...)
	}
	return out, nil
}
