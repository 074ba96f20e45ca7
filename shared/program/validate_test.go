package program

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/money"
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
		{"gold point value", func(p *Program) { p.PointValue.Currency = "XAU" }, []string{"point_value.currency"}},
		{"test currency point value", func(p *Program) { p.PointValue.Currency = "XTS" }, []string{"point_value.currency"}},
		{"withdrawn point value currency", func(p *Program) { p.PointValue.Currency = "DEM" }, []string{"point_value.currency"}},
		{"no-currency fraud threshold", func(p *Program) { p.Fraud.LargePaymentMinor = map[string]int64{"XXX": 1} },
			[]string{"fraud.large_payment_minor.XXX"}},
		{"fund code earning rule", func(p *Program) { p.Earning[0].Currencies = []string{"XDR"} },
			[]string{"earning[0].currencies[0]"}},
		{"transfers within limits", func(p *Program) {
			p.Transfers = Transfers{Enabled: true, MinPoints: 10, MaxPoints: 500, MemberDaily: 1000}
		}, nil},
		{"transfers limits without the switch", func(p *Program) { p.Transfers = Transfers{MaxPoints: 5} }, nil},
		{"negative transfer limits", func(p *Program) {
			p.Transfers = Transfers{Enabled: true, MinPoints: -1, MaxPoints: -2, MemberDaily: -3}
		},
			[]string{"transfers.min_points", "transfers.max_points", "transfers.member_daily"}},
		{"transfer limits too large", func(p *Program) { p.Transfers = Transfers{MaxPoints: 100_000_001, MemberDaily: 1 << 62} },
			[]string{"transfers.max_points", "transfers.member_daily"}},
		{"transfer max below min", func(p *Program) { p.Transfers = Transfers{Enabled: true, MinPoints: 100, MaxPoints: 50} },
			[]string{"transfers.max_points"}},
		{"transfer daily below max", func(p *Program) { p.Transfers = Transfers{Enabled: true, MaxPoints: 500, MemberDaily: 499} },
			[]string{"transfers.member_daily"}},
		{"transfer daily below min", func(p *Program) { p.Transfers = Transfers{Enabled: true, MinPoints: 50, MemberDaily: 10} },
			[]string{"transfers.member_daily"}},
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
			err := p.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("valid program refused: %v", err)
				}
				return
			}
			if got := fields(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("fields %q, want %q", got, tt.want)
			}
		})
	}
}

// A currency that is not one in circulation is named by the stable slug of
// payments (unknown_currency) wherever it enters a program.
func TestUnknownCurrencySlug(t *testing.T) {
	p := validProgram()
	p.PointValue.Currency = "XAU"
	var ve *ValidationError
	if !errors.As(p.Validate(), &ve) || len(ve.Errors) != 1 || !strings.HasPrefix(ve.Errors[0].Message, "unknown_currency: ") {
		t.Fatalf("errors %+v, want one starting with unknown_currency", ve)
	}
}

func TestPointValue(t *testing.T) {
	for _, c := range []struct {
		minor           string
		currency        string
		points          int64
		floor, halfEven int64
	}{
		{"0.5", "JPY", 3, 1, 2},  // 1.5 yen: a whole yen either way, never "1.5"
		{"0.5", "JPY", 5, 2, 2},  // 2.5 yen: the tie goes to the even 2
		{"0.5", "KWD", 3, 1, 2},  // 1.5 fils (0.0015 KWD): whole fils, 0.001 / 0.002 KWD
		{"0.25", "EUR", 7, 1, 2}, // 1.75 cents
		{"12", "EUR", 100, 1200, 1200},
		{"0.000000001", "RUB", 3, 0, 0},
		{"0.5", "JPY", -3, -2, -2}, // a negative amount (a liability delta) rounds the same way
	} {
		pv := PointValue{Minor: MustRatio(c.minor), Currency: c.currency}
		for _, r := range []struct {
			mode money.Rounding
			want int64
		}{{money.Floor, c.floor}, {money.HalfEven, c.halfEven}} {
			if got, err := pv.Value(c.points, r.mode); err != nil || got != r.want {
				t.Errorf("%d × %s %s, %v: %d, %v, want %d", c.points, c.minor, c.currency, r.mode, got, err, r.want)
			}
		}
	}
	huge := PointValue{Minor: MustRatio("999999999999.999999999"), Currency: "RUB"}
	if _, err := huge.Value(1<<62, money.Floor); !errors.Is(err, money.ErrOutOfRange) {
		t.Errorf("beyond int64: %v", err)
	}
}
