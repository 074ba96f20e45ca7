package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// DayStats are one partner's figures for one day (program timezone), written
// by the stats roll-up job and read by GET /v1/stats.
type DayStats struct {
	Day           string `dynamodbav:"day" json:"day"`
	Issued        int64  `dynamodbav:"issued" json:"issued"`
	Redeemed      int64  `dynamodbav:"redeemed" json:"redeemed"`
	Expired       int64  `dynamodbav:"expired" json:"expired"`
	Outstanding   int64  `dynamodbav:"outstanding" json:"outstanding"`
	Liability     string `dynamodbav:"liability" json:"liability_minor"` // exact decimal, minor units
	Currency      string `dynamodbav:"cur" json:"currency"`
	ActiveMembers int64  `dynamodbav:"active" json:"active_members"`
}

func statsPK(partner string) string { return "P#" + partner + "#STATS" }

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
