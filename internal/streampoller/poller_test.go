package streampoller_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/accrue/accrue/internal/streampoller"
)

// fakeStream: shards with records; an iterator is "shard/position".
type fakeStream struct {
	shards  []types.Shard
	records map[string][]types.Record
	closed  map[string]bool
	expire  int // GetRecords calls to answer with ExpiredIteratorException
}

func (f *fakeStream) DescribeStream(_ context.Context, in *dynamodbstreams.DescribeStreamInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: &types.StreamDescription{Shards: f.shards}}, nil
}

func (f *fakeStream) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	id := aws.ToString(in.ShardId)
	pos := 0
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeLatest:
		pos = len(f.records[id])
	case types.ShardIteratorTypeAfterSequenceNumber:
		for i, r := range f.records[id] {
			if aws.ToString(r.Dynamodb.SequenceNumber) == aws.ToString(in.SequenceNumber) {
				pos = i + 1
			}
		}
	}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(fmt.Sprintf("%s/%d", id, pos))}, nil
}

func (f *fakeStream) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	if f.expire > 0 {
		f.expire--
		return nil, &types.ExpiredIteratorException{Message: aws.String("expired")}
	}
	var id string
	var pos int
	it := aws.ToString(in.ShardIterator)
	for i := len(it) - 1; i >= 0; i-- {
		if it[i] == '/' {
			id, _ = it[:i], 0
			pos, _ = strconv.Atoi(it[i+1:])
			break
		}
	}
	recs := f.records[id]
	end := min(pos+int(aws.ToInt32(in.Limit)), len(recs))
	out := &dynamodbstreams.GetRecordsOutput{Records: recs[pos:end]}
	if end < len(recs) || !f.closed[id] {
		out.NextShardIterator = aws.String(fmt.Sprintf("%s/%d", id, end))
	}
	return out, nil
}

func recs(shard string, n int) []types.Record {
	var out []types.Record
	for i := 1; i <= n; i++ {
		out = append(out, types.Record{
			EventID: aws.String(fmt.Sprintf("%s-%d", shard, i)), EventName: types.OperationTypeInsert,
			Dynamodb: &types.StreamRecord{
				SequenceNumber: aws.String(fmt.Sprintf("%s-%03d", shard, i)),
				Keys:           map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "P#a"}, "sk": &types.AttributeValueMemberS{Value: strconv.Itoa(i)}},
				NewImage:       map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: strconv.Itoa(i)}},
				StreamViewType: types.StreamViewTypeNewAndOldImages, ApproximateCreationDateTime: aws.Time(time.Unix(1700000000, 0)),
			},
		})
	}
	return out
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newPoller(f *fakeStream, h streampoller.Handler) *streampoller.Poller {
	p := streampoller.NewPoller(f, "arn:stream", h)
	p.BatchSize, p.MinBackoff, p.MaxBackoff, p.Log = 4, time.Millisecond, time.Millisecond, quiet()
	return p
}

// drain polls until nothing new arrives.
func drain(t *testing.T, p *streampoller.Poller) {
	t.Helper()
	for i := 0; i < 100; i++ {
		n, err := p.Poll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("stream never drained")
}

func TestPollerRetriesFromFirstFailure(t *testing.T) {
	f := &fakeStream{
		shards:  []types.Shard{{ShardId: aws.String("s1")}},
		records: map[string][]types.Record{"s1": recs("s1", 10)},
		expire:  1,
	}
	var seen []string
	var calls [][]string
	failed := map[string]int{}
	p := newPoller(f, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		var batch []string
		for _, r := range ev.Records {
			batch = append(batch, r.Change.SequenceNumber)
		}
		calls = append(calls, batch)
		for _, r := range ev.Records {
			seq := r.Change.SequenceNumber
			if seq == "s1-003" && failed[seq] < 2 { // fails twice
				failed[seq]++
				return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: seq}}}, nil
			}
			if seq == "s1-006" && failed[seq] < 1 { // a handler error: the whole batch again
				failed[seq]++
				return events.DynamoDBEventResponse{}, errors.New("boom")
			}
			seen = append(seen, seq)
		}
		return events.DynamoDBEventResponse{}, nil
	})
	drain(t, p)
	want := "[s1-001 s1-002 s1-003 s1-004 s1-005 s1-006 s1-007 s1-008 s1-009 s1-010]"
	// s1-001/002 are handled once; after the handler error, s1-005 is seen again (a whole-batch retry).
	wantSeen := "[s1-001 s1-002 s1-003 s1-004 s1-005 s1-005 s1-006 s1-007 s1-008 s1-009 s1-010]"
	if fmt.Sprint(seen) != wantSeen {
		t.Fatalf("handled %v\nwant    %v (all of %s)", seen, wantSeen, want)
	}
	if fmt.Sprint(calls[1]) != "[s1-003 s1-004]" || fmt.Sprint(calls[2]) != "[s1-003 s1-004]" {
		t.Fatalf("retries were not from the failed record: %v", calls)
	}
}

func TestPollerChildAfterParent(t *testing.T) {
	f := &fakeStream{
		shards:  []types.Shard{{ShardId: aws.String("child"), ParentShardId: aws.String("parent")}, {ShardId: aws.String("parent")}},
		records: map[string][]types.Record{"parent": recs("parent", 5), "child": recs("child", 3)},
		closed:  map[string]bool{"parent": true},
	}
	var seen []string
	p := newPoller(f, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		for _, r := range ev.Records {
			seen = append(seen, r.Change.SequenceNumber)
			if r.EventSourceArn != "arn:stream" || r.EventName != "INSERT" || r.Change.NewImage["n"].Number() == "" {
				t.Errorf("record %+v", r)
			}
		}
		return events.DynamoDBEventResponse{}, nil
	})
	drain(t, p)
	want := "[parent-001 parent-002 parent-003 parent-004 parent-005 child-001 child-002 child-003]"
	if fmt.Sprint(seen) != want {
		t.Fatalf("handled %v\nwant    %v", seen, want)
	}
}

func TestPollerMaxRetriesSkips(t *testing.T) {
	f := &fakeStream{shards: []types.Shard{{ShardId: aws.String("s")}}, records: map[string][]types.Record{"s": recs("s", 3)}}
	calls := 0
	p := newPoller(f, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		calls++
		return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: "not-in-batch"}}}, nil
	})
	p.MaxRetries = 2
	drain(t, p)
	if calls != 3 {
		t.Fatalf("%d calls, want 1 + 2 retries", calls)
	}
}
