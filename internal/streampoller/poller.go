// Package streampoller reads a DynamoDB table's stream the way the Lambda event
// source does and hands the records to a stream handler (such as
// domainevents.Publisher.HandleStream, or with the shard id the stats
// consumer rollup.Consumer.Handle): for the local stack and the tests, where
// no Lambda service polls DynamoDB Local's stream.
//
// Semantics kept from Lambda (ReportBatchItemFailures): records of a shard are
// handed over in order, at most BatchSize at a time; when the handler returns
// an error, or reports a failure whose identifier is not a sequence number of
// the batch, the whole batch is retried; when it reports failures, the batch
// is retried from the lowest failed sequence number. A shard's children are
// read only after the shard is finished. Retries back off up to MaxBackoff and
// go on until the handler succeeds (MaxRetries 0), or until MaxRetries, after
// which the records are logged and skipped, as Lambda's on-failure destination
// would receive them.
package streampoller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	smithytime "github.com/aws/smithy-go/time"

	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/store"
)

// API is the part of the DynamoDB Streams client the poller uses.
type API interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Handler handles a batch of stream records, as a Lambda function with
// ReportBatchItemFailures does.
type Handler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// WindowHandler handles a batch as a Lambda function whose event source
// mapping has a tumbling window does: the event names its shard (the stats
// consumer keys its items by it).
type WindowHandler func(context.Context, events.DynamoDBTimeWindowEvent) (events.DynamoDBTimeWindowEventResponse, error)

// batchHandler is either kind of handler, given the batch's shard.
type batchHandler func(ctx context.Context, shard string, recs []events.DynamoDBEventRecord) (events.DynamoDBEventResponse, error)

// Poller reads one stream and hands its records to a handler.
type Poller struct {
	client  API
	arn     string
	handler batchHandler

	// BatchSize: records per handler call (GetRecords limit), default 100.
	BatchSize int32
	// Interval: pause when no shard had new records, default 250ms.
	Interval time.Duration
	// Start: where shards known at the first listing are read from
	// (TRIM_HORIZON by default, or LATEST). Shards that appear later are read
	// from their start.
	Start types.ShardIteratorType
	// MinBackoff, MaxBackoff: pauses between retries of a failed batch
	// (default 100ms doubling to 5s).
	MinBackoff, MaxBackoff time.Duration
	// MaxRetries of one batch before its records are skipped (logged); 0 =
	// retry until the handler succeeds.
	MaxRetries int
	Log        *slog.Logger

	shards  map[string]*shard
	order   []string
	started bool
}

type shard struct {
	id, parent string
	iter       string
	last       string // sequence number of the last record handled
	fromStart  bool
	done       bool
}

// NewPoller returns a poller of the stream arn.
func NewPoller(client API, arn string, h Handler) *Poller {
	return &Poller{client: client, arn: arn, shards: map[string]*shard{},
		handler: func(ctx context.Context, _ string, recs []events.DynamoDBEventRecord) (events.DynamoDBEventResponse, error) {
			return h(ctx, events.DynamoDBEvent{Records: recs})
		}}
}

// NewWindowPoller returns a poller of the stream arn for a handler of
// windowed batches. Each batch carries its shard id and the stream's ARN;
// the windows themselves are not emulated (every batch starts a window with
// an empty state, and no empty final call closes it): the handlers here keep
// no state in them.
func NewWindowPoller(client API, arn string, h WindowHandler) *Poller {
	return &Poller{client: client, arn: arn, shards: map[string]*shard{},
		handler: func(ctx context.Context, shard string, recs []events.DynamoDBEventRecord) (events.DynamoDBEventResponse, error) {
			ev := events.DynamoDBTimeWindowEvent{DynamoDBEvent: events.DynamoDBEvent{Records: recs}}
			ev.ShardID, ev.EventSourceARN, ev.State = shard, arn, map[string]string{}
			resp, err := h(ctx, ev)
			return events.DynamoDBEventResponse{BatchItemFailures: resp.BatchItemFailures}, err
		}}
}

// StreamARN returns the latest stream of a table.
func StreamARN(ctx context.Context, db dynamodb.DescribeTableAPIClient, table string) (string, error) {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return "", fmt.Errorf("describe table %s: %w", table, err)
	}
	arn := aws.ToString(out.Table.LatestStreamArn)
	if arn == "" {
		return "", fmt.Errorf("table %s has no stream", table)
	}
	return arn, nil
}

func (p *Poller) defaults() {
	if p.BatchSize <= 0 {
		p.BatchSize = 100
	}
	if p.Interval <= 0 {
		p.Interval = 250 * time.Millisecond
	}
	if p.Start == "" {
		p.Start = types.ShardIteratorTypeTrimHorizon
	}
	if p.MinBackoff <= 0 {
		p.MinBackoff = 100 * time.Millisecond
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 5 * time.Second
	}
	if p.Log == nil {
		p.Log = slog.Default()
	}
}

