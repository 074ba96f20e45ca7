package memberjobs_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/ddbsim"
	"github.com/accrue/accrue/internal/profiles"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/memberjobs"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// BenchmarkMemberJobs: one run over b.N due members (each with a pending lot
// to release and a lot to expire), against DynamoDB Local, beside 4×b.N
// members that are not due. Reports the cost of one due member.
func BenchmarkMemberJobs(b *testing.B) {
	t0 := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	st, clock := benchStore(b, jobsProgram, t0)
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	ctx := b.Context()
	pay := func(member string, i int) {
		if _, err := st.Apply(ctx, payment.Payment{
			EventID: fmt.Sprint("e", i), Source: "bench", Type: payment.TypeSucceeded, Time: now(),
			PartnerID: "acme", MemberID: member, PaymentID: fmt.Sprint("p", i), AmountMinor: 10000, Currency: "RUB", Category: "telecom",
		}); err != nil {
			b.Fatal(err)
		}
	}
	n := 0
	for i := range b.N {
		pay(fmt.Sprintf("due-%06d", i), n)
		n++
	}
	clock.Store(t0.AddDate(0, 0, 16).UnixNano())
	for i := range b.N {
		pay(fmt.Sprintf("due-%06d", i), n) // a second lot, released at day 30
		n++
	}
	clock.Store(t0.AddDate(0, 0, 17).UnixNano())
	for i := range b.N {
		for j := range 4 { // not due at day 30
			pay(fmt.Sprintf("idle-%06d-%d", i, j), n)
			n++
		}
	}
	clock.Store(t0.AddDate(0, 0, 30).UnixNano()) // first lots: released at 14 days, expire at 30
	r := memberjobs.New(st, memberjobs.WithClock(now), memberjobs.WithLogger(quiet()))
	b.ResetTimer()
	rep, err := r.Run(ctx)
	b.StopTimer()
	if err != nil || rep.Members != b.N {
		b.Fatalf("run: %+v %v", rep, err)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/member")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "members/s")
}

// BenchmarkPointLifecycle: the billed write units of a point's whole life in
// the telco profile, amortised per accrual: members pay monthly for two
// years; the member jobs run whenever one of them is due (as the 5-minute
// schedule would, at the due second); the clock then runs on until every
// lot has expired. Every write is metered by AWS's billing rules (accruals,
// budget reservations, the release each next write books, warnings,
// expiries, the due index), and every read but the harness's own and the
// fixed reads of the schedule's walk (reported apart). Runs once whatever
// b.N asks.
func BenchmarkPointLifecycle(b *testing.B) {
	const members, months = 12, 24
	db := awstest.Client(b)
	def := awstest.NoStream(store.CreateTableInput)
	table := awstest.NewTable(b, db, def)
	meter, err := ddbsim.NewMeter(db, def(table))
	if err != nil {
		b.Fatal(err)
	}
	var clock atomic.Int64
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	start := time.Date(2027, 1, 3, 9, 0, 0, 0, time.UTC)
	clock.Store(start.UnixNano())
	st := store.New(dynamodb.New(db.Options(), meter.Option), table, store.WithClock(now), store.WithProgramCacheTTL(0))
	// The harness finds the next due second through a store the meter does
	// not see: its reads are the benchmark's clock, not the system's cost.
	harness := store.New(db, table, store.WithClock(now), store.WithProgramCacheTTL(0))
	p, err := program.Parse([]byte(profiles.Telco))
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	if _, err := st.PutProgram(ctx, "acme", p); err != nil {
		b.Fatal(err)
	}
	meter.Reset()
	type due struct {
		at     time.Time
		member int
		month  int
	}
	var pays []due // member m pays on day 3+m of every month
	for mo := range months {
		for m := range members {
			pays = append(pays, due{start.AddDate(0, mo, m), m, mo})
		}
	}
	sort.Slice(pays, func(i, j int) bool { return pays[i].at.Before(pays[j].at) })
	r := memberjobs.New(st, memberjobs.WithClock(now), memberjobs.WithLogger(quiet()))
	var runs, visits, warnings int
	b.ResetTimer()
	for {
		next := time.Time{}
		if len(pays) > 0 {
			next = pays[0].at
		}
		soonest, err := nextDue(ctx, harness)
		if err != nil {
			b.Fatal(err)
		}
		switch {
		case !soonest.IsZero() && (next.IsZero() || soonest.Before(next)):
			clock.Store(soonest.UnixNano())
			rep, err := r.Run(ctx)
			if err != nil {
				b.Fatal(err)
			}
			runs++
			visits += rep.Members
			warnings += rep.Warnings
		case !next.IsZero():
			clock.Store(next.UnixNano())
			pd := pays[0]
			pays = pays[1:]
			cat := "telecom"
			if pd.month%2 == 1 {
				cat = "utilities"
			}
			if _, err := st.Apply(ctx, payment.Payment{
				EventID: fmt.Sprint("e", pd.member, "-", pd.month), Source: "bench", Type: payment.TypeSucceeded, Time: now(),
				PartnerID: "acme", MemberID: fmt.Sprintf("m%02d", pd.member), PaymentID: fmt.Sprint("p", pd.member, "-", pd.month),
				AmountMinor: 150000, Currency: "RUB", Category: cat,
			}); err != nil {
				b.Fatal(err)
			}
		default:
			b.StopTimer()
			if err := meter.Err(); err != nil {
				b.Fatal(err)
			}
			rp := meter.Report()
			// What one scheduled run reads when nothing is due (the walk of
			// the due index's shards, the partner registry): a fixed cost
			// of the 5-minute schedule for the whole table, whatever the
			// load, so not a cost of these accruals. The harness ran the
			// jobs at each due second instead (runs times), and takes it out.
			meter.Reset()
			if rep, err := r.Run(ctx); err != nil || rep.Members != 0 {
				b.Fatalf("empty run: %+v %v", rep, err)
			}
			walk := meter.Report().HalfRRU
			accruals := float64(members * months)
			expiries := 0
			for m := range members {
				es, err := st.Entries(ctx, "acme", fmt.Sprintf("m%02d", m))
				if err != nil {
					b.Fatal(err)
				}
				for _, e := range es {
					if e.Kind == ledger.KindExpire {
						expiries++
					}
					if e.Kind == ledger.KindEarn && e.Remaining > 0 && e.State != ledger.LotNone {
						b.Fatalf("lot %d of m%02d still holds %d points", e.Seq, m, e.Remaining)
					}
				}
			}
			b.Logf("%d accruals, %d job runs, %d member visits, %d warnings, %d expire entries; WRU: %d table, %v indexes, %d rejected",
				int(accruals), runs, visits, warnings, expiries, rp.TableWRU, rp.Indexes, rp.RejectedWRU)
			b.ReportMetric(float64(rp.TotalWRU+rp.RejectedWRU)/accruals, "WRU/accrual")
			b.ReportMetric(float64(rp.HalfRRU-int64(runs)*walk)/2/accruals, "RRU/accrual")
			b.ReportMetric(float64(walk)/2, "walk-RRU/run")
			b.ReportMetric(float64(visits)/accruals, "visits/accrual")
			b.ReportMetric(float64(warnings+expiries)/accruals, "job-events/accrual")
			return
		}
	}
}

// nextDue is the earliest due time in the due index (zero: none).
func nextDue(ctx context.Context, st *store.Store) (time.Time, error) {
	var soonest time.Time
	far := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	for shard := range store.DueShards {
		err := st.ForEachDue(ctx, shard, far, func(d store.DueMember) error {
			if soonest.IsZero() || d.Due.Before(soonest) {
				soonest = d.Due
			}
			return errStopWalk // earliest first: the first is the shard's soonest
		})
		if err != nil && !errors.Is(err, errStopWalk) {
			return soonest, err
		}
	}
	return soonest, nil
}

var errStopWalk = errors.New("stop")

// BenchmarkMemberJobsParallelism: each iteration, a backlog of 128 due
// members spread over the shards of the due index and one run over it; how
// many members a run works on at once (the most member transactions in
// flight together, counted around the store).
func BenchmarkMemberJobsParallelism(b *testing.B) {
	const backlog = 128
	st, clock := benchStore(b, jobsProgram, time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC))
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	ctx := b.Context()
	counted := &inFlight{Store: st}
	r := memberjobs.New(counted, memberjobs.WithClock(now), memberjobs.WithLogger(quiet()))
	shards := map[int]bool{}
	visited := 0
	for i := range b.N {
		b.StopTimer()
		for j := range backlog {
			if _, err := st.Apply(ctx, payment.Payment{
				EventID: fmt.Sprint("e", i, "-", j), Source: "bench", Type: payment.TypeSucceeded, Time: now(),
				PartnerID: "acme", MemberID: fmt.Sprintf("m%d-%04d", i, j), PaymentID: fmt.Sprint("p", i, "-", j), AmountMinor: 10000, Currency: "RUB", Category: "telecom",
			}); err != nil {
				b.Fatal(err)
			}
		}
		clock.Add(int64(30 * 24 * time.Hour)) // every lot of this backlog expires
		for shard := range store.DueShards {
			_ = st.ForEachDue(ctx, shard, now(), func(store.DueMember) error { shards[shard] = true; return errStopWalk })
		}
		b.StartTimer()
		rep, err := r.Run(ctx)
		// The earlier iterations' members come due again (their tier
		// window moved on with the clock): a run works on those too.
		if err != nil || rep.Members < backlog {
			b.Fatalf("run: %+v %v", rep, err)
		}
		visited += rep.Members
	}
	b.ReportMetric(float64(counted.peak.Load()), "parallelism")
	b.ReportMetric(float64(len(shards)), "shards")
	b.ReportMetric(float64(visited)/b.Elapsed().Seconds(), "members/s")
}

// inFlight counts the member transactions in flight at once.
type inFlight struct {
	memberjobs.Store
	busy, peak atomic.Int64
}

func (c *inFlight) UpdateLedger(ctx context.Context, partner, member string, fn func(*store.LedgerTx) error) (ledger.Member, error) {
	n := c.busy.Add(1)
	defer c.busy.Add(-1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	return c.Store.UpdateLedger(ctx, partner, member, fn)
}

// benchStore is a store on a new table (no stream) whose clock starts at
// start, with partner acme's program.
func benchStore(b *testing.B, prog string, start time.Time, opts ...func(*dynamodb.Options)) (*store.Store, *atomic.Int64) {
	db := awstest.Client(b)
	table := awstest.NewTable(b, db, awstest.NoStream(store.CreateTableInput))
	clock := new(atomic.Int64)
	clock.Store(start.UnixNano())
	st := store.New(dynamodb.New(db.Options(), opts...), table, store.WithClock(func() time.Time { return time.Unix(0, clock.Load()).UTC() }), store.WithProgramCacheTTL(0))
	p, err := program.Parse([]byte(prog))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.PutProgram(b.Context(), "acme", p); err != nil {
		b.Fatal(err)
	}
	return st, clock
}
