package rules

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/accrue/accrue/shared/program"
)

func TestMergeState(t *testing.T) {
	p := &program.Program{
		Tiers:     []program.Tier{{Name: "base"}, {Name: "silver", Threshold: 100}, {Name: "gold", Threshold: 1000}},
		Frequency: []program.FrequencyRule{{ID: "f3", Payments: 3, Days: 30, Bonus: 5}},
	}
	cases := []struct {
		name       string
		prog       *program.Program
		into, from State
		want       State
	}{
		{name: "the higher tier; qualifying summed; tags unioned",
			into: State{Tier: "silver", Qualifying: 150, Tags: []string{"a", "b"}},
			from: State{Tier: "gold", Qualifying: 40, Tags: []string{"b", "c"}},
			want: State{Tier: "gold", Qualifying: 190, Tags: []string{"a", "b", "c"}}},
		{name: "the survivor's tier when it is the higher",
			into: State{Tier: "gold"}, from: State{Tier: "silver"}, want: State{Tier: "gold"}},
		{name: "an empty or unknown tier counts as the first",
			into: State{Tier: ""}, from: State{Tier: "retired"}, want: State{Tier: ""}},
		{name: "without tiers the survivor's stands",
			prog: &program.Program{}, into: State{Tier: "x"}, from: State{Tier: "y"}, want: State{Tier: "x"}},
		{name: "counters of the same day and month are summed",
			into: State{Day: "2026-11-05", DayPoints: 10, Month: "2026-11", MonthPoints: 100},
			from: State{Day: "2026-11-05", DayPoints: 5, Month: "2026-11", MonthPoints: 50},
			want: State{Day: "2026-11-05", DayPoints: 15, Month: "2026-11", MonthPoints: 150}},
		{name: "an older day's counter is over",
			into: State{Day: "2026-11-04", DayPoints: 10, Month: "2026-11", MonthPoints: 100},
			from: State{Day: "2026-11-05", DayPoints: 5, Month: "2026-10", MonthPoints: 50},
			want: State{Day: "2026-11-05", DayPoints: 5, Month: "2026-11", MonthPoints: 100}},
		{name: "recent events unioned in time order",
			into: State{RecentEvents: []int64{10, 30}}, from: State{RecentEvents: []int64{20}},
			want: State{RecentEvents: []int64{10, 20, 30}}},
		{name: "streaks unioned; of the same one the longer",
			into: State{Streaks: map[string]Streak{"s|plan-1": {LastPeriod: "2026-10", Count: 2}, "s|plan-2": {LastPeriod: "2026-09", Count: 5}}},
			from: State{Streaks: map[string]Streak{"s|plan-1": {LastPeriod: "2026-09", Count: 4}, "s|plan-3": {LastPeriod: "2026-10", Count: 1}}},
			want: State{Streaks: map[string]Streak{"s|plan-1": {LastPeriod: "2026-09", Count: 4}, "s|plan-2": {LastPeriod: "2026-09", Count: 5}, "s|plan-3": {LastPeriod: "2026-10", Count: 1}}}},
		{name: "of two streaks as long, the later",
			into: State{Streaks: map[string]Streak{"s|p": {LastPeriod: "2026-09", Count: 3}}},
			from: State{Streaks: map[string]Streak{"s|p": {LastPeriod: "2026-10", Count: 3}}},
			want: State{Streaks: map[string]Streak{"s|p": {LastPeriod: "2026-10", Count: 3}}}},
		{name: "a frequency window keeps its newest Payments−1 times",
			into: State{Frequency: map[string][]int64{"f3": {100}}}, from: State{Frequency: map[string][]int64{"f3": {50, 200}, "gone": {7}}},
			want: State{Frequency: map[string][]int64{"f3": {100, 200}, "gone": {7}}}},
		{name: "campaign use summed",
			into: State{Campaigns: map[string]CampaignUse{"c1": {Times: 1, Points: 10}}},
			from: State{Campaigns: map[string]CampaignUse{"c1": {Times: 2, Points: 5}, "c2": {Times: 1, Points: 3}}},
			want: State{Campaigns: map[string]CampaignUse{"c1": {Times: 3, Points: 15}, "c2": {Times: 1, Points: 3}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prog := tc.prog
			if prog == nil {
				prog = p
			}
			intoBefore, fromBefore := fmt.Sprint(tc.into), fmt.Sprint(tc.from)
			got := MergeState(prog, tc.into, tc.from)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("MergeState =\n %+v\nwant\n %+v", got, tc.want)
			}
			if fmt.Sprint(tc.into) != intoBefore || fmt.Sprint(tc.from) != fromBefore {
				t.Fatal("MergeState wrote into its inputs")
			}
		})
	}
	// At most MaxStreaks streaks, the most recent kept.
	into, from := State{Streaks: map[string]Streak{}}, State{Streaks: map[string]Streak{}}
	for i := range MaxStreaks {
		into.Streaks[fmt.Sprintf("s|a%d", i)] = Streak{LastPeriod: "2026-01", Count: 1}
		from.Streaks[fmt.Sprintf("s|b%d", i)] = Streak{LastPeriod: "2026-02", Count: 1}
	}
	got := MergeState(p, into, from)
	if len(got.Streaks) != MaxStreaks {
		t.Fatalf("%d streaks kept, want %d", len(got.Streaks), MaxStreaks)
	}
	for k, s := range got.Streaks {
		if s.LastPeriod != "2026-02" {
			t.Fatalf("kept %s %+v, an older streak", k, s)
		}
	}
}