// Run polls until ctx is done and returns ctx's error (or a stream error
// that retrying cannot fix).
func (p *Poller) Run(ctx context.Context) error {
	p.defaults()
	for {
		n, err := p.Poll(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			p.Log.WarnContext(ctx, "stream poller: poll failed", "stream", p.arn, "error", err)
		}
		if n == 0 || err != nil {
			if err := smithytime.SleepWithContext(ctx, p.Interval); err != nil {
				return err
			}
		}
	}
}

// Poll lists the shards and reads each readable shard once, handing what it
// reads to the handler (retrying as described in the package doc). It
// returns the number of records handled.
func (p *Poller) Poll(ctx context.Context) (int, error) {
	p.defaults()
	if err := p.refresh(ctx); err != nil {
		return 0, err
	}
	total := 0
	for _, id := range p.order {
		s := p.shards[id]
		if s.done {
			continue
		}
		if par, ok := p.shards[s.parent]; ok && !par.done {
			continue // children after their parent
		}
		n, err := p.read(ctx, s)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (p *Poller) refresh(ctx context.Context) error {
	var start *string
	for {
		out, err := p.client.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(p.arn), ExclusiveStartShardId: start})
		if err != nil {
			return fmt.Errorf("describe stream %s: %w", p.arn, err)
		}
		for _, sh := range out.StreamDescription.Shards {
			id := aws.ToString(sh.ShardId)
			if _, ok := p.shards[id]; ok {
				continue
			}
			p.shards[id] = &shard{id: id, parent: aws.ToString(sh.ParentShardId), fromStart: p.started}
			p.order = append(p.order, id)
		}
		start = out.StreamDescription.LastEvaluatedShardId
		if start == nil {
			break
		}
	}
	p.started = true
	return nil
}

func (p *Poller) read(ctx context.Context, s *shard) (int, error) {
	n, err := p.readOnce(ctx, s)
	if errors.Is(err, errExpired) {
		// Iterators expire after 15 minutes: take a new one from where we are.
		n, err = p.readOnce(ctx, s)
	}
	if errors.Is(err, errExpired) {
		return n, nil
	}
	return n, err
}

var errExpired = errors.New("shard iterator expired")

func (p *Poller) readOnce(ctx context.Context, s *shard) (int, error) {
	if s.iter == "" {
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(p.arn), ShardId: aws.String(s.id)}
		switch {
		case s.last != "":
			in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(s.last)
		case s.fromStart:
			in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
		default:
			in.ShardIteratorType = p.Start
		}
		out, err := p.client.GetShardIterator(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("shard iterator of %s: %w", s.id, err)
		}
		s.iter = aws.ToString(out.ShardIterator)
		if s.iter == "" {
			s.done = true
			return 0, nil
		}
	}
	out, err := p.client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String(s.iter), Limit: aws.Int32(p.BatchSize)})
	var expired *types.ExpiredIteratorException
	var trimmed *types.TrimmedDataAccessException
	switch {
	case errors.As(err, &expired):
		s.iter = ""
		return 0, errExpired
	case errors.As(err, &trimmed):
		p.Log.ErrorContext(ctx, "stream poller: records trimmed before they were read", "shard", s.id, "after", s.last)
		s.iter, s.last, s.fromStart = "", "", true
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("get records of %s: %w", s.id, err)
	}
	if len(out.Records) > 0 {
		recs := make([]events.DynamoDBEventRecord, 0, len(out.Records))
		for _, r := range out.Records {
			lr, err := LambdaRecord(r, p.arn)
			if err != nil {
				return 0, err
			}
			recs = append(recs, lr)
		}
		if err := p.deliver(ctx, s, recs); err != nil {
			return 0, err
		}
		s.last = recs[len(recs)-1].Change.SequenceNumber
	}
	s.iter = aws.ToString(out.NextShardIterator)
	if s.iter == "" {
		s.done = true
	}
	return len(out.Records), nil
}

