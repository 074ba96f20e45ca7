package rules

import (
	"math/big"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/program"
)

func TestRounding(t *testing.T) {
	// Earning 1 point per `per` minor; the member's (first) tier multiplies by `tier`;
	// an optional campaign multiplies by `camp`.
	type row struct {
		name     string
		rounding string
		amount   int64
		per      int64
		tier     string
		camp     string
		points   int64
		lines    []Line
	}
	tierLine := func(m string, pts int64) Line {
		return Line{Kind: KindTier, Rule: "member", Points: pts, Detail: "×" + m}
	}
	campLine := func(m string, pts int64) Line {
		return Line{Kind: KindCampaign, Rule: "promo", Points: pts, Detail: "×" + m}
	}
	tests := []row{
		// 0.5 base + 0.5 tier = 1: rounded once on the total, not per line (which gives 0).
		{"floor: two halves make one", "", 1, 2, "2", "", 1,
			[]Line{earnLine("base", 0, "1 per 2 minor RUB on 1"), tierLine("2", 1)}},
		{"explicit floor", "floor", 1, 2, "2", "", 1,
			[]Line{earnLine("base", 0, "1 per 2 minor RUB on 1"), tierLine("2", 1)}},
		// 1.5 + 0.75 = 2.25
		{"floor of 2.25", "", 3, 2, "1.5", "", 2,
			[]Line{earnLine("base", 1, "1 per 2 minor RUB on 3"), tierLine("1.5", 1)}},
		{"half-up of 2.25 (tier's share is 0, left out)", "round_half_up", 3, 2, "1.5", "", 2,
			[]Line{earnLine("base", 2, "1 per 2 minor RUB on 3")}},
		{"ceil of 2.25", "ceil", 3, 2, "1.5", "", 3,
			[]Line{earnLine("base", 2, "1 per 2 minor RUB on 3"), tierLine("1.5", 1)}},
		// 2.5 exactly
		{"floor of 2.5", "", 5, 2, "", "", 2, []Line{earnLine("base", 2, "1 per 2 minor RUB on 5")}},
		{"half-up of 2.5", "round_half_up", 5, 2, "", "", 3, []Line{earnLine("base", 3, "1 per 2 minor RUB on 5")}},
		{"ceil of 2.5", "ceil", 5, 2, "", "", 3, []Line{earnLine("base", 3, "1 per 2 minor RUB on 5")}},
		// 0.25 + 0.25 = 0.5: half-up gives 1 on the total (0 per line).
		{"half-up: two quarters make one", "round_half_up", 1, 4, "2", "", 1,
			[]Line{earnLine("base", 0, "1 per 4 minor RUB on 1"), tierLine("2", 1)}},
		{"half-up just below a half", "round_half_up", 49, 100, "", "", 0,
			[]Line{earnLine("base", 0, "1 per 100 minor RUB on 49")}},
		{"ceil of 0.2", "ceil", 1, 5, "", "", 1, []Line{earnLine("base", 1, "1 per 5 minor RUB on 1")}},
		{"ceil of an integer stays", "ceil", 10, 5, "", "", 2, []Line{earnLine("base", 2, "1 per 5 minor RUB on 10")}},
		{"unknown mode is floor", "bankers", 5, 2, "", "", 2, []Line{earnLine("base", 2, "1 per 2 minor RUB on 5")}},
		// 0.4 base + 0.2 tier + 0.4 campaign = 1.0: campaign multipliers join the rounding.
		{"campaign extra joins the total", "", 2, 5, "1.5", "2", 1,
			[]Line{earnLine("base", 0, "1 per 5 minor RUB on 2"), campLine("2", 1)}},
		// 3.3 ×0.5: 1.65 floor → 1, shown as earn 3, tier −2.
		{"negative tier extra", "", 33, 10, "0.5", "", 1,
			[]Line{earnLine("base", 3, "1 per 10 minor RUB on 33"), tierLine("0.5", -2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &program.Program{Rounding: tc.rounding, Earning: []program.EarningRule{{ID: "base", Rate: rate(1, tc.per)}}}
			if tc.tier != "" {
				p.Tiers = []program.Tier{{Name: "member", Multiplier: ratio(tc.tier)}}
			}
			if tc.camp != "" {
				p.Campaigns = []program.Campaign{{ID: "promo", StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(time.Hour), Multiplier: ratio(tc.camp)}}
			}
			checkResult(t, Evaluate(p, State{}, Budgets{}, pay(tc.amount), t0), tc.points, tc.lines)
		})
	}
}

func TestAllocateSumsToRoundedTotal(t *testing.T) {
	parts := []*big.Rat{big.NewRat(1, 3), big.NewRat(1, 3), nil, big.NewRat(1, 3), big.NewRat(-1, 6)}
	for _, mode := range []string{"", RoundHalfUp, RoundCeiling} {
		got := allocate(parts, mode)
		var sum int64
		for _, x := range got {
			sum += x
		}
		want := roundRat(big.NewRat(5, 6), mode)
		if sum != want {
			t.Errorf("%q: %v sums to %d, want %d", mode, got, sum, want)
		}
	}
	if got := roundRat(new(big.Rat).SetFrac(new(big.Int).Lsh(big.NewInt(1), 80), big.NewInt(1)), ""); got != MaxPaymentPoints {
		t.Errorf("huge value rounds to %d, want the MaxPaymentPoints clamp", got)
	}
}
