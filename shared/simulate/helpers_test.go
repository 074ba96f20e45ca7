package simulate

import (
	"testing"
	"time"

	_ "time/tzdata" // hermetic timezones in tests

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// t0 is Thursday 2026-11-05 10:00 UTC.
var t0 = time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC)

func at(days int, hours ...int) time.Time {
	t := t0.AddDate(0, 0, days)
	for _, h := range hours {
		t = t.Add(time.Duration(h) * time.Hour)
	}
	return t
}

func rate(points, per int64) program.Rate { return program.Rate{Points: points, PerMinor: per} }

// prog is a valid program earning rate on everything, a point worth 0.5 RUB
// kopeck, changed by the mods; it fails the test if the result is invalid.
func prog(t testing.TB, r program.Rate, mods ...func(*program.Program)) *program.Program {
	t.Helper()
	p := &program.Program{
		Name:       "Test",
		Earning:    []program.EarningRule{{ID: "base", Rate: r}},
		PointValue: program.PointValue{Minor: program.MustRatio("0.5"), Currency: "RUB"},
	}
	for _, m := range mods {
		m(p)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("test program: %v", err)
	}
	return p
}

func pointValue(minor, currency string) func(*program.Program) {
	return func(p *program.Program) {
		p.PointValue = program.PointValue{Minor: program.MustRatio(minor), Currency: currency}
	}
}

func tiers(ts ...program.Tier) func(*program.Program) {
	return func(p *program.Program) { p.Tiers, p.QualifyingWindowDays = ts, 365 }
}

func tier(name string, threshold int64, mult string) program.Tier {
	return program.Tier{Name: name, Threshold: threshold, Multiplier: program.MustRatio(mult)}
}

// pay is a succeeded telecom payment in RUB.
func pay(member, id string, amount int64, when time.Time) payment.Payment {
	return payment.Payment{
		EventID: "evt-" + id, Type: payment.TypeSucceeded, Time: when, PartnerID: "telco",
		MemberID: member, PaymentID: id, AmountMinor: amount, Currency: "RUB", Category: "telecom",
	}
}

// refund of payment `of`.
func refund(member, id, of string, amount int64, when time.Time) payment.Payment {
	p := pay(member, id, amount, when)
	p.Type, p.RefundOf = payment.TypeRefunded, of
	return p
}

// monthly is pay with the subscription period and due date of a monthly plan.
func monthly(member, id string, amount int64, when time.Time, period, due string) payment.Payment {
	p := pay(member, id, amount, when)
	p.Recurring = &payment.Recurring{SubscriptionID: "plan-7", Period: period, DueDate: due}
	return p
}

func startState(st rules.State) map[string]rules.State { return map[string]rules.State{"m1": st} }

// pts is a payment's (current, proposed) points.
type pts [2]int64

func checkLinesSum(t *testing.T, res Result) {
	t.Helper()
	for _, p := range res.Payments {
		for _, o := range []Outcome{p.Current, p.Proposed} {
			var sum int64
			for _, l := range o.Breakdown {
				sum += l.Points
			}
			if sum != o.Points {
				t.Errorf("payment %s: lines sum to %d, points %d", p.PaymentID, sum, o.Points)
			}
		}
	}
}
