package rollup_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/rollup"
	"github.com/accrue/accrue/shared/store"
)

// flaky passes calls through to DynamoDB Local and makes every nth
// TransactWriteItems fail: alternately before it reaches DynamoDB, and after
// it committed (the reply lost, as on a timeout).
type flaky struct {
	store.DynamoDB
	every int64
	calls atomic.Int64
}

var errInjected = errors.New("injected failure")

func (f *flaky) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	n := f.calls.Add(1)
	if n%f.every != 0 {
		return f.DynamoDB.TransactWriteItems(ctx, in, opts...)
	}
	if (n/f.every)%2 == 1 {
		return nil, errInjected
	}
	if _, err := f.DynamoDB.TransactWriteItems(ctx, in, opts...); err != nil {
		return nil, err
	}
	return nil, errInjected
}

// shardOf puts each member's records in one of two shards (as DynamoDB puts
// each partition's records in one shard), the other records in the first.
func shardOf(r events.DynamoDBEventRecord) string {
	pk := r.Change.Keys["pk"].String()
	if store.ParseKey(pk, r.Change.Keys["sk"].String()).Member == "" {
		return "shard-a"
	}
	h := fnv.New32a()
	h.Write([]byte(pk))
	return []string{"shard-a", "shard-b"}[h.Sum32()%2]
}

// Every way the event source may deliver the stream — batches again, batches
// overlapping, one record at a time, shards in any order, writes failing
// before or after they commit and the batch delivered again from the failed
// record — ends with exactly the figures of the mixed scenario, and another
// partner's interleaved records never reach them.
func TestRedeliveredBatchesChangeNothing(t *testing.T) {
	type batches = map[string][]events.DynamoDBEventRecord
	cases := []struct {
		name string
		feed func(t *testing.T, e *env, shards batches)
	}{
		{"batches of 100 once", func(t *testing.T, e *env, shards batches) {
			for shard, recs := range shards {
				lambdaLike(t, e.consumer, shard, recs, 100)
			}
		}},
		{"every batch twice", func(t *testing.T, e *env, shards batches) {
			for shard, recs := range shards {
				for i := 0; i < len(recs); i += 10 {
					batch := recs[i:min(i+10, len(recs))]
					for range 2 {
						if n := deliver(t, e.consumer, shard, batch); n != len(batch) {
							t.Fatalf("batch failed at %d", n)
						}
					}
				}
			}
		}},
		{"overlapping batches", func(t *testing.T, e *env, shards batches) {
			for shard, recs := range shards {
				for i := 0; i < len(recs); i += 5 {
					batch := recs[i:min(i+9, len(recs))]
					if n := deliver(t, e.consumer, shard, batch); n != len(batch) {
						t.Fatalf("batch failed at %d", n)
					}
				}
			}
		}},
		{"one record at a time, then the whole shard again", func(t *testing.T, e *env, shards batches) {
			for shard, recs := range shards {
				lambdaLike(t, e.consumer, shard, recs, 1)
				lambdaLike(t, e.consumer, shard, recs, len(recs))
			}
		}},
		{"the second shard first, then an old batch again", func(t *testing.T, e *env, shards batches) {
			lambdaLike(t, e.consumer, "shard-b", shards["shard-b"], 7)
			lambdaLike(t, e.consumer, "shard-a", shards["shard-a"], 7)
			lambdaLike(t, e.consumer, "shard-b", shards["shard-b"][:20], 20)
		}},
		{"writes failing before and after they commit", func(t *testing.T, e *env, shards batches) {
			c := rollup.NewConsumer(store.New(&flaky{DynamoDB: e.client, every: 3}, e.table), logger(t))
			for shard, recs := range shards {
				lambdaLike(t, c, shard, recs, 10)
			}
		}},
	}
	var reference []store.DayStats // the other partner's days, from the first case
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.manual = true
			e.program("other", programIn("Asia/Kolkata"), mixedFirst)
			other := 0
			seedMixed(t, e, func(now time.Time) {
				// The other partner pays as often, with the same member ids.
				other++
				e.clock.set(now.Add(-time.Second))
				e.pay("other", fmt.Sprintf("m%d", other%4), fmt.Sprintf("p%d", other), int64(other)*100000, now.Add(-time.Second))
			})
			shards := batches{}
			for _, r := range e.records() {
				shards[shardOf(r)] = append(shards[shardOf(r)], r)
			}
			if len(shards["shard-a"]) < 20 || len(shards["shard-b"]) < 20 {
				t.Fatalf("records per shard: %d, %d", len(shards["shard-a"]), len(shards["shard-b"]))
			}
			tc.feed(t, e, shards)
			e.run(mixedEnd)
			if days := e.days("mixed"); !reflect.DeepEqual(days, mixedWant) {
				t.Fatalf("mixed partner's days:\n got %+v\nwant %+v", days, mixedWant)
			}
			days := e.days("other")
			checkDays(t, days, "2026-11-02", zone("Asia/Kolkata"))
			if reference == nil {
				reference = days
			} else if !reflect.DeepEqual(days, reference) {
				t.Fatalf("other partner's days:\n got %+v\nwant %+v", days, reference)
			}
		})
	}
}

