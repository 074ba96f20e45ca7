package rules

import "testing"

// BenchmarkEvaluate: one accrual under a realistic program (3 banded earning rules,
// a streak, a frequency rule, 2 campaigns, 3 tiers, caps, fraud limits) for a gold
// VIP member in the middle of a streak; the payment completes the streak.
// The UTC case shows the engine alone; Europe/Moscow adds time.LoadLocation, which
// reads the zone file on every call.
func BenchmarkEvaluate(b *testing.B) {
	for _, tz := range []string{"Europe/Moscow", "UTC"} {
		b.Run(tz, func(b *testing.B) {
			p, st, budgets, pp := realisticProgram(), realisticState(), realisticBudgets(), realisticPayment()
			p.Timezone = tz
			b.ReportAllocs()
			for b.Loop() {
				res := Evaluate(p, st, budgets, pp, t0)
				if res.Points != 495 {
					b.Fatalf("points %d", res.Points)
				}
			}
		})
	}
}
