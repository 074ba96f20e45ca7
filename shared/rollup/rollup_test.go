package rollup_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/rollup"
	"github.com/accrue/accrue/shared/store"
)

// checkDays verifies what must hold of any partner's day items: one per day
// from first on, without gaps, final ones first; each day's outstanding is the
// previous day's (0 before the first) plus its flows, exactly; every window
// starts where the previous one ended.
func checkDays(t *testing.T, days []store.DayStats, first string, loc *time.Location) {
	t.Helper()
	if len(days) == 0 {
		t.Fatal("no day items")
	}
	d, err := time.ParseInLocation(time.DateOnly, first, loc)
	if err != nil {
		t.Fatal(err)
	}
	var prevOut int64
	prevEnd := d.UTC()
	seenSoFar := false
	for i, ds := range days {
		if ds.Day != d.Format(time.DateOnly) {
			t.Fatalf("day %d is %s, want %s (days: %+v)", i, ds.Day, d.Format(time.DateOnly), days)
		}
		flows := ds.Issued - ds.Reversed - ds.Redeemed - ds.Expired - ds.Debited
		if ds.Outstanding-prevOut != flows {
			t.Errorf("%s: outstanding %d − previous %d = %d, but issued %d − reversed %d − redeemed %d − expired %d − debited %d = %d",
				ds.Day, ds.Outstanding, prevOut, ds.Outstanding-prevOut, ds.Issued, ds.Reversed, ds.Redeemed, ds.Expired, ds.Debited, flows)
		}
		if ds.Final && seenSoFar {
			t.Errorf("%s is final after a day that is not", ds.Day)
		}
		seenSoFar = seenSoFar || !ds.Final
		end := d.AddDate(0, 0, 1).UTC()
		if ds.Final && !ds.AsOf.Equal(end) {
			t.Errorf("%s: final as of %s, want the end of the day %s", ds.Day, ds.AsOf, end)
		}
		if ds.AsOf.Before(prevEnd) || ds.AsOf.After(end) {
			t.Errorf("%s: as of %s, outside [%s, %s]", ds.Day, ds.AsOf, prevEnd, end)
		}
		prevOut, prevEnd = ds.Outstanding, end
		d = d.AddDate(0, 0, 1)
	}
}

