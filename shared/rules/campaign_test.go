package rules

import (
	"reflect"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/program"
)

func TestCampaigns(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	double := program.Campaign{ID: "x2", StartsAt: start, EndsAt: end, Multiplier: ratio("2")}
	with := func(c program.Campaign, f func(*program.Campaign)) program.Campaign { f(&c); return c }
	earn := earnLine("base", 100, "1 per 100 minor RUB on 10000")
	camp := func(id string, pts int64, detail string) Line {
		return Line{Kind: KindCampaign, Rule: id, Points: pts, Detail: detail}
	}
	type row struct {
		name      string
		campaigns []program.Campaign
		st        State
		spent     map[string]int64
		at        time.Time
		category  string
		points    int64
		lines     []Line
		uses      map[string]CampaignUse
		spend     map[string]int64
	}
	tests := []row{
		{name: "the second before start", campaigns: []program.Campaign{double}, at: start.Add(-time.Second),
			points: 100, lines: []Line{earn}},
		{name: "at start", campaigns: []program.Campaign{double}, at: start,
			points: 200, lines: []Line{earn, camp("x2", 100, "×2")}, uses: map[string]CampaignUse{"x2": {1, 100}}},
		{name: "the second before end", campaigns: []program.Campaign{double}, at: end.Add(-time.Second),
			points: 200, lines: []Line{earn, camp("x2", 100, "×2")}, uses: map[string]CampaignUse{"x2": {1, 100}}},
		{name: "at end (exclusive)", campaigns: []program.Campaign{double}, at: end, points: 100, lines: []Line{earn}},
		{name: "category targeted", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.Categories = []string{"telecom"} })},
			points: 200, lines: []Line{earn, camp("x2", 100, "×2")}, uses: map[string]CampaignUse{"x2": {1, 100}}},
		{name: "category not targeted", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.Categories = []string{"retail"} })},
			points: 100, lines: []Line{earn}},
		{name: "tier targeted", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.Tiers = []string{"gold"} })},
			st: State{Tier: "gold"}, points: 200, lines: []Line{earn, camp("x2", 100, "×2")}, uses: map[string]CampaignUse{"x2": {1, 100}}},
		{name: "tier not targeted", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.Tiers = []string{"gold"} })},
			st: State{Tier: "silver"}, points: 100, lines: []Line{earn}},
		{name: "unknown tier is the first tier", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.Tiers = []string{"silver"} })},
			st: State{Tier: "bronze"}, points: 200, lines: []Line{earn, camp("x2", 100, "×2")}, uses: map[string]CampaignUse{"x2": {1, 100}}},
		{name: "tag targeted (one of them)", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.Tags = []string{"vip", "staff"} })},
			st: State{Tags: []string{"new", "staff"}}, points: 200, lines: []Line{earn, camp("x2", 100, "×2")}, uses: map[string]CampaignUse{"x2": {1, 100}}},
		{name: "tag not carried", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.Tags = []string{"vip"} })},
			st: State{Tags: []string{"staff"}}, points: 100, lines: []Line{earn}},
		{name: "no tags at all", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.Tags = []string{"vip"} })},
			points: 100, lines: []Line{earn}},
		{name: "fractional multiplier", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.Multiplier = ratio("1.25") })},
			points: 125, lines: []Line{earn, camp("x2", 25, "×1.25")}, uses: map[string]CampaignUse{"x2": {1, 25}}},
		{name: "multiplier of 1 gives nothing", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.Multiplier = ratio("1") })},
			points: 100, lines: []Line{earn}},
		{name: "fixed bonus", campaigns: []program.Campaign{{ID: "b30", StartsAt: start, EndsAt: end, Bonus: 30}},
			points: 130, lines: []Line{earn, camp("b30", 30, "+30")}, uses: map[string]CampaignUse{"b30": {1, 30}}},
		{name: "bonus without an earning rule", campaigns: []program.Campaign{double, {ID: "b30", StartsAt: start, EndsAt: end, Bonus: 30}},
			category: "retail", points: 30, lines: []Line{camp("b30", 30, "+30")}, uses: map[string]CampaignUse{"b30": {1, 30}}},
		{name: "two campaigns, one line each", campaigns: []program.Campaign{double, {ID: "b30", StartsAt: start, EndsAt: end, Bonus: 30}},
			points: 230, lines: []Line{earn, camp("x2", 100, "×2"), camp("b30", 30, "+30")},
			uses: map[string]CampaignUse{"x2": {1, 100}, "b30": {1, 30}}},
		{name: "budget runs out mid-payment", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.Budget = 1000 })},
			spent: map[string]int64{"x2": 960}, points: 140, lines: []Line{earn, camp("x2", 40, "×2; cut from 100 by budget")},
			uses: map[string]CampaignUse{"x2": {1, 40}}, spend: map[string]int64{"x2": 40}},
		{name: "budget spent", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.Budget = 1000 })},
			spent: map[string]int64{"x2": 1000}, points: 100, lines: []Line{earn}},
		{name: "budget with room", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.Budget = 1000 })},
			spent: map[string]int64{"x2": 100}, points: 200, lines: []Line{earn, camp("x2", 100, "×2")},
			uses: map[string]CampaignUse{"x2": {1, 100}}, spend: map[string]int64{"x2": 100}},
		{name: "per-member times reached", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.PerMemberMaxTimes = 2 })},
			st: State{Campaigns: map[string]CampaignUse{"x2": {2, 200}}}, points: 100, lines: []Line{earn},
			uses: map[string]CampaignUse{"x2": {2, 200}}},
		{name: "per-member times left", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.PerMemberMaxTimes = 2 })},
			st: State{Campaigns: map[string]CampaignUse{"x2": {1, 100}}}, points: 200, lines: []Line{earn, camp("x2", 100, "×2")},
			uses: map[string]CampaignUse{"x2": {2, 200}}},
		{name: "per-member points cut", campaigns: []program.Campaign{with(double, func(c *program.Campaign) { c.PerMemberMaxPoints = 150 })},
			st: State{Campaigns: map[string]CampaignUse{"x2": {1, 100}}}, points: 150,
			lines: []Line{earn, camp("x2", 50, "×2; cut from 100 by per-member points limit")},
			uses:  map[string]CampaignUse{"x2": {2, 150}}},
		{name: "tightest limit named", campaigns: []program.Campaign{with(double, func(c *program.Campaign) {
			c.PerMemberMaxPoints, c.Budget = 150, 1000
		})}, st: State{Campaigns: map[string]CampaignUse{"x2": {1, 100}}}, spent: map[string]int64{"x2": 980}, points: 120,
			lines: []Line{earn, camp("x2", 20, "×2; cut from 100 by budget")},
			uses:  map[string]CampaignUse{"x2": {2, 120}}, spend: map[string]int64{"x2": 20}},
		{name: "repeated id is ignored", campaigns: []program.Campaign{double, double}, points: 200,
			lines: []Line{earn, camp("x2", 100, "×2")}, uses: map[string]CampaignUse{"x2": {1, 100}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &program.Program{
				Earning:   []program.EarningRule{{ID: "base", Categories: []string{"telecom"}, Rate: rate(1, 100)}},
				Tiers:     []program.Tier{{Name: "silver"}, {Name: "gold", Threshold: 1_000_000}},
				Campaigns: tc.campaigns,
			}
			pp := pay(10000)
			if !tc.at.IsZero() {
				pp.Time = tc.at
			} else {
				pp.Time = start.Add(24 * time.Hour)
			}
			if tc.category != "" {
				pp.Category = tc.category
			}
			res := Evaluate(p, tc.st, Budgets{CampaignSpent: tc.spent}, pp, pp.Time)
			checkResult(t, res, tc.points, tc.lines)
			if !reflect.DeepEqual(res.State.Campaigns, tc.uses) {
				t.Errorf("uses = %v, want %v", res.State.Campaigns, tc.uses)
			}
			if !reflect.DeepEqual(res.CampaignSpend, tc.spend) {
				t.Errorf("spend = %v, want %v", res.CampaignSpend, tc.spend)
			}
		})
	}
}

