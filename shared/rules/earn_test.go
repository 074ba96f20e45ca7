package rules

import (
	"testing"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
)

func TestEarningRules(t *testing.T) {
	p := &program.Program{Earning: []program.EarningRule{
		{ID: "telecom", Categories: []string{"telecom"}, Currencies: []string{"RUB"}, Rate: rate(1, 10000),
			Bands: []program.Band{{MinMinor: 500000, Rate: rate(3, 10000)}, {MinMinor: 100000, Rate: rate(2, 10000)}}},
		{ID: "utilities", Categories: []string{"utilities"}, Rate: rate(1, 5000), MinAmountMinor: 10000},
		{ID: "subs", Categories: []string{"subscription"}, Rate: rate(5, 10000), RecurringOnly: true},
		{ID: "excluded", Categories: []string{"other"}, Rate: rate(0, 100)},
		{ID: "default", Categories: []string{"telecom", "utilities", "subscription", "banking"}, Rate: rate(1, 20000)},
	}}
	with := func(cat, cur string, amount int64, rec bool) payment.Payment {
		pp := pay(amount)
		pp.Category, pp.Currency = cat, cur
		if rec {
			pp.Recurring = &payment.Recurring{SubscriptionID: "s", Period: "2026-11", DueDate: "2026-11-30"}
		}
		return pp
	}
	tests := []struct {
		name   string
		pay    payment.Payment
		points int64
		lines  []Line
	}{
		{"category rate", with("telecom", "RUB", 50000, false), 5,
			[]Line{earnLine("telecom", 5, "1 per 10000 minor RUB on 50000")}},
		{"spec example at band rate, floored", with("telecom", "RUB", 129900, false), 25,
			[]Line{earnLine("telecom", 25, "2 per 10000 minor RUB on 129900 (band from 100000)")}},
		{"one below the first band", with("telecom", "RUB", 99999, false), 9,
			[]Line{earnLine("telecom", 9, "1 per 10000 minor RUB on 99999")}},
		{"exactly the first band", with("telecom", "RUB", 100000, false), 20,
			[]Line{earnLine("telecom", 20, "2 per 10000 minor RUB on 100000 (band from 100000)")}},
		{"one below the top band", with("telecom", "RUB", 499999, false), 99,
			[]Line{earnLine("telecom", 99, "2 per 10000 minor RUB on 499999 (band from 100000)")}},
		{"exactly the top band (bands unordered)", with("telecom", "RUB", 500000, false), 150,
			[]Line{earnLine("telecom", 150, "3 per 10000 minor RUB on 500000 (band from 500000)")}},
		{"other currency falls through to the next rule", with("telecom", "USD", 50000, false), 2,
			[]Line{earnLine("default", 2, "1 per 20000 minor USD on 50000")}},
		{"below the minimum falls through", with("utilities", "RUB", 9999, false), 0,
			[]Line{earnLine("default", 0, "1 per 20000 minor RUB on 9999")}},
		{"exactly the minimum", with("utilities", "RUB", 10000, false), 2,
			[]Line{earnLine("utilities", 2, "1 per 5000 minor RUB on 10000")}},
		{"recurring-only rule skips a one-off payment", with("subscription", "RUB", 100000, false), 5,
			[]Line{earnLine("default", 5, "1 per 20000 minor RUB on 100000")}},
		{"recurring-only rule takes a recurring payment", with("subscription", "RUB", 100000, true), 50,
			[]Line{earnLine("subs", 50, "5 per 10000 minor RUB on 100000")}},
		{"zero-rate rule excludes its category", with("other", "RUB", 100000, false), 0,
			[]Line{earnLine("excluded", 0, "0 per 100 minor RUB on 100000")}},
		{"no rule matches: no line", with("retail", "RUB", 100000, false), 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Evaluate(p, State{}, Budgets{}, tc.pay, t0)
			checkResult(t, res, tc.points, tc.lines)
		})
	}
}

func TestIgnoredEvents(t *testing.T) {
	p := &program.Program{Earning: []program.EarningRule{perHundred}}
	st := State{Tier: "x", DayPoints: 5, Day: "2026-11-01", Frequency: map[string][]int64{"gone": {1}}}
	refund := pay(10000)
	refund.Type = payment.TypeRefunded
	zero := pay(0)
	negative := pay(-100)
	for name, tc := range map[string]struct {
		p   *program.Program
		pay payment.Payment
	}{"refund": {p, refund}, "zero amount": {p, zero}, "negative amount": {p, negative}, "nil program": {nil, pay(10000)}} {
		t.Run(name, func(t *testing.T) {
			res := Evaluate(tc.p, st, Budgets{}, tc.pay, t0)
			checkResult(t, res, 0, nil)
			if res.State.Day != st.Day || res.State.DayPoints != 5 || len(res.State.Frequency) != 1 {
				t.Errorf("state changed: %+v", res.State)
			}
		})
	}
}