// deliver hands recs to the handler until it takes them all.
func (p *Poller) deliver(ctx context.Context, s *shard, recs []events.DynamoDBEventRecord) error {
	left := recs
	backoff := p.MinBackoff
	for attempt := 1; ; attempt++ {
		resp, err := p.handler(ctx, s.id, left)
		from := 0
		switch {
		case err != nil:
			p.Log.WarnContext(ctx, "stream poller: handler failed, retrying the batch", "shard", s.id, "records", len(left), "attempt", attempt, "error", err)
		case len(resp.BatchItemFailures) == 0:
			return nil
		default:
			from = lowestFailed(left, resp.BatchItemFailures)
			p.Log.InfoContext(ctx, "stream poller: batch item failures, retrying", "shard", s.id, "records", len(left),
				"from_sequence_number", left[from].Change.SequenceNumber, "attempt", attempt)
		}
		if p.MaxRetries > 0 && attempt > p.MaxRetries {
			for _, r := range left[from:] {
				p.Log.ErrorContext(ctx, "stream poller: record skipped after retries", "shard", s.id,
					"sequence_number", r.Change.SequenceNumber, "event_id", r.EventID)
			}
			return nil
		}
		left = left[from:]
		if err := smithytime.SleepWithContext(ctx, backoff); err != nil {
			return err
		}
		backoff = min(backoff*2, p.MaxBackoff)
	}
}

// lowestFailed: index of the lowest reported sequence number; 0 (the whole
// batch) when one of the identifiers is not in the batch, as Lambda does.
func lowestFailed(recs []events.DynamoDBEventRecord, fails []events.DynamoDBBatchItemFailure) int {
	idx := map[string]int{}
	for i, r := range recs {
		idx[r.Change.SequenceNumber] = i
	}
	low := len(recs)
	for _, f := range fails {
		i, ok := idx[f.ItemIdentifier]
		if !ok {
			return 0
		}
		low = min(low, i)
	}
	return low
}

// LambdaRecord converts a record read with GetRecords into the record the
// Lambda event source would deliver.
func LambdaRecord(r types.Record, streamARN string) (events.DynamoDBEventRecord, error) {
	out := events.DynamoDBEventRecord{
		AWSRegion: aws.ToString(r.AwsRegion), EventID: aws.ToString(r.EventID), EventName: string(r.EventName),
		EventSource: aws.ToString(r.EventSource), EventVersion: aws.ToString(r.EventVersion), EventSourceArn: streamARN,
	}
	if r.UserIdentity != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{Type: aws.ToString(r.UserIdentity.Type), PrincipalID: aws.ToString(r.UserIdentity.PrincipalId)}
	}
	sr := r.Dynamodb
	if sr == nil {
		return out, fmt.Errorf("stream record %s without its dynamodb part", out.EventID)
	}
	c := &out.Change
	c.SequenceNumber, c.SizeBytes, c.StreamViewType = aws.ToString(sr.SequenceNumber), aws.ToInt64(sr.SizeBytes), string(sr.StreamViewType)
	if sr.ApproximateCreationDateTime != nil {
		c.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *sr.ApproximateCreationDateTime}
	}
	for _, img := range []struct {
		from map[string]types.AttributeValue
		to   *map[string]events.DynamoDBAttributeValue
	}{{sr.Keys, &c.Keys}, {sr.NewImage, &c.NewImage}, {sr.OldImage, &c.OldImage}} {
		if img.from == nil {
			continue
		}
		sdk, err := attributevalue.FromDynamoDBStreamsMap(img.from)
		if err != nil {
			return out, fmt.Errorf("stream record %s: %w", out.EventID, err)
		}
		if *img.to, err = domainevents.LambdaImage(sdk); err != nil {
			return out, fmt.Errorf("stream record %s: %w", out.EventID, err)
		}
	}
	return out, nil
}

// TableAPI is what EnsureStream needs of a DynamoDB client.
type TableAPI interface {
	dynamodb.DescribeTableAPIClient
	UpdateTable(ctx context.Context, in *dynamodb.UpdateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateTableOutput, error)
}

// EnsureStream returns the table's stream ARN, first enabling a stream of
// store.StreamViewType when the table has none (a local table created before
// the stream was part of store.CreateTableInput). A stream of another view
// type is an error: the publisher needs both images.
func EnsureStream(ctx context.Context, db TableAPI, table string) (string, error) {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return "", fmt.Errorf("describe table %s: %w", table, err)
	}
	if spec := out.Table.StreamSpecification; spec != nil && aws.ToBool(spec.StreamEnabled) {
		if spec.StreamViewType != store.StreamViewType {
			return "", fmt.Errorf("table %s has a %s stream, the publisher needs %s", table, spec.StreamViewType, store.StreamViewType)
		}
		return aws.ToString(out.Table.LatestStreamArn), nil
	}
	up, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName:           aws.String(table),
		StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: store.StreamViewType},
	})
	if err != nil {
		return "", fmt.Errorf("enable the stream of %s: %w", table, err)
	}
	if arn := aws.ToString(up.TableDescription.LatestStreamArn); arn != "" {
		return arn, nil
	}
	return StreamARN(ctx, db, table)
}
