package memberjobs_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/shared/memberjobs"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// BenchmarkMemberJobs: one run over b.N due members (each with a pending lot
// to release and a lot to expire), against DynamoDB Local, beside 4×b.N
// members that are not due. Reports the cost of one due member.
func BenchmarkMemberJobs(b *testing.B) {
	db := awstest.Client(b)
	table := awstest.NewTable(b, db, awstest.NoStream(store.CreateTableInput))
	var clock atomic.Int64
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	t0 := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	clock.Store(t0.UnixNano())
	st := store.New(db, table, store.WithClock(now))
	p, err := program.Parse([]byte(jobsProgram))
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	if _, err := st.PutProgram(ctx, "acme", p); err != nil {
		b.Fatal(err)
	}
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
