package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/ddbsim"
	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/metrics"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// benchMembers: accruals are spread over this many members, as a billing run
// over a customer base would be (each event reads and writes its member).
const benchMembers = 500

func benchBody(i int) []byte {
	b, _ := json.Marshal(map[string]any{
		"specversion": "1.0", "id": fmt.Sprintf("evt-%d", i), "source": "bench", "type": "payment.succeeded",
		"time": "2026-11-05T10:00:00Z", "datacontenttype": "application/json",
		"data": map[string]any{
			"partner_id": "telco", "member_id": fmt.Sprintf("cust-%04d", i%benchMembers),
			"payment_id": fmt.Sprintf("pay-%09d", i), "amount_minor": 129900 + i%1000, "currency": "RUB",
			"category":  "telecom",
			"recurring": map[string]any{"subscription_id": "plan-7", "period": "2026-11", "due_date": "2026-11-10"},
		},
	})
	return b
}

// warmEmulator runs, once per test process and before any measured loop,
// 4,000 payments in batches through the handler on a table of its own: the
// make bench loops start a fresh DynamoDB Local for each pair of runs, and
// whichever benchmark ran first otherwise met a JVM that had not compiled
// its hot paths yet (the first pair of a loop favoured the second run by up
// to 20%).
func warmEmulator(b *testing.B) {
	warmOnce.Do(func() {
		st, _, _ := benchStore(b)
		proc := ingest.New(st, slog.New(slog.DiscardHandler), nil)
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					batch := events.SQSEvent{}
					for j := range 10 {
						n := -1_000_000 - (w*200+i)*10 - j
						batch.Records = append(batch.Records, events.SQSMessage{MessageId: fmt.Sprint(n), Body: string(benchBody(n))})
					}
					if _, err := proc.HandleSQS(context.Background(), batch); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	})
}

var warmOnce sync.Once

func benchStore(b *testing.B, opts ...store.Option) (*store.Store, *dynamodb.Client, string) {
	c := awstest.Client(b)
	table := awstest.NewTable(b, c, awstest.NoStream(store.CreateTableInput))
	st := store.New(c, table, append([]store.Option{store.WithClock(func() time.Time { return now })}, opts...)...)
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "program-telco.json"))
	if err != nil {
		b.Fatal(err)
	}
	p, err := program.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.PutProgram(context.Background(), "telco", p); err != nil {
		b.Fatal(err)
	}
	return st, c, table
}

// BenchmarkIngest: payment events through the processor (parse, rules, one
// transaction) against DynamoDB Local, with the write units DynamoDB reports.
// GOMAXPROCS concurrent invocations (-cpu sets it), each handing the handler
// batches of 10, which it works on in lanes (ingest.BatchWorkers at once).
func BenchmarkIngest(b *testing.B) {
	warmEmulator(b)
	var mu sync.Mutex
	var tableWRU, index, gsi float64
	var txs int64
	st, client, table := benchStore(b, store.WithCapacityReport(func(cc []types.ConsumedCapacity) {
		mu.Lock()
		defer mu.Unlock()
		txs++
		for _, c := range cc {
			if c.Table != nil {
				tableWRU += aws.ToFloat64(c.Table.CapacityUnits)
			}
			for _, ix := range c.LocalSecondaryIndexes {
				index += aws.ToFloat64(ix.CapacityUnits)
			}
			for _, ix := range c.GlobalSecondaryIndexes {
				gsi += aws.ToFloat64(ix.CapacityUnits)
			}
		}
	}))
	// The log lines the handler writes (Lambda's log group ingests them: the
	// cost model prices them), counted; Lambda's JSON log format at INFO.
	var logged countingWriter
	proc := ingest.New(st, slog.New(slog.NewJSONHandler(&logged, nil)), metrics.New(&logged))
	// Warm up: members exist, as in steady state.
	for i := range benchMembers {
		if _, err := proc.Process(context.Background(), ingest.Message{ID: "w", Body: benchBody(-1 - i)}); err != nil {
			b.Fatal(err)
		}
	}
	mu.Lock()
	tableWRU, index, gsi, txs = 0, 0, 0, 0
	mu.Unlock()
	warmLogged := logged.n.Load()
	var seq atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// Batches of 10, as Lambda's SQS event source mapping delivers them.
		batch := events.SQSEvent{Records: make([]events.SQSMessage, 0, 10)}
		flush := func() {
			resp, err := proc.HandleSQS(context.Background(), batch)
			if err != nil || len(resp.BatchItemFailures) > 0 {
				b.Errorf("batch: %v %+v", err, resp.BatchItemFailures)
			}
			batch.Records = batch.Records[:0]
		}
		for pb.Next() {
			i := int(seq.Add(1))
			batch.Records = append(batch.Records, events.SQSMessage{MessageId: fmt.Sprint(i), Body: string(benchBody(i))})
			if len(batch.Records) == 10 {
				flush()
			}
		}
		if len(batch.Records) > 0 {
			flush()
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// Each of the RunParallel goroutines is one concurrent Lambda
	// invocation: the time a message spends in the handler.
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000*float64(runtime.GOMAXPROCS(0))/float64(b.N), "handler-ms/event")
	b.ReportMetric(float64(logged.n.Load()-warmLogged)/float64(b.N), "log-bytes/event")
	member, entry := itemSizes(b, client, table)
	b.ReportMetric(float64(member), "member-item-bytes")
	b.ReportMetric(float64(entry), "entry-item-bytes")
	if txs > 0 {
		b.ReportMetric(tableWRU/float64(txs), "table-WRU/accrual")
		b.ReportMetric(index/float64(txs), "index-WRU/accrual")
		b.ReportMetric(gsi/float64(txs), "gsi-WRU/accrual")
	}
}