// TestCampaignBudgetAcrossPayments spends a budget of 250 over three payments.
func TestCampaignBudgetAcrossPayments(t *testing.T) {
	p := &program.Program{
		Earning:   []program.EarningRule{perHundred},
		Campaigns: []program.Campaign{{ID: "x2", StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(time.Hour), Multiplier: ratio("2"), Budget: 250}},
	}
	b := Budgets{CampaignSpent: map[string]int64{}}
	var got []int64
	for range 3 {
		res := Evaluate(p, State{}, b, pay(10000), t0)
		got = append(got, res.Points)
		b.CampaignSpent["x2"] += res.CampaignSpend["x2"]
	}
	if want := []int64{200, 200, 150}; !reflect.DeepEqual(got, want) || b.CampaignSpent["x2"] != 250 {
		t.Errorf("points %v (spent %d), want %v (spent 250)", got, b.CampaignSpent["x2"], want)
	}
}

func TestCampaignUsePruning(t *testing.T) {
	end := t0.Add(-31 * 24 * time.Hour)
	p := &program.Program{Campaigns: []program.Campaign{
		{ID: "old", StartsAt: end.Add(-time.Hour), EndsAt: end, Bonus: 1},
		{ID: "recent", StartsAt: end.Add(-time.Hour), EndsAt: end.Add(2 * 24 * time.Hour), Bonus: 1},
	}}
	st := State{Campaigns: map[string]CampaignUse{"old": {1, 1}, "recent": {1, 1}, "removed": {1, 1}}}
	res := Evaluate(p, st, Budgets{}, pay(10000), t0)
	if want := map[string]CampaignUse{"recent": {1, 1}}; !reflect.DeepEqual(res.State.Campaigns, want) {
		t.Errorf("campaign uses = %v, want %v", res.State.Campaigns, want)
	}
}
