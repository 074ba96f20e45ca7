package rules

import (
	"time"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
)

// realisticProgram is a telecom partner's program: 3 earning rules with bands, a
// streak, a frequency rule, 2 campaigns, 3 tiers, caps and fraud limits.
func realisticProgram() *program.Program {
	return &program.Program{
		Name: "Telco Rewards", Timezone: "Europe/Moscow", Rounding: "floor",
		Earning: []program.EarningRule{
			{ID: "telecom", Categories: []string{"telecom"}, Currencies: []string{"RUB"}, Rate: rate(1, 10000),
				Bands: []program.Band{{MinMinor: 100000, Rate: rate(2, 10000)}, {MinMinor: 500000, Rate: rate(3, 10000)}}},
			{ID: "utilities", Categories: []string{"utilities", "banking"}, Rate: rate(1, 20000), MinAmountMinor: 5000,
				Bands: []program.Band{{MinMinor: 300000, Rate: rate(3, 40000)}}},
			{ID: "other", Rate: rate(1, 50000), Bands: []program.Band{{MinMinor: 1000000, Rate: rate(1, 25000)}}},
		},
		Streaks:   []program.StreakRule{{ID: "on-time-3", Periods: 3, Bonus: 300, Categories: []string{"telecom", "utilities"}}},
		Frequency: []program.FrequencyRule{{ID: "busy-month", Payments: 5, Days: 30, Bonus: 200}},
		Campaigns: []program.Campaign{
			{ID: "black-friday", StartsAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), EndsAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
				Categories: []string{"telecom"}, Multiplier: ratio("1.5"), Budget: 5_000_000, PerMemberMaxPoints: 5000},
			{ID: "vip-welcome", StartsAt: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), EndsAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
				Tags: []string{"vip"}, Tiers: []string{"gold", "platinum"}, Bonus: 150, PerMemberMaxTimes: 1, Budget: 1_000_000},
		},
		Tiers: []program.Tier{
			{Name: "silver", Multiplier: ratio("1")},
			{Name: "gold", Threshold: 10_000, Multiplier: ratio("1.25")},
			{Name: "platinum", Threshold: 50_000, Multiplier: ratio("1.5")},
		},
		QualifyingWindowDays: 365,
		Caps:                 program.Caps{MemberDaily: 5000, MemberMonthly: 20000, ProgramMonthly: 10_000_000},
		Fraud:                program.Fraud{MaxEventsPerHour: 5, MaxPointsPerDay: 4000, LargePaymentMinor: map[string]int64{"RUB": 10_000_000, "USD": 100_000}},
	}
}

// realisticState is a gold VIP member in the middle of a streak and a window.
func realisticState() State {
	n := t0.Unix()
	return State{
		Tier: "gold", Tags: []string{"vip"}, Qualifying: 12_345,
		Day: "2026-11-05", DayPoints: 120, Month: "2026-11", MonthPoints: 900,
		RecentEvents: []int64{n - 3000, n - 600},
		Streaks: map[string]Streak{
			StreakKey("on-time-3", "plan-7"):  {LastPeriod: "2026-10", Count: 2},
			StreakKey("on-time-3", "util-1"):  {LastPeriod: "2026-10", Count: 7},
			StreakKey("removed-rule", "x"):    {LastPeriod: "2026-10", Count: 1},
			StreakKey("on-time-3", "old-sub"): {LastPeriod: "2024-01", Count: 4},
		},
		Frequency: map[string][]int64{"busy-month": {n - 20*86400, n - 10*86400, n - 86400}},
		Campaigns: map[string]CampaignUse{"black-friday": {Times: 3, Points: 800}},
	}
}

func realisticBudgets() Budgets {
	return Budgets{ProgramMonth: "2026-11", ProgramSpent: 1_234_567, CampaignSpent: map[string]int64{"black-friday": 400_000, "vip-welcome": 9_000}}
}

func realisticPayment() payment.Payment {
	p := pay(129900)
	p.Recurring = &payment.Recurring{SubscriptionID: "plan-7", Period: "2026-11", DueDate: "2026-11-10"}
	return p
}
