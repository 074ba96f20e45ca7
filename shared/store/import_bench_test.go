package store

// BenchmarkImportWrites: the two ways to write imported members, measured
// on the same members against DynamoDB Local (no stream: see BENCHMARKS.md),
// each from 16 goroutines:
//
//   - transactions: ImportMember, what the imports run — one
//     TransactWriteItems per member (member put if absent, the erased-id
//     ConditionCheck, its entries), so "already present" and "erased" are
//     decided atomically;
//   - batchwrite: BatchWriteItem, 25 items a request, of members found
//     absent (and not erased) by a BatchGetItem just before. BatchWriteItem
//     cannot be conditional: a member created between the read and the write
//     (by a payment's auto-enrolment, an enrolment, another import) would be
//     overwritten, losing what it had — so this path is measured, not used.
//
// Each reports members/s (without the meter, whose own reads would slow
// it) and the write units AWS would bill per member (internal/ddbsim.Meter,
// on a second set of members): table and due index.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/ddbsim"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
)

const importBenchProgram = `{
  "name": "Import", "auto_enroll": true, "timezone": "Europe/Moscow",
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 10000}}],
  "tiers": [{"name": "base", "threshold": 0, "multiplier": "1"}, {"name": "silver", "threshold": 5000, "multiplier": "1.25"}],
  "qualifying_window_days": 365,
  "expiry": {"rolling_days": 365, "warn_days": 30},
  "point_value": {"minor": "1", "currency": "RUB"}
}`

var importBenchAt = time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC)

// benchOpening is a typical imported member: two available lots, lifetime
// and qualifying points (4 entries).
func benchOpening(i int) ledger.Opening {
	exp := importBenchAt.AddDate(0, 3+i%9, 0)
	life := int64(5000 + i%3000)
	return ledger.Opening{MemberID: fmt.Sprintf("bench-%07d", i), Lifetime: &life, Qualifying: int64(i % 4000),
		Available: []ledger.OpeningLot{{Points: int64(100 + i%900), ExpiresAt: &exp}, {Points: 50}}}
}

type importWriter func(ctx context.Context, s *Store, p *program.Program, from, to int) error

func BenchmarkImportWrites(b *testing.B) {
	const members, workers = 3000, 16
	for _, v := range []struct {
		name  string
		write importWriter
	}{{"transactions", importByTransactions}, {"batchwrite", importByBatchWrite}} {
		b.Run(v.name, func(b *testing.B) {
			c := awstest.Client(b)
			table := awstest.NewTable(b, c, awstest.NoStream(CreateTableInput))
			p, err := parseProgram(importBenchProgram)
			if err != nil {
				b.Fatal(err)
			}
			s := New(c, table, WithClock(func() time.Time { return importBenchAt }))
			// Throughput (once, whatever b.N: the figure is per member).
			b.ResetTimer()
			start := time.Now()
			runWorkers(b, workers, members, func(from, to int) error { return v.write(context.Background(), s, p, from, to) })
			took := time.Since(start)
			b.StopTimer()
			// Billing, on other members, through the meter.
			meter, err := ddbsim.NewMeter(c, CreateTableInput(table))
			if err != nil {
				b.Fatal(err)
			}
			ms := New(dynamodb.New(c.Options(), meter.Option), table, WithClock(func() time.Time { return importBenchAt }))
			const metered = 300
			runWorkers(b, 4, metered, func(from, to int) error {
				return v.write(context.Background(), ms, p, members+from, members+to)
			})
			if err := meter.Err(); err != nil {
				b.Fatal(err)
			}
			r := meter.Report()
			b.ReportMetric(float64(members)/took.Seconds(), "members/s")
			b.ReportMetric(float64(r.TotalWRU+r.RejectedWRU)/metered, "WRU/member")
			b.ReportMetric(float64(r.TableWRU)/metered, "table-WRU/member")
			b.ReportMetric(float64(r.Indexes[IndexDue].WRU)/metered, "due-index-WRU/member")
			b.ReportMetric(float64(r.HalfRRU)/2/metered, "RRU/member")
		})
	}
}

func parseProgram(js string) (*program.Program, error) { return program.Parse([]byte(js)) }

// runWorkers splits [0, n) into chunks of 25 members done by workers at once.
func runWorkers(b *testing.B, workers, n int, do func(from, to int) error) {
	b.Helper()
	const chunk = 25
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				from := int(next.Add(chunk) - chunk)
				if from >= n {
					return
				}
				if err := do(from, min(from+chunk, n)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

func importByTransactions(ctx context.Context, s *Store, p *program.Program, from, to int) error {
	for i := from; i < to; i++ {
		if out, err := s.ImportMember(ctx, "telco", p, benchOpening(i), fmt.Sprintf("imp_bench/%d", i), importBenchAt); err != nil || out != MemberImported {
			return fmt.Errorf("member %d: %v, %w", i, out, err)
		}
	}
	return nil
}

// importByBatchWrite reads which members of [from, to) exist or were erased
// (one BatchGetItem), then writes the others' items with BatchWriteItem, 25
// a request, retrying what comes back unprocessed. Not atomic: see above.
func importByBatchWrite(ctx context.Context, s *Store, p *program.Program, from, to int) error {
	keys := make([]map[string]types.AttributeValue, 0, 2*(to-from))
	for i := from; i < to; i++ {
		id := benchOpening(i).MemberID
		keys = append(keys, key(memberPK("telco", id), skMember), key(erasedPK("telco", id), skErased))
	}
	got, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		s.table: {Keys: keys, ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("pk")},
	}})
	if err != nil {
		return err
	}
	if len(got.UnprocessedKeys) > 0 {
		return fmt.Errorf("unprocessed keys")
	}
	present := map[string]bool{}
	for _, it := range got.Responses[s.table] {
		present[it[AttrPK].(*types.AttributeValueMemberS).Value] = true
	}
	var writes []types.WriteRequest
	for i := from; i < to; i++ {
		o := benchOpening(i)
		if present[memberPK("telco", o.MemberID)] || present[erasedPK("telco", o.MemberID)] {
			continue
		}
		m, es, err := ledger.Import("telco", p, o, fmt.Sprintf("imp_bench/%d", i), importBenchAt)
		if err != nil {
			return err
		}
		for k := range es {
			lowerDue(&m, p, &es[k])
		}
		it, err := memberItem(&m)
		if err != nil {
			return err
		}
		writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		for k := range es {
			it, err := entryItem(&es[k], entrySK(es[k].Seq))
			if err != nil {
				return err
			}
			writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		}
	}
	for chunk := range slices.Chunk(writes, 25) {
		pending := chunk
		for len(pending) > 0 {
			out, err := s.db.(interface {
				BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
			}).BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.table: pending}})
			if err != nil {
				return err
			}
			pending = out.UnprocessedItems[s.table]
		}
	}
	return nil
}
