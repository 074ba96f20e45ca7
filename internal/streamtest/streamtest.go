// Package streamtest builds DynamoDB stream records as the Lambda event
// source delivers them, for the tests and benchmarks of the stream consumers
// (domain events, stats). Import it only from _test.go files.
package streamtest

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/internal/streampoller"
	"github.com/accrue/accrue/shared/domainevents"
)

// Image is v marshalled as the store marshals its items, with its keys and
// extra attributes, as a stream image of a Lambda event (nil for a nil v).
func Image(tb testing.TB, v any, pk, sk string, extra map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	tb.Helper()
	if v == nil {
		return nil
	}
	m, err := attributevalue.MarshalMap(v)
	if err != nil {
		tb.Fatal(err)
	}
	m["pk"], m["sk"] = &types.AttributeValueMemberS{Value: pk}, &types.AttributeValueMemberS{Value: sk}
	for k, x := range extra {
		m[k] = x
	}
	img, err := domainevents.LambdaImage(m)
	if err != nil {
		tb.Fatal(err)
	}
	return img
}

// Record is the stream record of a change (INSERT, MODIFY, REMOVE) of item
// (pk, sk) with its images (either may be nil), at sequence number seq.
func Record(name, pk, sk, seq string, old, new map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{EventID: "ev-" + seq, EventName: name, EventSource: "aws:dynamodb", AWSRegion: "us-east-1",
		Change: events.DynamoDBStreamRecord{
			Keys:     map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute(pk), "sk": events.NewStringAttribute(sk)},
			NewImage: new, OldImage: old, SequenceNumber: seq, StreamViewType: "NEW_AND_OLD_IMAGES",
		}}
}

// Drain polls p until it finds no new record: every record written so far
// is handed to p's handler (DynamoDB Local's stream shows a write at once).
func Drain(tb testing.TB, p *streampoller.Poller) {
	tb.Helper()
	for {
		n, err := p.Poll(context.Background())
		if err != nil {
			tb.Fatalf("drain the stream: %v", err)
		}
		if n == 0 {
			return
		}
	}
}