// Entries at the last instant of a local day and at the first of the next
// land in their days, in several time zones, across a month end, a leap day
// and both DST changes of New York (23- and 25-hour days).
func TestDayBoundaries(t *testing.T) {
	type entry struct {
		at     string // wall clock in the case's zone
		points int64
	}
	type want struct {
		day    string
		issued int64
		active int64
		final  bool
		hours  float64 // the window's length (0: not checked)
	}
	ny, kolkata := zone("America/New_York"), zone("Asia/Kolkata")
	cases := []struct {
		name    string
		tz      string
		loc     *time.Location
		created string
		entries []entry
		run     string
		want    []want
	}{
		{
			name: "moscow midnight", tz: "Europe/Moscow", loc: msk, created: "2026-11-05 10:00:00",
			entries: []entry{{"2026-11-05 23:59:59", 1}, {"2026-11-05 23:59:59.999999999", 2}, {"2026-11-06 00:00:00", 4}, {"2026-11-06 00:00:01", 8}},
			run:     "2026-11-07 00:15:00",
			want:    []want{{"2026-11-05", 3, 2, true, 24}, {"2026-11-06", 12, 2, true, 24}, {"2026-11-07", 0, 0, false, 0}},
		},
		{
			name: "moscow month end, yesterday in its grace period", tz: "Europe/Moscow", loc: msk, created: "2026-11-30 12:00:00",
			entries: []entry{{"2026-11-30 23:59:59", 1}, {"2026-12-01 00:00:00", 2}, {"2026-12-01 23:59:59", 4}, {"2026-12-02 00:00:00", 8}},
			run:     "2026-12-02 00:14:59.999",
			want:    []want{{"2026-11-30", 1, 1, true, 24}, {"2026-12-01", 6, 2, false, 24}, {"2026-12-02", 8, 1, false, 0}},
		},
		{
			name: "moscow leap day", tz: "Europe/Moscow", loc: msk, created: "2028-02-28 08:00:00",
			entries: []entry{{"2028-02-28 23:59:59", 1}, {"2028-02-29 00:00:00", 2}, {"2028-02-29 23:59:59", 4}, {"2028-03-01 00:00:00", 8}},
			run:     "2028-03-02 00:15:00",
			want:    []want{{"2028-02-28", 1, 1, true, 24}, {"2028-02-29", 6, 2, true, 24}, {"2028-03-01", 8, 1, true, 24}, {"2028-03-02", 0, 0, false, 0}},
		},
		{
			name: "new york spring forward", tz: "America/New_York", loc: ny, created: "2026-03-07 12:00:00",
			entries: []entry{{"2026-03-07 23:59:59", 1}, {"2026-03-08 00:00:00", 2}, {"2026-03-08 01:59:59", 4}, {"2026-03-08 03:00:00", 8},
				{"2026-03-08 23:59:59", 16}, {"2026-03-09 00:00:00", 32}},
			run:  "2026-03-09 12:00:00",
			want: []want{{"2026-03-07", 1, 1, true, 24}, {"2026-03-08", 30, 4, true, 23}, {"2026-03-09", 32, 1, false, 0}},
		},
		{
			name: "new york fall back", tz: "America/New_York", loc: ny, created: "2026-10-31 12:00:00",
			entries: []entry{{"2026-10-31 23:59:59", 1}, {"2026-11-01 00:00:00", 2}, {"2026-11-01 01:30:00", 4}, // EDT
				{"2026-11-01 23:59:59", 16}, {"2026-11-02 00:00:00", 32}},
			run:  "2026-11-02 00:15:00",
			want: []want{{"2026-10-31", 1, 1, true, 24}, {"2026-11-01", 30, 4, true, 25}, {"2026-11-02", 32, 1, false, 0}},
		},
		{
			name: "utc", tz: "UTC", loc: time.UTC, created: "2026-11-05 10:00:00",
			entries: []entry{{"2026-11-05 23:59:59.999999999", 1}, {"2026-11-06 00:00:00", 2}},
			run:     "2026-11-06 00:20:00",
			want:    []want{{"2026-11-05", 1, 1, true, 24}, {"2026-11-06", 2, 1, false, 0}},
		},
		{
			name: "kolkata half-hour offset", tz: "Asia/Kolkata", loc: kolkata, created: "2026-11-05 10:00:00",
			entries: []entry{{"2026-11-05 23:59:59", 1}, {"2026-11-06 00:00:00", 2}},
			run:     "2026-11-06 00:15:00",
			want:    []want{{"2026-11-05", 1, 1, true, 24}, {"2026-11-06", 2, 1, false, 0}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.program("p", programIn(tc.tz), in(tc.loc, tc.created))
			for i, en := range tc.entries {
				e.pay("p", fmt.Sprintf("m%d", i), fmt.Sprintf("pay-%d", i), en.points*10000, in(tc.loc, en.at))
			}
			// The 1:30 EST of the fall-back day comes an hour after the 1:30 EDT.
			if tc.name == "new york fall back" {
				e.pay("p", "m-est", "pay-est", 8*10000, in(tc.loc, "2026-11-01 01:30:00").Add(time.Hour))
			}
			run := in(tc.loc, tc.run)
			e.run(run)
			days := e.days("p")
			checkDays(t, days, tc.want[0].day, tc.loc)
			if len(days) != len(tc.want) {
				t.Fatalf("%d days, want %d: %+v", len(days), len(tc.want), days)
			}
			for i, w := range tc.want {
				ds := days[i]
				if ds.Day != w.day || ds.Issued != w.issued || ds.ActiveMembers != w.active || ds.Final != w.final {
					t.Errorf("day %d = %s issued %d active %d final %v; want %s %d %d %v", i, ds.Day, ds.Issued, ds.ActiveMembers, ds.Final, w.day, w.issued, w.active, w.final)
				}
				if w.hours > 0 && i > 0 {
					if got := ds.AsOf.Sub(days[i-1].AsOf).Hours(); got != w.hours {
						t.Errorf("%s lasts %vh, want %vh", ds.Day, got, w.hours)
					}
				}
			}
			if last := days[len(days)-1]; !last.AsOf.Equal(run) {
				t.Errorf("today's figures as of %s, want %s", last.AsOf, run)
			}
		})
	}
}

