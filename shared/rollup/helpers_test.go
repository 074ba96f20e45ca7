package rollup_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/streampoller"
	"github.com/accrue/accrue/internal/streamtest"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rollup"
	"github.com/accrue/accrue/shared/store"
)

// clock is a settable clock shared by the store (entry times) and the tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// env is a fresh table on DynamoDB Local with a store on a controlled clock,
// and the stats consumer reading the table's stream through the Lambda-like
// poller (drain), as the stats function does in AWS.
type env struct {
	t      *testing.T
	client *dynamodb.Client
	table  string
	clock  *clock
	st     *store.Store

	consumer *rollup.Consumer
	drainMu  sync.Mutex
	poller   *streampoller.Poller
	arn      string
	// manual: the test hands the stream to the consumer itself; job does
	// not drain it.
	manual bool
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := awstest.Client(t)
	table := awstest.NewTable(t, c, store.CreateTableInput)
	e := &env{t: t, client: c, table: table, clock: &clock{}}
	e.st = e.storeOn(c)
	e.consumer = rollup.NewConsumer(e.st, logger(t))
	var err error
	if e.arn, err = streampoller.StreamARN(t.Context(), c, table); err != nil {
		t.Fatal(err)
	}
	e.poller = streampoller.NewWindowPoller(awstest.StreamsClient(t), e.arn,
		func(ctx context.Context, ev events.DynamoDBTimeWindowEvent) (events.DynamoDBTimeWindowEventResponse, error) {
			resp, err := e.consumer.Handle(ctx, ev)
			if err != nil || len(resp.BatchItemFailures) > 0 {
				t.Errorf("stats consumer: %+v, %v", resp.BatchItemFailures, err)
			}
			return resp, err
		})
	e.poller.Log, e.poller.MaxRetries = logger(t), 1
	return e
}

// drain hands every stream record written so far to the stats consumer.
func (e *env) drain() {
	e.t.Helper()
	e.drainMu.Lock()
	defer e.drainMu.Unlock()
	streamtest.Drain(e.t, e.poller)
}

// storeOn is a store of the env's table through db (a wrapper of the client).
func (e *env) storeOn(db store.DynamoDB) *store.Store {
	return store.New(db, e.table, store.WithClock(e.clock.now), store.WithProgramCacheTTL(0))
}

// program creates (or updates) partner's program at the instant at.
func (e *env) program(partner, js string, at time.Time) *program.Program {
	e.t.Helper()
	p, err := program.Parse([]byte(js))
	if err != nil {
		e.t.Fatalf("program %s: %v", partner, err)
	}
	e.clock.set(at)
	if _, err := e.st.PutProgram(context.Background(), partner, p); err != nil {
		e.t.Fatalf("put program %s: %v", partner, err)
	}
	return p
}

func payEvent(partner, member, id string, amount int64, at time.Time) payment.Payment {
	return payment.Payment{
		EventID: "evt-" + id, Source: "test", Type: payment.TypeSucceeded, Time: at,
		PartnerID: partner, MemberID: member, PaymentID: id, AmountMinor: amount,
		Currency: "RUB", Category: "telecom",
	}
}

// pay applies a payment at the instant at.
func (e *env) pay(partner, member, id string, amount int64, at time.Time) {
	e.t.Helper()
	e.clock.set(at)
	if _, err := e.st.Apply(context.Background(), payEvent(partner, member, id, amount, at)); err != nil {
		e.t.Fatalf("pay %s/%s %s: %v", partner, member, id, err)
	}
}

// records reads the table's whole stream (from its oldest record) without
// handing it to the consumer: every record so far, in stream order.
func (e *env) records() []events.DynamoDBEventRecord {
	e.t.Helper()
	var out []events.DynamoDBEventRecord
	p := streampoller.NewPoller(awstest.StreamsClient(e.t), e.arn, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		out = append(out, ev.Records...)
		return events.DynamoDBEventResponse{}, nil
	})
	p.Log = logger(e.t)
	streamtest.Drain(e.t, p)
	return out
}

// deliver hands one batch of shard to c as the event source does, and
// returns the index of the first record reported failed (len(recs) when
// none).
func deliver(t *testing.T, c *rollup.Consumer, shard string, recs []events.DynamoDBEventRecord) int {
	t.Helper()
	ev := events.DynamoDBTimeWindowEvent{DynamoDBEvent: events.DynamoDBEvent{Records: recs}}
	ev.ShardID, ev.State = shard, map[string]string{}
	resp, err := c.Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("handle: %v", err)
	}
	if resp.State == nil {
		t.Fatal("no state in the response: Lambda counts that as a failed invocation")
	}
	for _, f := range resp.BatchItemFailures {
		for i, r := range recs {
			if r.Change.SequenceNumber == f.ItemIdentifier {
				return i
			}
		}
		t.Fatalf("reported %q, not a record of the batch", f.ItemIdentifier)
	}
	return len(recs)
}

// lambdaLike delivers a shard's records in batches of size, each again
// from its first failed record until it is taken, as the event source does
// with ReportBatchItemFailures; it gives up after 50 failed deliveries.
func lambdaLike(t *testing.T, c *rollup.Consumer, shard string, recs []events.DynamoDBEventRecord, size int) {
	t.Helper()
	for pos, failures := 0, 0; pos < len(recs); {
		batch := recs[pos:min(pos+size, len(recs))]
		n := deliver(t, c, shard, batch)
		if n < len(batch) {
			if failures++; failures > 50 {
				t.Fatalf("batch from %s keeps failing at record %d", batch[0].Change.SequenceNumber, n)
			}
		}
		pos += n
	}
}

// logger writes the job's logs to the test's output (go test -v shows them).
func logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewJSONHandler(t.Output(), nil))
}

// job is the roll-up on st at the instant now, once the stats consumer has
// read the stream so far (in AWS it runs all the time).
func (e *env) job(st *store.Store, now time.Time, opts ...rollup.Option) *rollup.Job {
	if !e.manual {
		e.drain()
	}
	return rollup.New(st, logger(e.t), append([]rollup.Option{rollup.WithClock(func() time.Time { return now })}, opts...)...)
}

// run runs the roll-up at now and fails the test on an error.
func (e *env) run(now time.Time) rollup.Report {
	e.t.Helper()
	rep, err := e.job(e.st, now).Run(context.Background())
	if err != nil {
		e.t.Fatalf("roll-up at %s: %v", now, err)
	}
	return rep
}

// days returns every day item of partner.
func (e *env) days(partner string) []store.DayStats {
	e.t.Helper()
	ds, err := e.st.Stats(context.Background(), partner, "2000-01-01", "2099-12-31")
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range ds {
		ds[i].AsOf = ds[i].AsOf.UTC()
	}
	return ds
}

// snapshot returns every item of partner's stats partition (day items and
// state), as stored.
func (e *env) snapshot(partner string) []map[string]any {
	e.t.Helper()
	p := dynamodb.NewQueryPaginator(e.client, &dynamodb.QueryInput{
		TableName: aws.String(e.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "P#" + partner + "#STATS"}},
	})
	var out []map[string]any
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		for _, it := range page.Items {
			var m map[string]any
			if err := attributevalue.UnmarshalMap(it, &m); err != nil {
				e.t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	return out
}

// in parses a wall-clock time ("2006-01-02 15:04:05", optional fraction) in loc.
func in(loc *time.Location, s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", s, loc)
	if err != nil {
		panic(err)
	}
	return t
}

func zone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// programIn is a program in time zone tz: 1 point per 100.00 RUB, one point
// worth 0.25 RUB minor units.
func programIn(tz string) string {
	return fmt.Sprintf(`{"name":"T","timezone":%q,"auto_enroll":true,
		"earning":[{"id":"base","rate":{"points":1,"per_minor":10000}}],
		"point_value":{"minor":"0.25","currency":"RUB"}}`, tz)
}
