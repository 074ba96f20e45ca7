package program

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func validProgram() *Program {
	return &Program{
		Name:       "p",
		Earning:    []EarningRule{{ID: "a", Rate: Rate{Points: 1, PerMinor: 100}}},
		PointValue: PointValue{Minor: MustRatio("1"), Currency: "EUR"},
	}
}

// Validate works on Go values too, including zero and odd ones, and never panics.
func TestValidateValues(t *testing.T) {
	if err := validProgram().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (*Program)(nil).Validate(); err == nil {
		t.Error("nil program accepted")
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		mutate func(*Program)
		want   []string
	}{
		{"zero campaign", func(p *Program) { p.Campaigns = []Campaign{{}} },
			[]string{"campaigns[0].id", "campaigns[0].starts_at", "campaigns[0].ends_at", "campaigns[0]"}},
		{"zero tier and streak", func(p *Program) { p.Tiers = []Tier{{}}; p.Streaks = []StreakRule{{}} },
			[]string{"streaks[0].id", "streaks[0].periods", "streaks[0].bonus", "tiers[0].name", "tiers[0].multiplier"}},
		{"year 10000", func(p *Program) {
			p.Campaigns = []Campaign{{ID: "c", StartsAt: start, EndsAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Bonus: 1}}
		}, []string{"campaigns[0].ends_at"}},
		{"empty fraud map entry", func(p *Program) { p.Fraud.LargePaymentMinor = map[string]int64{"": 1, "EUR": -1} },
			[]string{"fraud.large_payment_minor.", "fraud.large_payment_minor.EUR"}},
		{"too large once encoded", func(p *Program) {
			// 64 × "<" is 64 bytes in a document but 384 once json.Marshal escapes it.
			tags := slices.Repeat([]string{strings.Repeat("<", 64)}, 700)
			p.Campaigns = []Campaign{{ID: "c", StartsAt: start, EndsAt: start.Add(time.Hour), Bonus: 1, Tags: tags}}
		}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validProgram()
			tt.mutate(p)
			if got := fields(t, p.Validate()); !slices.Equal(got, tt.want) {
				t.Errorf("fields %q, want %q", got, tt.want)
			}
		})
	}
}