// The mixed scenario: every figure exact, the identity on every day, and the
// last outstanding and debt equal to the members' balances.
func TestMixedScenario(t *testing.T) {
	e := newEnv(t)
	seedMixed(t, e, nil)
	rep := e.run(mixedEnd)
	if rep.Partners != 1 || rep.DaysClosed != 7 || rep.DaysSoFar != 1 || len(rep.Stopped)+len(rep.Failed)+len(rep.Yielded) != 0 {
		t.Fatalf("report = %+v", rep)
	}
	days := e.days("mixed")
	checkDays(t, days, "2026-11-02", msk)
	if !reflect.DeepEqual(days, mixedWant) {
		for i := range max(len(days), len(mixedWant)) {
			var got, want store.DayStats
			if i < len(days) {
				got = days[i]
			}
			if i < len(mixedWant) {
				want = mixedWant[i]
			}
			if got != want {
				t.Errorf("day %d:\n got %+v\nwant %+v", i, got, want)
			}
		}
		t.FailNow()
	}
	var out, debt int64
	for _, id := range mixedMembers {
		m, err := e.st.Member(context.Background(), "mixed", id)
		if err != nil {
			t.Fatal(err)
		}
		out += m.Available + m.Pending + m.Held
		debt += m.Debt
		if err := e.st.Audit(context.Background(), "mixed", id); err != nil {
			t.Fatalf("ledger invariants of %s: %v", id, err)
		}
	}
	last := days[len(days)-1]
	if last.Outstanding != out || last.Debt != debt {
		t.Fatalf("outstanding %d, debt %d; the members hold %d and owe %d", last.Outstanding, last.Debt, out, debt)
	}
	// Later runs only move today's figures.
	e.run(mixedEnd.Add(time.Hour))
	days = e.days("mixed")
	if !reflect.DeepEqual(days[:7], mixedWant[:7]) || len(days) != 8 || !days[7].AsOf.Equal(mixedEnd.Add(time.Hour)) {
		t.Fatalf("after a later run: %+v", days)
	}
}

// cancelAfter passes every call through to DynamoDB Local and cancels a
// context once the n-th call of op has returned (a run cut off half-way).
type cancelAfter struct {
	store.DynamoDB
	op     string
	n      int64
	calls  atomic.Int64
	cancel context.CancelFunc
}

func (c *cancelAfter) count(op string) {
	if op == c.op && c.calls.Add(1) == c.n {
		c.cancel()
	}
}

func (c *cancelAfter) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	defer c.count("TransactWriteItems")
	return c.DynamoDB.TransactWriteItems(ctx, in, opts...)
}

func (c *cancelAfter) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	defer c.count("Query")
	return c.DynamoDB.Query(ctx, in, opts...)
}