// Records the consumer applies after their day was sealed (it lagged, or
// failed, over midnight) are counted once, in the next day closed: the days
// already closed stay as they were, outstanding stays exact, and the figures
// so far of the open day show them before.
func TestLateRecordsFoldIntoTheNextDayClosed(t *testing.T) {
	type want struct {
		day                   string
		issued, active, outst int64
		final                 bool
	}
	// A run of the roll-up at at, after the consumer read the records of the
	// first drained payments (0: none more).
	type run struct {
		at      string
		drained int
	}
	// m1 pays 10 points at 11-05 10:00, m2 20 at 23:59:59, m3 40 on 11-06 at
	// 10:00, m4 80 on 11-07 at 10:00 (Moscow).
	cases := []struct {
		name string
		runs []run
		want []want
	}{
		{
			name: "nothing read before 11-05 closed",
			runs: []run{{"2026-11-06 00:30:00", 0}, {"2026-11-06 12:00:00", 3}, {"2026-11-07 00:30:00", 3}, {"2026-11-07 12:00:00", 4}},
			want: []want{{"2026-11-05", 0, 0, 0, true}, {"2026-11-06", 70, 3, 70, true}, {"2026-11-07", 80, 1, 150, false}},
		},
		{
			name: "half read before 11-05 closed",
			runs: []run{{"2026-11-06 00:30:00", 1}, {"2026-11-07 00:30:00", 3}, {"2026-11-07 12:00:00", 4}},
			want: []want{{"2026-11-05", 10, 1, 10, true}, {"2026-11-06", 60, 2, 70, true}, {"2026-11-07", 80, 1, 150, false}},
		},
		{
			name: "read only after 11-06 closed too",
			runs: []run{{"2026-11-06 00:30:00", 1}, {"2026-11-07 00:30:00", 0}, {"2026-11-07 12:00:00", 4}, {"2026-11-08 00:30:00", 4}},
			want: []want{{"2026-11-05", 10, 1, 10, true}, {"2026-11-06", 0, 0, 10, true}, {"2026-11-07", 140, 3, 150, true}, {"2026-11-08", 0, 0, 150, false}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.manual = true
			e.program("late", programIn("Europe/Moscow"), in(msk, "2026-11-05 09:00:00"))
			pays := []struct {
				member, at string
				points     int64
			}{{"m1", "2026-11-05 10:00:00", 10}, {"m2", "2026-11-05 23:59:59", 20}, {"m3", "2026-11-06 10:00:00", 40}, {"m4", "2026-11-07 10:00:00", 80}}
			var seqs []int // stream records after each payment
			for i, p := range pays {
				e.pay("late", p.member, fmt.Sprintf("pay-%d", i), p.points*10000, in(msk, p.at))
				seqs = append(seqs, len(e.records()))
			}
			recs := e.records()
			read := 0
			for _, r := range tc.runs {
				if r.drained > 0 && seqs[r.drained-1] > read {
					lambdaLike(t, e.consumer, "shard-1", recs[read:seqs[r.drained-1]], 100)
					read = seqs[r.drained-1]
				}
				e.run(in(msk, r.at))
			}
			days := e.days("late")
			checkDays(t, days, "2026-11-05", msk)
			if len(days) != len(tc.want) {
				t.Fatalf("%d days, want %d: %+v", len(days), len(tc.want), days)
			}
			for i, w := range tc.want {
				ds := days[i]
				if ds.Day != w.day || ds.Issued != w.issued || ds.ActiveMembers != w.active || ds.Outstanding != w.outst || ds.Final != w.final {
					t.Errorf("%s: issued %d, active %d, outstanding %d, final %v; want %+v", ds.Day, ds.Issued, ds.ActiveMembers, ds.Outstanding, ds.Final, w)
				}
			}
			if lates, err := e.st.LatePartials(context.Background(), "late", store.MaxFolds); err != nil || len(lates) != 0 {
				t.Errorf("late marks left: %+v, %v", lates, err)
			}
		})
	}
}

