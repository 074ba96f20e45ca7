package store_test

// The scale of one partner (issue #11, spec §10): what an accrual costs on
// AWS by its billing rules (internal/ddbsim.Meter applies them to the items
// and projections actually written), which partition key a partner's
// accruals meet on, and how often concurrent accruals of one partner cancel
// each other (internal/ddbsim.Conflicts makes DynamoDB Local conflict the way
// DynamoDB does). make bench turns the metrics into BENCHMARKS.md and
// BENCHMARKS.json (cmd/benchreport).

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/ddbsim"
	"github.com/accrue/accrue/internal/profiles"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// The two profiles of issue #11 (internal/profiles): lean, and telco — a
// 14-day pending period, rolling expiry after 365 days warned 30 days
// before, a monthly program budget and one budgeted campaign that the
// telecom half of the payments hit.
const (
	leanProgram  = profiles.Lean
	telcoProgram = profiles.Telco
)

// benchEnv is a table on DynamoDB Local (no stream: see BENCHMARKS.md) with
// one partner's program, and a store whose client goes through opts.
type benchEnv struct {
	raw   *dynamodb.Client
	table string
	def   *dynamodb.CreateTableInput
}

func newBenchEnv(b *testing.B, prog string) *benchEnv {
	b.Helper()
	c := awstest.Client(b)
	table := awstest.NewTable(b, c, awstest.NoStream(store.CreateTableInput))
	p, err := program.Parse([]byte(prog))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := store.New(c, table).PutProgram(context.Background(), "telco", p); err != nil {
		b.Fatal(err)
	}
	return &benchEnv{raw: c, table: table, def: store.CreateTableInput(table)}
}

func (e *benchEnv) store(opts ...func(*dynamodb.Options)) *store.Store {
	return store.New(dynamodb.New(e.raw.Options(), opts...), e.table, store.WithClock(func() time.Time { return t0 }))
}

// benchPay is payment n of member m: 1,000.00 RUB, telecom for even n
// (the campaign's half), utilities for odd.
func benchPay(m, n int) payment.Payment {
	p := pay("telco", fmt.Sprintf("m%05d", m), fmt.Sprintf("p%05d-%d", m, n), 100000)
	if n%2 == 1 {
		p.Category = "utilities"
	}
	return p
}

// accrueAll applies the payments from workers goroutines (as the ingest
// function's concurrent batches do) and fails on any error.
func accrueAll(b *testing.B, st *store.Store, workers int, pays []payment.Payment) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(pays)) {
					return
				}
				if _, err := st.Apply(context.Background(), pays[i]); err != nil {
					b.Errorf("apply %s: %v", pays[i].PaymentID, err)
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

// BenchmarkWRUPerAccrual: the billed write units of a steady accrual (a
// member that exists, nothing due) on AWS: table and every index, failed
// conditional writes included, per profile; and the read units.
func BenchmarkWRUPerAccrual(b *testing.B) {
	for _, prof := range []struct{ name, prog string }{{"lean", leanProgram}, {"telco", telcoProgram}} {
		b.Run(prof.name, func(b *testing.B) {
			e := newBenchEnv(b, prof.prog)
			meter, err := ddbsim.NewMeter(e.raw, e.def)
			if err != nil {
				b.Fatal(err)
			}
			st := e.store(meter.Option)
			const members = 50
			var warm []payment.Payment
			for m := range members {
				warm = append(warm, benchPay(m, 0))
			}
			accrueAll(b, st, 4, warm)
			meter.Reset()
			b.ResetTimer()
			for i := range b.N {
				if _, err := st.Apply(context.Background(), benchPay(i%members, 1+i/members)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if err := meter.Err(); err != nil {
				b.Fatal(err)
			}
			r := meter.Report()
			n := float64(b.N)
			b.ReportMetric(float64(r.TotalWRU+r.RejectedWRU)/n, "WRU/accrual")
			b.ReportMetric(float64(r.TableWRU)/n, "table-WRU/accrual")
			b.ReportMetric(float64(r.TotalWRU-r.TableWRU)/n, "index-WRU/accrual")
			b.ReportMetric(float64(r.HalfRRU)/2/n, "RRU/accrual")
		})
	}
}

// BenchmarkPartnerCeiling: 20,000 payments over 5,000 members of one partner
// with a monthly budget and a budgeted campaign (telco), 16 at a time. The
// ceiling of the partner's accruals per second is 1,000 WCU/s (one
// partition's limit) ÷ the WRU per accrual that land on the hottest
// partition key of any key space (table, LSI, GSI). It runs once, whatever
// b.N asks (its figures are per accrual).
func BenchmarkPartnerCeiling(b *testing.B) {
	const payments, members = 20000, 5000
	e := newBenchEnv(b, telcoProgram)
	meter, err := ddbsim.NewMeter(e.raw, e.def)
	if err != nil {
		b.Fatal(err)
	}
	st := e.store(meter.Option)
	pays := make([]payment.Payment, 0, payments)
	for n := range payments / members {
		for m := range members {
			pays = append(pays, benchPay(m, n))
		}
	}
	b.ResetTimer()
	accrueAll(b, st, 16, pays)
	b.StopTimer()
	if err := meter.Err(); err != nil {
		b.Fatal(err)
	}
	r := meter.Report()
	hot, hotWRU := r.Hottest()
	perAccrual := float64(hotWRU) / payments
	b.Logf("hottest partition key: %s %q with %d WRU of %d payments (%.4f per accrual); next: %v",
		orTable(hot.Index), hot.Value, hotWRU, payments, perAccrual, top(r.Ranked(), 4))
	b.ReportMetric(perAccrual, "hot-key-WRU/accrual")
	b.ReportMetric(float64(ddbsim.PartitionWriteLimit)/perAccrual, "ceiling-accruals/s")
	b.ReportMetric(float64(r.TotalWRU+r.RejectedWRU)/payments, "WRU/accrual")
}

func orTable(index string) string {
	if index == "" {
		return "table"
	}
	return "index " + index
}

func top(ks []ddbsim.KeyWRU, n int) []ddbsim.KeyWRU { return ks[1:min(n, len(ks))] }

// BenchmarkConflictRate64: rounds of 64 accruals of one partner (distinct
// members, as one billing run is), all at once, with the telco program's
// budgets, under a client that conflicts the way DynamoDB does: the share
// of accrual transactions cancelled by a conflict.
func BenchmarkConflictRate64(b *testing.B) {
	e := newBenchEnv(b, telcoProgram)
	conflicts, err := ddbsim.NewConflicts(e.def)
	if err != nil {
		b.Fatal(err)
	}
	st := e.store(conflicts.Option)
	const concurrent = 64
	b.ResetTimer()
	for round := range b.N {
		pays := make([]payment.Payment, concurrent)
		for i := range concurrent {
			pays[i] = benchPay(round*concurrent+i, 0)
		}
		accrueAll(b, st, concurrent, pays)
	}
	b.StopTimer()
	s := conflicts.Stats()
	b.ReportMetric(float64(s.TransactionConflicts)/float64(max(s.Transactions, 1)), "conflict-rate")
	b.ReportMetric(float64(s.Transactions)/float64(b.N*concurrent), "tx/accrual")
}
