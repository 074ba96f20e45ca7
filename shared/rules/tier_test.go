package rules

import (
	"testing"

	"github.com/accrue/accrue/shared/program"
)

func TestTiers(t *testing.T) {
	tiers := []program.Tier{
		{Name: "silver", Multiplier: ratio("1")},
		{Name: "gold", Threshold: 1000, Multiplier: ratio("1.5")},
		{Name: "platinum", Threshold: 5000, Multiplier: ratio("2")},
	}
	tierLine := func(name, m string, pts int64) Line {
		return Line{Kind: KindTier, Rule: name, Points: pts, Detail: "×" + m}
	}
	earn := earnLine("base", 100, "1 per 100 minor RUB on 10000")
	tests := []struct {
		name      string
		tiers     []program.Tier
		st        State
		amount    int64
		large     int64 // fraud large-payment threshold, to hold the accrual
		points    int64
		lines     []Line
		tier      string
		qualified int64
		changed   bool
	}{
		{"new member, first tier ×1: no tier line", tiers, State{}, 10000, 0, 100, []Line{earn}, "", 100, false},
		{"gold ×1.5", tiers, State{Tier: "gold", Qualifying: 2000}, 10000, 0, 150, []Line{earn, tierLine("gold", "1.5", 50)}, "gold", 2150, false},
		{"platinum ×2", tiers, State{Tier: "platinum", Qualifying: 6000}, 10000, 0, 200, []Line{earn, tierLine("platinum", "2", 100)}, "platinum", 6200, false},
		{"unknown tier counts as the first", tiers, State{Tier: "bronze"}, 10000, 0, 100, []Line{earn}, "bronze", 100, false},
		{"crossing gold: upgraded, earned at silver", tiers, State{Tier: "silver", Qualifying: 950}, 10000, 0, 100, []Line{earn}, "gold", 1050, true},
		{"exactly the threshold upgrades", tiers, State{Tier: "silver", Qualifying: 900}, 10000, 0, 100, []Line{earn}, "gold", 1000, true},
		{"one short stays", tiers, State{Tier: "silver", Qualifying: 899}, 10000, 0, 100, []Line{earn}, "silver", 999, false},
		{"jump over gold to platinum", tiers, State{Qualifying: 4950}, 1000000,
			0, 10000, []Line{earnLine("base", 10000, "1 per 100 minor RUB on 1000000")}, "platinum", 14950, true},
		{"held points do not qualify", tiers, State{Tier: "silver", Qualifying: 950}, 10000, 10000, 100, []Line{earn}, "silver", 950, false},
		{"never downgrades", tiers, State{Tier: "platinum", Qualifying: 0}, 10000, 0, 200, []Line{earn, tierLine("platinum", "2", 100)}, "platinum", 200, false},
		{"multiplier below 1 takes away", []program.Tier{{Name: "basic", Multiplier: ratio("0.5")}}, State{}, 10000, 0, 50,
			[]Line{earn, tierLine("basic", "0.5", -50)}, "", 50, false},
		{"multiplier 0 never goes below 0", []program.Tier{{Name: "frozen", Multiplier: ratio("0")}}, State{}, 10000, 0, 0,
			[]Line{earn, tierLine("frozen", "0", -100)}, "", 0, false},
		{"unset multiplier is 1", []program.Tier{{Name: "plain"}}, State{}, 10000, 0, 100, []Line{earn}, "", 100, false},
		{"no tiers: tier left alone", nil, State{Tier: "legacy"}, 10000, 0, 100, []Line{earn}, "legacy", 100, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &program.Program{Earning: []program.EarningRule{perHundred}, Tiers: tc.tiers}
			if tc.large > 0 {
				p.Fraud.LargePaymentMinor = map[string]int64{"RUB": tc.large}
			}
			res := Evaluate(p, tc.st, Budgets{}, pay(tc.amount), t0)
			checkResult(t, res, tc.points, tc.lines)
			if res.State.Tier != tc.tier || res.State.Qualifying != tc.qualified || res.TierChanged != tc.changed {
				t.Errorf("tier %q qualifying %d changed %v; want %q %d %v",
					res.State.Tier, res.State.Qualifying, res.TierChanged, tc.tier, tc.qualified, tc.changed)
			}
		})
	}
}