// A GDPR erase copies the member's entries to an anonymous member and
// deletes the originals; the anonymous member is a new item. None of that is
// counted again, whether the erase happens the same day or the next, or is
// interrupted and finished later.
func TestErasureCountsOnce(t *testing.T) {
	cases := []struct {
		name        string
		at          string
		interrupted bool
	}{
		{"the same day", "2026-11-05 12:00:00", false},
		{"the next day", "2026-11-06 12:00:00", false},
		{"interrupted, finished later", "2026-11-06 12:00:00", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.program("gdpr", programIn("Europe/Moscow"), in(msk, "2026-11-05 09:00:00"))
			e.pay("gdpr", "m1", "pay-1", 100000, in(msk, "2026-11-05 10:00:00")) // 10
			e.pay("gdpr", "m1", "pay-2", 200000, in(msk, "2026-11-05 10:30:00")) // 20
			e.pay("gdpr", "m2", "pay-3", 400000, in(msk, "2026-11-05 11:00:00")) // 40
			e.clock.set(in(msk, tc.at))
			ctx := context.Background()
			if tc.interrupted {
				// The move's first delete transaction fails: the copies
				// exist, the originals too; the consumer reads them so.
				broken := store.New(&flaky{DynamoDB: e.client, every: 3}, e.table, store.WithClock(e.clock.now), store.WithProgramCacheTTL(0))
				if _, err := broken.Erase(ctx, "gdpr", "m1", "key-1"); !errors.Is(err, errInjected) {
					t.Fatalf("the interrupted erase: %v", err)
				}
				e.drain()
			}
			if _, err := e.st.Erase(ctx, "gdpr", "m1", "key-1"); err != nil {
				t.Fatal(err)
			}
			e.run(in(msk, "2026-11-07 00:30:00"))
			days := e.days("gdpr")
			checkDays(t, days, "2026-11-05", msk)
			want := []struct{ issued, active, out int64 }{{70, 2, 70}, {0, 0, 70}, {0, 0, 70}}
			if len(days) != len(want) {
				t.Fatalf("days %+v", days)
			}
			for i, w := range want {
				if d := days[i]; d.Issued != w.issued || d.ActiveMembers != w.active || d.Outstanding != w.out {
					t.Errorf("%s: issued %d, active %d, outstanding %d; want %+v", d.Day, d.Issued, d.ActiveMembers, d.Outstanding, w)
				}
			}
		})
	}
}

// The consumer reports the first record it did not apply: an unreadable
// record stops the batch there (what comes before it is applied, what comes
// after it is not), and a batch without its shard id is an error (the
// event source mapping has no tumbling window).
func TestConsumerReportsTheFirstRecordNotApplied(t *testing.T) {
	e := newEnv(t)
	e.manual = true
	e.program("p", programIn("UTC"), time.Date(2026, 11, 5, 9, 0, 0, 0, time.UTC))
	for i := range 3 {
		e.pay("p", fmt.Sprintf("m%d", i), fmt.Sprintf("pay-%d", i), int64(i+1)*10000, time.Date(2026, 11, 5, 10+i, 0, 0, 0, time.UTC))
	}
	recs := e.records()
	var entries []int // indexes of the entries' records
	for i, r := range recs {
		if strings.HasPrefix(r.Change.Keys["sk"].String(), "PAY#") {
			entries = append(entries, i)
		}
	}
	if len(entries) != 3 {
		t.Fatalf("%d entry records", len(entries))
	}
	bad := append([]events.DynamoDBEventRecord(nil), recs...)
	broken := bad[entries[1]]
	broken.Change.NewImage = map[string]events.DynamoDBAttributeValue{"partner": events.NewStringAttribute("p"), "kind": events.NewNumberAttribute("1")}
	bad[entries[1]] = broken
	if n := deliver(t, e.consumer, "s", bad); n != entries[1] {
		t.Fatalf("failure reported at record %d, want %d", n, entries[1])
	}
	partial := func() int64 {
		ps, err := e.st.DayPartials(context.Background(), "p", "2026-11-05")
		if err != nil || len(ps) != 1 {
			t.Fatalf("partials %+v, %v", ps, err)
		}
		return ps[0].Issued
	}
	if got := partial(); got != 1 {
		t.Fatalf("issued %d after the failed batch, want the first payment's 1", got)
	}
	if n := deliver(t, e.consumer, "s", recs[entries[1]:]); n != len(recs)-entries[1] {
		t.Fatalf("the batch again from the failed record: failed at %d", n)
	}
	if got := partial(); got != 6 {
		t.Fatalf("issued %d, want 6", got)
	}
	ev := events.DynamoDBTimeWindowEvent{DynamoDBEvent: events.DynamoDBEvent{Records: recs}}
	if _, err := e.consumer.Handle(context.Background(), ev); !errors.Is(err, rollup.ErrNoShard) {
		t.Fatalf("batch without a shard id: %v", err)
	}
}

