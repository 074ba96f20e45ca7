package rollup_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/streamtest"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rollup"
	"github.com/accrue/accrue/shared/rules"
	"github.com/accrue/accrue/shared/store"
)

// Roll-up benchmark shape: a day's earlier entries came through benchShards
// shards; newPerRun entries arrive in one stream batch before the run.
const (
	benchShards = 4
	newPerRun   = 100
)

// BenchmarkRollup measures the stats roll-up's cost per new entry on a day of
// 1,000 and of 100,000 entries (us/new_entry; the target is the big day's
// within 1.5× the small day's). Each iteration is a fresh partner whose day
// already holds the day's entries but the last newPerRun (loaded untimed as
// the consumer's partials: the consumer applies them from changes built
// directly, one transaction per shard); then, timed: the consumer's handler
// takes the newPerRun accruals as one windowed stream batch (synthetic
// records as the store writes them: per accrual the member's MODIFY, which
// adds its activity day, and the earn entry's INSERT, with breakdown and
// lot), and the roll-up job runs for the partner after the day's grace:
// seals the day, takes its benchShards+1 partials, looks for late partials,
// closes it, and writes the next day's figures so far. Both against DynamoDB
// Local on this machine. The old design read the whole day at every run.
func BenchmarkRollup(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("day_entries=%d", n), func(b *testing.B) { benchRollup(b, n) })
	}
}

func benchRollup(b *testing.B, dayEntries int) {
	ctx := context.Background()
	c := awstest.Client(b)
	// No stream: the consumer is fed synthetic records, and DynamoDB
	// Local's stream emulation slows every write as its records pile up
	// (the time per op grew with each run, whatever the day's size).
	table := awstest.NewTable(b, c, awstest.NoStream(store.CreateTableInput))
	msk, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		b.Fatal(err)
	}
	created := time.Date(2026, 11, 5, 9, 0, 0, 0, msk)
	st := store.New(c, table, store.WithClock(func() time.Time { return created }))
	consumer := rollup.NewConsumer(st, quietLogger())
	job := rollup.New(st, quietLogger())
	p, err := program.Parse([]byte(programIn("Europe/Moscow")))
	if err != nil {
		b.Fatal(err)
	}
	// The day's earlier entries, as changes of benchShards shards.
	earlier := make([][]rollup.Change, benchShards)
	for i := range dayEntries - newPerRun {
		s := i % benchShards
		seq, _ := store.PadSeq(fmt.Sprint(len(earlier[s]) + 1))
		earlier[s] = append(earlier[s], rollup.Change{Index: i, Seq: seq, Day: "2026-11-05",
			Figures: rollup.Figures{Issued: 12, Net: 12, ActiveMembers: 1}})
	}
	runAt := time.Date(2026, 11, 6, 0, 30, 0, 0, msk)
	var consumed time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		partner := fmt.Sprintf("bench-%d", i)
		if _, err := st.PutProgram(ctx, partner, p); err != nil {
			b.Fatal(err)
		}
		for s, cs := range earlier {
			if err := consumer.ApplyChanges(ctx, fmt.Sprintf("shard-%d", s), partner, cs); err != nil {
				b.Fatal(err)
			}
		}
		rec, _, err := st.Partner(ctx, partner)
		if err != nil {
			b.Fatal(err)
		}
		batch := accrualRecords(b, partner, created.Add(time.Hour))
		b.StartTimer()

		start := time.Now()
		resp, err := consumer.Handle(ctx, batch)
		consumed += time.Since(start)
		if err != nil || len(resp.BatchItemFailures) > 0 {
			b.Fatalf("consumer: %+v, %v", resp.BatchItemFailures, err)
		}
		pr, err := job.RunPartner(ctx, rec, runAt)
		if err != nil || pr.DaysClosed != 1 || pr.DaysSoFar != 1 {
			b.Fatalf("roll-up: %+v, %v", pr, err)
		}
	}
	b.StopTimer()
	// The figures are the day's: every entry counted once.
	days, err := st.Stats(ctx, fmt.Sprintf("bench-%d", b.N-1), "2026-11-05", "2026-11-05")
	if err != nil || len(days) != 1 || days[0].Issued != int64(12*dayEntries) || days[0].ActiveMembers != int64(dayEntries) {
		b.Fatalf("figures of the day: %+v, %v", days, err)
	}
	perNew := float64(b.Elapsed().Microseconds()) / float64(b.N*newPerRun)
	b.ReportMetric(perNew, "us/new_entry")
	b.ReportMetric(float64(consumed.Microseconds())/float64(b.N*newPerRun), "consumer_us/new_entry")
	b.ReportMetric(float64(dayEntries), "day_entries")
}

// accrualRecords is the stream batch of newPerRun accruals of partner at at:
// per accrual the member's MODIFY (its first activity of the day) and the
// earn entry's INSERT, as the store writes them.
func accrualRecords(b *testing.B, partner string, at time.Time) events.DynamoDBTimeWindowEvent {
	var ev events.DynamoDBTimeWindowEvent
	ev.ShardID, ev.State = "shard-new", map[string]string{}
	seq := int64(1_000_000_000_000)
	add := func(name, pk, sk string, old, new map[string]events.DynamoDBAttributeValue) {
		seq++
		ev.Records = append(ev.Records, streamtest.Record(name, pk, sk, fmt.Sprint(seq), old, new))
	}
	img := func(v any, pk, sk string) map[string]events.DynamoDBAttributeValue {
		return streamtest.Image(b, v, pk, sk, nil)
	}
	exp := at.AddDate(1, 0, 0)
	for i := range newPerRun {
		member, pay := fmt.Sprintf("cust-%d", i), fmt.Sprintf("pay-%d", i)
		pk := "P#" + partner + "#M#" + member
		before := ledger.Member{PartnerID: partner, ID: member, Status: ledger.StatusActive, Version: 3, Seq: 3,
			Balances: ledger.Balances{Available: 36, Lifetime: 36}, ActiveDays: []string{"2026-11-04"},
			Rules: rules.State{Tier: "base", Qualifying: 36, Day: "2026-11-04", DayPoints: 12, Month: "2026-11", MonthPoints: 36}}
		after := before
		after.Version, after.Seq, after.Balances = 4, 4, ledger.Balances{Available: 48, Lifetime: 48}
		after.ActiveDays = []string{"2026-11-04", "2026-11-05"}
		add("MODIFY", pk, "MEMBER", img(before, pk, "MEMBER"), img(after, pk, "MEMBER"))
		e := ledger.Entry{PartnerID: partner, MemberID: member, Seq: 4, Kind: ledger.KindEarn, At: at.UTC(), Points: 12,
			Breakdown:  []rules.Line{{Kind: rules.KindEarn, Rule: "base", Points: 12}},
			Delta:      ledger.Balances{Available: 12, Lifetime: 12},
			PaymentRef: ledger.PaymentRef{EventID: "evt-" + pay, PaymentID: pay, AmountMinor: 129900, Currency: "RUB", Category: "telecom", PaidAt: at.UTC()},
			Lot:        ledger.Lot{State: ledger.LotAvailable, Remaining: 12, ExpiresAt: &exp}}
		add("INSERT", pk, "PAY#"+pay+"#S", nil, img(e, pk, "PAY#"+pay+"#S"))
	}
	return ev
}

func quietLogger() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }
