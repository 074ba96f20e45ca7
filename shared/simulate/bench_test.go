package simulate

import (
	"fmt"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
)

// benchProgram is a telecom partner's program: banded earning, a streak, a
// frequency rule, a budgeted campaign, 3 tiers, caps with a program budget and
// fraud limits. rate is the telecom base rate (points per 100.00 RUB).
func benchProgram(tb testing.TB, points int64) *program.Program {
	return prog(tb, rate(points, 10000), tiers(tier("silver", 0, "1"), tier("gold", 2000, "1.25"), tier("platinum", 8000, "1.5")),
		func(p *program.Program) {
			p.Timezone = "Europe/Moscow"
			p.Earning[0].Categories = []string{"telecom"}
			p.Earning[0].Bands = []program.Band{{MinMinor: 100000, Rate: rate(2*points, 10000)}}
			p.Earning = append(p.Earning, program.EarningRule{ID: "other", Rate: rate(1, 20000)})
			p.Streaks = []program.StreakRule{{ID: "on-time-3", Periods: 3, Bonus: 300}}
			p.Frequency = []program.FrequencyRule{{ID: "busy", Payments: 4, Days: 30, Bonus: 100}}
			p.Campaigns = []program.Campaign{{ID: "winter", StartsAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
				EndsAt: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), Multiplier: program.MustRatio("1.5"), Budget: 200_000, PerMemberMaxPoints: 3000}}
			p.Caps = program.Caps{MemberDaily: 5000, MemberMonthly: 20000, ProgramMonthly: 150_000}
			p.Fraud = program.Fraud{MaxEventsPerHour: 5, MaxPointsPerDay: 4000, LargePaymentMinor: map[string]int64{"RUB": 5_000_000}}
		})
}

// benchPayments: 100 members × 9 monthly recurring payments (Sep 2026 – May 2027,
// one in 7 late) plus 100 refunds (every 9th payment, a third of it), 1,000 in all,
// in input order by member.
func benchPayments() []payment.Payment {
	var out []payment.Payment
	for m := range 100 {
		member := fmt.Sprintf("cust-%03d", m)
		for k := range 9 {
			month := time.Date(2026, time.September+time.Month(k), 1, 0, 0, 0, 0, time.UTC)
			day := 5 + (m+k)%5
			if (m+k)%7 == 0 {
				day = 15 // late
			}
			id := fmt.Sprintf("%s-%d", member, k)
			p := monthly(member, id, int64(50000+(m*k*7919)%250000), month.AddDate(0, 0, day-1).Add(time.Duration(m)*time.Minute),
				month.Format("2006-01"), month.AddDate(0, 0, 9).Format(time.DateOnly))
			p.Recurring.SubscriptionID = "plan-" + member
			out = append(out, p)
			if (m*9+k)%9 == 4 {
				out = append(out, refund(member, "r-"+id, id, p.AmountMinor/3, p.Time.Add(48*time.Hour)))
			}
		}
	}
	return out
}

// BenchmarkSimulate: 1,000 payments of 100 members under two realistic programs
// (two replays, 1,800 rules evaluations and 200 reversals per op).
func BenchmarkSimulate(b *testing.B) {
	req := Request{Current: benchProgram(b, 1), Proposed: benchProgram(b, 2), Payments: benchPayments()}
	if n := len(req.Payments); n != 1000 {
		b.Fatalf("%d payments", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := Run(req)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Payments) != 1000 || res.Delta <= 0 {
			b.Fatalf("%d payments, delta %d", len(res.Payments), res.Delta)
		}
	}
}
