package rules

import (
	"reflect"
	"testing"
	"time"

	_ "time/tzdata" // hermetic timezones in tests

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
)

// t0 is the default payment and accrual time of the tests: Thursday 2026-11-05 10:00 UTC.
var t0 = time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC)

func ratio(s string) program.Ratio { return program.MustRatio(s) }

func rate(points, per int64) program.Rate { return program.Rate{Points: points, PerMinor: per} }

// perHundred earns 1 point per 100 minor units: 10000 minor → 100 points.
var perHundred = program.EarningRule{ID: "base", Rate: rate(1, 100)}

// pay is a succeeded telecom payment of amount RUB at t0.
func pay(amount int64) payment.Payment {
	return payment.Payment{
		EventID: "evt-1", Type: payment.TypeSucceeded, Time: t0, PartnerID: "telco",
		MemberID: "cust-42", PaymentID: "pay-1", AmountMinor: amount, Currency: "RUB", Category: "telecom",
	}
}

// recurring returns pay with a subscription period paid at `at`.
func recurring(p payment.Payment, period, due string, at time.Time) payment.Payment {
	p.Recurring = &payment.Recurring{SubscriptionID: "plan-7", Period: period, DueDate: due}
	p.Time = at
	return p
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, time.UTC) }

// checkResult pins points and breakdown and the invariant that lines sum to points.
func checkResult(t *testing.T, res Result, points int64, lines []Line) {
	t.Helper()
	if res.Points != points {
		t.Errorf("points = %d, want %d (breakdown %+v)", res.Points, points, res.Breakdown)
	}
	if len(lines) == 0 {
		lines = nil
	}
	if !reflect.DeepEqual(res.Breakdown, lines) {
		t.Errorf("breakdown:\n got %+v\nwant %+v", res.Breakdown, lines)
	}
	var sum int64
	for _, l := range res.Breakdown {
		sum += l.Points
	}
	if sum != res.Points {
		t.Errorf("lines sum to %d, points %d", sum, res.Points)
	}
}

func earnLine(rule string, points int64, detail string) Line {
	return Line{Kind: KindEarn, Rule: rule, Points: points, Detail: detail}
}
