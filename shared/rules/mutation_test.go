package rules

import (
	"encoding/json"
	"reflect"
	"testing"
)

func snapshot(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRealisticPayment(t *testing.T) {
	res := Evaluate(realisticProgram(), realisticState(), realisticBudgets(), realisticPayment(), t0)
	// 129900 at the 2/10000 band = 25.98 exact; gold ×1.25 adds 6.495; black friday
	// ×1.5 adds 12.99: 45.465 → 45, spread 25 / 7 / 13. VIP bonus 150, streak 300.
	checkResult(t, res, 495, []Line{
		earnLine("telecom", 25, "2 per 10000 minor RUB on 129900 (band from 100000)"),
		{Kind: KindTier, Rule: "gold", Points: 7, Detail: "×1.25"},
		{Kind: KindCampaign, Rule: "black-friday", Points: 13, Detail: "×1.5"},
		{Kind: KindCampaign, Rule: "vip-welcome", Points: 150, Detail: "+150"},
		{Kind: KindStreak, Rule: "on-time-3", Points: 300, Detail: "3 on-time periods in a row (plan-7, 2026-11)"},
	})
	want := State{
		Tier: "gold", Tags: []string{"vip"}, Qualifying: 12_840,
		Day: "2026-11-05", DayPoints: 615, Month: "2026-11", MonthPoints: 1395,
		RecentEvents: []int64{t0.Unix() - 3000, t0.Unix() - 600, t0.Unix()},
		Streaks: map[string]Streak{
			StreakKey("on-time-3", "plan-7"): {LastPeriod: "2026-11", Count: 3},
			StreakKey("on-time-3", "util-1"): {LastPeriod: "2026-10", Count: 7},
		},
		Frequency: map[string][]int64{"busy-month": {t0.Unix() - 20*86400, t0.Unix() - 10*86400, t0.Unix() - 86400, t0.Unix()}},
		Campaigns: map[string]CampaignUse{"black-friday": {Times: 4, Points: 813}, "vip-welcome": {Times: 1, Points: 150}},
	}
	if !reflect.DeepEqual(res.State, want) {
		t.Errorf("state\n got %+v\nwant %+v", res.State, want)
	}
	if res.ProgramSpend != 495 || !reflect.DeepEqual(res.CampaignSpend, map[string]int64{"black-friday": 13, "vip-welcome": 150}) {
		t.Errorf("spends %d %v", res.ProgramSpend, res.CampaignSpend)
	}
	if res.Held || res.TierChanged {
		t.Errorf("held %v tier changed %v", res.Held, res.TierChanged)
	}
	if b, _ := json.Marshal(res.State); len(b) > 1024 {
		t.Errorf("state is %d bytes of JSON, want under 1 KB", len(b))
	}
}

func TestNoInputMutation(t *testing.T) {
	p, st, b, pp := realisticProgram(), realisticState(), realisticBudgets(), realisticPayment()
	before := snapshot(t, []any{p, st, b, pp})
	res := Evaluate(p, st, b, pp, t0)
	if after := snapshot(t, []any{p, st, b, pp}); after != before {
		t.Fatalf("inputs changed:\nbefore %s\nafter  %s", before, after)
	}
	// The result shares no memory with the input state.
	for k := range res.State.Streaks {
		delete(res.State.Streaks, k)
	}
	for k, v := range res.State.Frequency {
		for i := range v {
			v[i] = -1
		}
		delete(res.State.Frequency, k)
	}
	for k := range res.State.Campaigns {
		res.State.Campaigns[k] = CampaignUse{}
	}
	for i := range res.State.RecentEvents {
		res.State.RecentEvents[i] = -1
	}
	for i := range res.State.Tags {
		res.State.Tags[i] = "x"
	}
	if after := snapshot(t, []any{p, st, b, pp}); after != before {
		t.Fatalf("result aliases the inputs:\nbefore %s\nafter  %s", before, after)
	}
	if again := Evaluate(p, st, b, pp, t0); !reflect.DeepEqual(again, Evaluate(p, st, b, pp, t0)) {
		t.Fatal("not deterministic")
	}
}

// TestConcurrentEvaluate shares one program, state and budgets between goroutines
// (as a warm Lambda does); run with -race.
func TestConcurrentEvaluate(t *testing.T) {
	p, st, b, pp := realisticProgram(), realisticState(), realisticBudgets(), realisticPayment()
	want := Evaluate(p, st, b, pp, t0)
	errs := make(chan string, 8)
	for range 8 {
		go func() {
			got := Evaluate(p, st, b, pp, t0)
			if !reflect.DeepEqual(got, want) {
				errs <- "different result"
				return
			}
			errs <- ""
		}()
	}
	for range 8 {
		if e := <-errs; e != "" {
			t.Fatal(e)
		}
	}
}
