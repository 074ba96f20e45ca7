package streampoller_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/streampoller"
	"github.com/accrue/accrue/shared/store"
)

// A table created without a stream (as a local table made before the stream
// was in store.CreateTableInput) gets one; calling again changes nothing.
func TestEnsureStream(t *testing.T) {
	t.Parallel()
	c := awstest.Client(t)
	table := awstest.NewTable(t, c, func(name string) *dynamodb.CreateTableInput {
		in := store.CreateTableInput(name)
		in.StreamSpecification = nil
		return in
	})
	if _, err := streampoller.StreamARN(t.Context(), c, table); err == nil {
		t.Fatal("a table without a stream has a stream ARN")
	}
	arn, err := streampoller.EnsureStream(t.Context(), c, table)
	if err != nil || arn == "" {
		t.Fatalf("EnsureStream: %q, %v", arn, err)
	}
	again, err := streampoller.EnsureStream(t.Context(), c, table)
	if err != nil || again != arn {
		t.Fatalf("EnsureStream again: %q, %v; want %q", again, err, arn)
	}
}

// The poller reads DynamoDB Local's stream in order, with both images, from
// TRIM_HORIZON, and retries from a reported failure.
func TestPollerOnDynamoDBLocal(t *testing.T) {
	t.Parallel()
	c := awstest.Client(t)
	table := awstest.NewTable(t, c, store.CreateTableInput)
	arn, err := streampoller.EnsureStream(t.Context(), c, table)
	if err != nil {
		t.Fatal(err)
	}
	put := func(sk string, v int) {
		_, err := c.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "P#x"}, "sk": &ddbtypes.AttributeValueMemberS{Value: sk},
			"v": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(v)},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 7 {
		put(fmt.Sprintf("k%d", i), i)
	}
	put("k0", 100) // MODIFY

	var mu sync.Mutex
	var seen []string
	failedOnce := false
	sc := dynamodbstreams.NewFromConfig(awstest.AWSConfig(), func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(awstest.Endpoint(t)) })
	p := streampoller.NewPoller(sc, arn, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range ev.Records {
			if r.Change.Keys["sk"].String() == "k4" && !failedOnce {
				failedOnce = true
				return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: r.Change.SequenceNumber}}}, nil
			}
			desc := r.EventName + " " + r.Change.Keys["sk"].String() + " " + r.Change.NewImage["v"].Number()
			if r.EventName == "MODIFY" {
				desc += " was " + r.Change.OldImage["v"].Number()
			}
			seen = append(seen, desc)
		}
		return events.DynamoDBEventResponse{}, nil
	})
	p.BatchSize, p.Interval, p.MinBackoff, p.Start = 3, 20*time.Millisecond, 10*time.Millisecond, types.ShardIteratorTypeTrimHorizon
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	go func() { _ = p.Run(ctx) }()
	want := "[INSERT k0 0 INSERT k1 1 INSERT k2 2 INSERT k3 3 INSERT k4 4 INSERT k5 5 INSERT k6 6 MODIFY k0 100 was 0]"
	for ctx.Err() == nil {
		mu.Lock()
		got := fmt.Sprint(seen)
		mu.Unlock()
		if got == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Fatalf("handled %v\nwant    %v", seen, want)
}
