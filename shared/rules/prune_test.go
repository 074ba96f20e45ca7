package rules

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/program"
)

func TestStreakPruning(t *testing.T) {
	p := streakProgram()
	p.Streaks = append(p.Streaks, program.StreakRule{ID: "disabled", Periods: 0, Bonus: 1})
	st := State{Streaks: map[string]Streak{
		StreakKey("s3", "yearly"):    {LastPeriod: "2025", Count: 1},     // 2026 still to pay: kept
		StreakKey("s3", "quarterly"): {LastPeriod: "2025-Q1", Count: 2},  // 2025-Q2 ended a year+ ago: stale
		StreakKey("s3", "weekly"):    {LastPeriod: "2025-W40", Count: 2}, // stale
		StreakKey("s3", "monthly"):   {LastPeriod: "2025-10", Count: 2},  // 2025-11 ended 2025-12-01, not a year ago: kept
		StreakKey("s3", "monthly2"):  {LastPeriod: "2025-09", Count: 2},  // 2025-10 ended 2025-11-01, over a year ago: stale
		StreakKey("s3", "garbage"):   {LastPeriod: "someday", Count: 2},  // unreadable
		StreakKey("gone", "plan-7"):  {LastPeriod: "2026-10", Count: 2},  // rule removed
		StreakKey("disabled", "x"):   {LastPeriod: "2026-10", Count: 2},  // rule with no periods
		StreakKey("s3x", "plan-7"):   {LastPeriod: "2026-10", Count: 2},  // prefix of another id is not a match
		StreakKey("s3", "plan-7"):    {LastPeriod: "2026-10", Count: 1},
	}}
	res := Evaluate(p, st, Budgets{}, recurring(pay(10000), "2026-11", "2026-11-10", t0), t0)
	want := map[string]Streak{
		StreakKey("s3", "yearly"):  {LastPeriod: "2025", Count: 1},
		StreakKey("s3", "monthly"): {LastPeriod: "2025-10", Count: 2},
		StreakKey("s3", "plan-7"):  {LastPeriod: "2026-11", Count: 2},
	}
	if !reflect.DeepEqual(res.State.Streaks, want) {
		t.Errorf("streaks = %v\nwant %v", res.State.Streaks, want)
	}
}

func TestStreakCountBound(t *testing.T) {
	st := State{Streaks: map[string]Streak{}}
	start := time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)
	for i := range MaxStreaks + 2 {
		st.Streaks[StreakKey("s3", fmt.Sprintf("sub-%02d", i))] = Streak{LastPeriod: start.AddDate(0, i, 0).Format("2006-01"), Count: 1}
	}
	res := Evaluate(streakProgram(), st, Budgets{}, recurring(pay(10000), "2026-11", "2026-11-10", t0), t0)
	if len(res.State.Streaks) != MaxStreaks {
		t.Fatalf("%d streaks kept, want %d", len(res.State.Streaks), MaxStreaks)
	}
	for _, gone := range []string{"sub-00", "sub-01", "sub-02"} { // the three oldest periods
		if _, ok := res.State.Streaks[StreakKey("s3", gone)]; ok {
			t.Errorf("%s kept", gone)
		}
	}
	if _, ok := res.State.Streaks[StreakKey("s3", "plan-7")]; !ok {
		t.Error("the payment's own streak was evicted")
	}
}

// TestStateStaysSmall runs a busy member through a year of a realistic program and
// checks the stored state stays under 1 KB.
func TestStateStaysSmall(t *testing.T) {
	p := realisticProgram()
	st := State{Tags: []string{"vip"}}
	var biggest int
	for d := range 365 {
		for i, sub := range []string{"plan-7", "util-1", "tv-3"} {
			now := t0.Add(time.Duration(d)*24*time.Hour + time.Duration(i)*time.Minute)
			pp := realisticPayment()
			pp.Time = now
			pp.Recurring.SubscriptionID = sub
			pp.Recurring.Period = now.Format("2006-01")
			pp.Recurring.DueDate = now.Format("2006-01") + "-28"
			res := Evaluate(p, st, realisticBudgets(), pp, now)
			st = res.State
			b, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			biggest = max(biggest, len(b))
		}
	}
	if biggest > 1024 {
		t.Errorf("state grew to %d bytes of JSON", biggest)
	}
	t.Logf("largest state: %d bytes of JSON", biggest)
}