// The Lambda handler, through its JSON layer, on the sample windowed stream
// batch (a payment's member and entry inserts): the figures so far of its
// day show it, and the response carries the state tumbling windows require.
func TestConsumerOnSampleStreamEvent(t *testing.T) {
	e := newEnv(t)
	e.manual = true
	e.program("telco", programIn("Europe/Moscow"), time.Date(2026, 11, 5, 9, 0, 0, 0, time.UTC))
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "stream-stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	h := lambda.NewHandler(e.consumer.Handle)
	for range 2 { // delivered twice: counted once
		out, err := h.Invoke(context.Background(), raw)
		if err != nil {
			t.Fatal(err)
		}
		var resp struct {
			State    map[string]string `json:"state"`
			Failures []any             `json:"batchItemFailures"`
		}
		if err := json.Unmarshal(out, &resp); err != nil || resp.State == nil || len(resp.Failures) != 0 {
			t.Fatalf("response %s: %v", out, err)
		}
	}
	e.run(time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC))
	days := e.days("telco")
	if len(days) != 1 || days[0].Day != "2026-11-05" || days[0].Issued != 12 || days[0].ActiveMembers != 1 || days[0].Outstanding != 12 {
		t.Fatalf("days %+v", days)
	}
}

// A member merge counts in no figure: its entries on both members move
// outstanding and lifetime points and sum to zero within the day (issued,
// reversed, expired, redeemed and outstanding as without it), also when the
// absorbed member owes debt that the survivor's points repay at once (debt
// goes down by what was repaid); a payment of the absorbed id afterwards is
// issued once, to the survivor.
func TestMergeCountsNothing(t *testing.T) {
	cases := []struct {
		name string
		at   string
		debt bool
	}{
		{"the same day", "2026-11-05 12:00:00", false},
		{"the next day", "2026-11-06 12:00:00", false},
		{"with the absorbed member's debt", "2026-11-05 12:00:00", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.program("merge", programIn("Europe/Moscow"), in(msk, "2026-11-05 09:00:00"))
			e.pay("merge", "m1", "pay-1", 100000, in(msk, "2026-11-05 10:00:00")) // 10
			e.pay("merge", "m2", "pay-2", 200000, in(msk, "2026-11-05 10:30:00")) // 20
			e.pay("merge", "m2", "pay-3", 400000, in(msk, "2026-11-05 11:00:00")) // 40
			ctx := context.Background()
			debt := int64(0)
			if tc.debt {
				// m2 spends its 60 points, then a refund of pay-3 claws 40
				// back: m2 owes 40, which m1's 10 points repay in part.
				e.clock.set(in(msk, "2026-11-05 11:10:00"))
				if _, _, err := e.st.Redeem(ctx, "merge", "m2", ledger.RedeemRequest{Points: 60, Capture: true}); err != nil {
					t.Fatal(err)
				}
				refund := payEvent("merge", "m2", "ref-3", 400000, in(msk, "2026-11-05 11:20:00"))
				refund.Type, refund.RefundOf = payment.TypeRefunded, "pay-3"
				e.clock.set(refund.Time)
				if _, err := e.st.Apply(ctx, refund); err != nil {
					t.Fatal(err)
				}
				debt = 40 - 10
			}
			e.clock.set(in(msk, tc.at))
			if _, err := e.st.Merge(ctx, "merge", "m1", "m2", ledger.MergeRequest{Actor: "key-1"}); err != nil {
				t.Fatal(err)
			}
			e.pay("merge", "m2", "pay-4", 100000, in(msk, "2026-11-06 13:00:00")) // 10, to m1
			e.run(in(msk, "2026-11-07 00:30:00"))
			days := e.days("merge")
			checkDays(t, days, "2026-11-05", msk)
			want := []struct{ issued, reversed, redeemed, out, debt, active int64 }{{70, 0, 0, 70, 0, 2}, {10, 0, 0, 80, 0, 1}, {0, 0, 0, 80, 0, 0}}
			if tc.debt {
				want = []struct{ issued, reversed, redeemed, out, debt, active int64 }{{70, 40, 60, -30, debt, 2}, {10, 0, 0, -20, 20, 1}, {0, 0, 0, -20, 20, 0}}
			}
			if len(days) != len(want) {
				t.Fatalf("days %+v", days)
			}
			for i, w := range want {
				d := days[i]
				if d.Issued != w.issued || d.Reversed != w.reversed || d.Redeemed != w.redeemed || d.Expired != 0 ||
					d.Outstanding != w.out || d.Debt != w.debt || d.ActiveMembers != w.active {
					t.Errorf("%s: %+v; want %+v", d.Day, d, w)
				}
			}
		})
	}
}