// itemSizes returns the billed sizes (AWS's formula) of a steady-state member
// item and of its latest entry.
func itemSizes(b *testing.B, c *dynamodb.Client, table string) (member, entry int) {
	out, err := c.Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(table), KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "P#telco#M#cust-0001"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, it := range out.Items {
		n := ddbsim.ItemSize(it)
		if sk := it["sk"].(*types.AttributeValueMemberS).Value; sk == "MEMBER" {
			member = n
		} else {
			entry = max(entry, n)
		}
	}
	return member, entry
}

// BenchmarkBareTransaction: the same TransactWriteItems shape as an accrual
// (conditional put of the member item + conditional put of a new entry item,
// same item sizes) in a bare loop, with nothing else around it: one
// transaction in flight per worker, as many workers as BenchmarkIngest has
// concurrent invocations (issue #11's ingest_bare_ratio).
func BenchmarkBareTransaction(b *testing.B) { bareTransactions(b, 1) }

// BenchmarkBareTransactionInFlight: the same loop with as many transactions
// in flight per worker as an ingest invocation works on at once
// (ingest.BatchWorkers): the ratio against it is the handler's overhead at
// the same load on DynamoDB Local, not its concurrency.
func BenchmarkBareTransactionInFlight(b *testing.B) { bareTransactions(b, ingest.BatchWorkers) }

// bareTransactions runs the bare loop with perWorker goroutines per
// GOMAXPROCS.
func bareTransactions(b *testing.B, perWorker int) {
	warmEmulator(b)
	var table, index, gsi atomicFloat
	st, c, name := benchStore(b)
	// Real items of a steady-state accrual, to copy their shape and size.
	// The log lines the handler writes (Lambda's log group ingests them: the
	// cost model prices them), counted; Lambda's JSON log format at INFO.
	var logged countingWriter
	proc := ingest.New(st, slog.New(slog.NewJSONHandler(&logged, nil)), metrics.New(&logged))
	for i := range 2 {
		if _, err := proc.Process(context.Background(), ingest.Message{ID: "w", Body: benchBody(i * benchMembers)}); err != nil {
			b.Fatal(err)
		}
	}
	get := func(pk, sk string) map[string]types.AttributeValue {
		out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(name),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}})
		if err != nil || out.Item == nil {
			b.Fatalf("get %s %s: %v", pk, sk, err)
		}
		return out.Item
	}
	member := get("P#telco#M#cust-0000", "MEMBER")
	entry := get("P#telco#M#cust-0000", fmt.Sprintf("PAY#pay-%09d#S", benchMembers))
	var ver struct {
		Ver int64 `dynamodbav:"ver"`
	}
	_ = attributevalue.UnmarshalMap(member, &ver)
	var seq atomic.Int64
	b.ResetTimer()
	b.SetParallelism(perWorker)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			m := maps.Clone(member)
			pk := fmt.Sprintf("P#telco#M#bare-%d", i%benchMembers)
			m["pk"] = &types.AttributeValueMemberS{Value: pk}
			e := maps.Clone(entry)
			e["pk"] = m["pk"]
			e["sk"] = &types.AttributeValueMemberS{Value: fmt.Sprintf("PAY#bare-%09d#S", i)}
			out, err := c.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes, TransactItems: []types.TransactWriteItem{
				{Put: &types.Put{TableName: aws.String(name), Item: m,
					ConditionExpression:       aws.String("attribute_not_exists(ver) OR ver >= :v"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: fmt.Sprint(ver.Ver)}}}},
				{Put: &types.Put{TableName: aws.String(name), Item: e, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
			}})
			if err != nil {
				b.Errorf("bare transaction %d: %v", i, err)
				return
			}
			for _, cc := range out.ConsumedCapacity {
				table.add(aws.ToFloat64(cc.Table.CapacityUnits))
				for _, ix := range cc.LocalSecondaryIndexes {
					index.add(aws.ToFloat64(ix.CapacityUnits))
				}
				for _, ix := range cc.GlobalSecondaryIndexes {
					gsi.add(aws.ToFloat64(ix.CapacityUnits))
				}
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(table.get()/float64(b.N), "table-WRU/accrual")
	b.ReportMetric(index.get()/float64(b.N), "index-WRU/accrual")
	b.ReportMetric(gsi.get()/float64(b.N), "gsi-WRU/accrual")
}

type atomicFloat struct {
	mu sync.Mutex
	v  float64
}

func (f *atomicFloat) add(x float64) { f.mu.Lock(); f.v += x; f.mu.Unlock() }
func (f *atomicFloat) get() float64  { f.mu.Lock(); defer f.mu.Unlock(); return f.v }

// countingWriter counts the bytes written to it.
type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}