// Running the job twice, several runs at once, runs cut off half-way then a
// normal one, or runs all along the scenario: all end with exactly the items
// of one run at the end. (Sequential subtests: each seeds its own table, and
// DynamoDB Local is shared with the other packages' tests.)
func TestRunsAreIdempotentAndResumable(t *testing.T) {
	ref := newEnv(t)
	seedMixed(t, ref, nil)
	ref.run(mixedEnd)
	want := ref.snapshot("mixed")
	if len(want) != len(mixedWant)+1 { // the days and the state
		t.Fatalf("%d items in the stats partition", len(want))
	}
	if rep := ref.run(mixedEnd); rep.DaysClosed != 0 || rep.DaysSoFar != 1 {
		t.Fatalf("second run: %+v", rep)
	}
	if got := ref.snapshot("mixed"); !reflect.DeepEqual(got, want) {
		t.Fatalf("a second run changed the items:\n got %v\nwant %v", got, want)
	}

	cases := []struct {
		name string
		runs func(t *testing.T, e *env) // after seeding; then compared
		// interleaved: run the job during the scenario too.
		interleaved bool
	}{
		{name: "concurrently", runs: func(t *testing.T, e *env) {
			var wg sync.WaitGroup
			var closed atomic.Int64
			for range 4 {
				wg.Go(func() {
					rep, err := e.job(e.st, mixedEnd).Run(context.Background())
					if err != nil {
						t.Errorf("concurrent run: %v", err)
					}
					closed.Add(int64(rep.DaysClosed))
				})
			}
			wg.Wait()
			if closed.Load() != 7 {
				t.Fatalf("the concurrent runs closed %d days in all, want each of the 7 once", closed.Load())
			}
		}},
		{name: "cut off after a write, cut off while reading, then resumed", runs: func(t *testing.T, e *env) {
			cutOff(t, e, "TransactWriteItems", 2) // closes 2 days
			cutOff(t, e, "Query", 4)              // the registry, a day's partials and late marks, then the next day's partials
			if rep := e.run(mixedEnd); rep.DaysClosed != 4 {
				t.Fatalf("the resumed run closed %d days, want the last 4", rep.DaysClosed)
			}
		}},
		{name: "runs all along", interleaved: true, runs: func(t *testing.T, e *env) {
			e.run(mixedEnd)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			var before func(time.Time)
			if tc.interleaved {
				n := 0
				before = func(now time.Time) { // before every third step (the test's time)
					if n++; n%3 == 1 {
						e.run(now)
					}
				}
			}
			seedMixed(t, e, before)
			tc.runs(t, e)
			if got := e.snapshot("mixed"); !reflect.DeepEqual(got, want) {
				t.Fatalf("stats items differ from one uninterrupted run:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// cutOff runs the job with a context cancelled after the n-th call of op and
// checks that it stopped part-way without failing, having closed days, and
// that the state counts exactly the days closed so far.
func cutOff(t *testing.T, e *env, op string, n int64) {
	t.Helper()
	before, _, err := e.st.RollupState(context.Background(), "mixed")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := &cancelAfter{DynamoDB: e.client, op: op, n: n, cancel: cancel}
	rep, err := e.job(e.storeOn(db), mixedEnd).Run(ctx)
	if err != nil {
		t.Fatalf("cut-off run: %v", err)
	}
	if len(rep.Stopped) != 1 || rep.DaysClosed == 0 || rep.DaysSoFar != 0 {
		t.Fatalf("cut-off run: %+v", rep)
	}
	st, found, err := e.st.RollupState(context.Background(), "mixed")
	if err != nil || !found || st.Version != before.Version+int64(rep.DaysClosed) {
		t.Fatalf("state after the cut-off run: %+v %v %v (before %+v, report %+v)", st, found, err, before, rep)
	}
}

// Partner B's entries never appear in A's figures, with the same member and
// payment ids on both sides.
func TestPartnerIsolation(t *testing.T) {
	e := newEnv(t)
	first := in(msk, "2026-11-05 09:00:00")
	e.program("alpha", programIn("Europe/Moscow"), first)
	e.program("beta", programIn("Europe/Moscow"), first)
	for i := range 5 {
		at := first.Add(time.Duration(i) * time.Hour)
		e.pay("alpha", fmt.Sprintf("cust-%d", i), fmt.Sprintf("pay-%d", i), 10000, at)    // 1 point
		e.pay("beta", fmt.Sprintf("cust-%d", i), fmt.Sprintf("pay-%d", i), 1000000, at)   // 100 points
		e.pay("beta", fmt.Sprintf("cust-b%d", i), fmt.Sprintf("pay-b%d", i), 1000000, at) // beta only
	}
	rep := e.run(in(msk, "2026-11-06 01:00:00"))
	if rep.Partners != 2 || rep.DaysClosed != 2 {
		t.Fatalf("report = %+v", rep)
	}
	for partner, w := range map[string]struct{ issued, active int64 }{"alpha": {5, 5}, "beta": {1000, 10}} {
		days := e.days(partner)
		checkDays(t, days, "2026-11-05", msk)
		if len(days) != 2 || days[0].Issued != w.issued || days[0].ActiveMembers != w.active || days[0].Outstanding != w.issued || days[1].Outstanding != w.issued {
			t.Errorf("%s: %+v; want issued %d, %d members", partner, days, w.issued, w.active)
		}
	}
}

// Days without entries still get their item between the first day and
// yesterday: zero flows, outstanding carried forward.
func TestDaysWithoutEntries(t *testing.T) {
	e := newEnv(t)
	first := in(msk, "2026-11-05 09:00:00")
	e.program("quiet", programIn("Europe/Moscow"), first)
	e.pay("quiet", "cust-1", "pay-1", 1230000, first.Add(time.Hour)) // 123 points
	e.run(in(msk, "2026-11-10 00:30:00"))
	days := e.days("quiet")
	checkDays(t, days, "2026-11-05", msk)
	if len(days) != 6 {
		t.Fatalf("%d days, want 11-05..11-10: %+v", len(days), days)
	}
	for i, ds := range days {
		issued := int64(0)
		if i == 0 {
			issued = 123
		}
		if ds.Issued != issued || ds.Outstanding != 123 || ds.Liability != "30.75" || ds.Currency != "RUB" || ds.Final != (i < 5) {
			t.Errorf("day %s: %+v", ds.Day, ds)
		}
	}
}

// An entry whose flows do not account for its change of outstanding points
// stops the partner's roll-up at its day, with an error (an alarm), while the
// other partners go on.
func TestUnbalancedEntryFails(t *testing.T) {
	e := newEnv(t)
	first := in(msk, "2026-11-05 09:00:00")
	e.program("bad", programIn("Europe/Moscow"), first)
	e.program("good", programIn("Europe/Moscow"), first)
	e.pay("bad", "cust-1", "pay-1", 100000, first)
	e.pay("good", "cust-1", "pay-1", 100000, first)
	e.clock.set(in(msk, "2026-11-06 10:00:00"))
	_, err := e.st.UpdateLedger(context.Background(), "bad", "cust-1", func(tx *store.LedgerTx) error {
		// A bonus that raises pending without counting as issued.
		tx.Book(&ledger.Entry{Kind: ledger.KindBonus, Points: 0, Delta: ledger.Balances{Pending: 3}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.job(e.st, in(msk, "2026-11-08 00:30:00")).Run(context.Background())
	if !errors.Is(err, rollup.ErrUnbalanced) || !reflect.DeepEqual(rep.Failed, []string{"bad"}) {
		t.Fatalf("run: %+v, %v", rep, err)
	}
	if days := e.days("bad"); len(days) != 1 || days[0].Day != "2026-11-05" || !days[0].Final {
		t.Fatalf("bad partner's days: %+v", days)
	}
	if days := e.days("good"); len(days) != 4 {
		t.Fatalf("good partner's days: %+v", days)
	}
}

// The Lambda handler, through its JSON layer, on the sample scheduled event.
func TestHandlerOnScheduledEvent(t *testing.T) {
	e := newEnv(t)
	first := in(msk, "2026-11-05 09:00:00")
	e.program("h", programIn("Europe/Moscow"), first)
	e.pay("h", "cust-1", "pay-1", 70000, first.Add(time.Hour))
	e.pay("h", "cust-2", "pay-2", 50000, first.Add(2*time.Hour))
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "schedule-rollup.json"))
	if err != nil {
		t.Fatal(err)
	}
	runAt := in(msk, "2026-11-07 00:20:00")
	out, err := lambda.NewHandler(e.job(e.st, runAt).Handle).Invoke(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var rep rollup.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Partners != 1 || rep.DaysClosed != 2 || rep.DaysSoFar != 1 {
		t.Fatalf("report = %s", out)
	}
	days := e.days("h")
	checkDays(t, days, "2026-11-05", msk)
	if len(days) != 3 || days[0].Issued != 12 || days[0].ActiveMembers != 2 || days[2].Outstanding != 12 || days[2].Final {
		t.Fatalf("days = %+v", days)
	}

	// A deadline already inside the margin: nothing can be done, which alarms.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := lambda.NewHandler(e.job(e.st, runAt, rollup.WithMargin(10*time.Second)).Handle).Invoke(ctx, raw); err == nil {
		t.Fatal("a run without time to do anything succeeded")
	}
}

// A run cut off while several partners are rolled up reports the unfinished
// ones as stopped (not failed), and the next run finishes them.
func TestStopAcrossPartners(t *testing.T) {
	e := newEnv(t)
	first := in(msk, "2026-11-05 09:00:00")
	partners := []string{"p-a", "p-b", "p-c", "p-d"}
	for i, p := range partners {
		e.program(p, programIn("Europe/Moscow"), first)
		e.pay(p, "cust-1", "pay-1", int64(i+1)*10000, first.Add(time.Hour))
	}
	runAt := in(msk, "2026-11-08 01:00:00")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := &cancelAfter{DynamoDB: e.client, op: "TransactWriteItems", n: 2, cancel: cancel}
	rep, err := e.job(e.storeOn(db), runAt, rollup.WithParallel(2)).Run(ctx)
	if err != nil {
		t.Fatalf("cut-off run: %v", err)
	}
	if rep.DaysClosed == 0 || len(rep.Stopped) == 0 || len(rep.Failed) != 0 {
		t.Fatalf("cut-off run: %+v", rep)
	}
	rep = e.run(runAt)
	if len(rep.Stopped)+len(rep.Failed)+len(rep.Yielded) != 0 || rep.DaysSoFar != len(partners) {
		t.Fatalf("resumed run: %+v", rep)
	}
	for i, p := range partners {
		days := e.days(p)
		checkDays(t, days, "2026-11-05", msk)
		if len(days) != 4 || days[0].Issued != int64(i+1) || days[3].Outstanding != int64(i+1) {
			t.Errorf("%s: %+v", p, days)
		}
	}
}
