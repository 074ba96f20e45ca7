package money_test

import (
	"errors"
	"math"
	"math/big"
	"testing"

	"github.com/accrue/accrue/shared/money"
)

func TestPayable(t *testing.T) {
	for _, c := range []struct {
		code string
		ok   bool
	}{
		{"EUR", true}, {"JPY", true}, {"KWD", true}, {"RUB", true}, {"USD", true}, {"CHF", true},
		{"XAF", true}, {"XOF", true}, {"XCD", true}, {"XPF", true}, // regional currencies with X codes
		{"XAU", false}, {"XAG", false}, {"XPT", false}, {"XPD", false}, // precious metals
		{"XTS", false}, {"XXX", false}, // test code, no currency
		{"XDR", false}, {"USN", false}, {"CHE", false}, {"CHW", false}, {"BOV", false}, {"CLF", false},
		{"COU", false}, {"MXV", false}, {"UYI", false}, {"XSU", false}, {"XUA", false}, {"XBA", false}, // funds, units of account
		{"DEM", false}, {"FRF", false}, {"ITL", false}, {"LTL", false}, {"STD", false}, {"BYR", false}, // withdrawn, known to x/text as such
		{"HRK", false}, {"MRO", false}, {"VEF", false}, // withdrawn, still tender in x/text's data: the explicit list
		{"CNH", false}, // offshore yuan: not ISO 4217
		{"ZZZ", false}, {"rub", false}, {"Rub", false}, {"", false}, {"EURO", false}, {"E", false}, {"€", false},
	} {
		err := money.Payable(c.code)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, money.ErrUnknownCurrency)) {
			t.Errorf("Payable(%q) = %v, want ok %v", c.code, err, c.ok)
		}
	}
}

func TestExponent(t *testing.T) {
	for _, c := range []struct {
		code string
		want int
	}{
		{"JPY", 0}, {"KRW", 0}, {"CLP", 0}, {"ISK", 0},
		{"EUR", 2}, {"USD", 2}, {"RUB", 2}, {"GBP", 2},
		{"KWD", 3}, {"BHD", 3}, {"JOD", 3}, {"OMR", 3}, {"TND", 3}, {"LYD", 3},
	} {
		if got, err := money.Exponent(c.code); err != nil || got != c.want {
			t.Errorf("Exponent(%s) = %d, %v, want %d", c.code, got, err, c.want)
		}
	}
	if _, err := money.Exponent("XAU"); !errors.Is(err, money.ErrUnknownCurrency) {
		t.Errorf("Exponent(XAU): %v", err)
	}
}

func rat(t *testing.T, s string) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("bad literal %q", s)
	}
	return r
}

func TestRound(t *testing.T) {
	for _, c := range []struct {
		v               string // a big.Rat literal, minor units
		floor, halfEven int64
	}{
		{"0", 0, 0},
		{"3", 3, 3},
		{"-3", -3, -3},
		{"1.5", 1, 2}, // 3 points × 0.5 JPY
		{"2.5", 2, 2}, // a tie goes to the even neighbour
		{"3.5", 3, 4},
		{"0.5", 0, 0},
		{"-0.5", -1, 0},
		{"-1.5", -2, -2},
		{"-2.5", -3, -2},
		{"2.4999", 2, 2},
		{"2.5001", 2, 3},
		{"-2.5001", -3, -3},
		{"1/3", 0, 0},
		{"2/3", 0, 1},
		{"-2/3", -1, -1},
		{"0.000000001", 0, 0},
		{"9223372036854775807", math.MaxInt64, math.MaxInt64},
		{"9223372036854775807.4", math.MaxInt64, math.MaxInt64},
		{"-9223372036854775808", math.MinInt64, math.MinInt64},
		{"-9223372036854775807.5", math.MinInt64, math.MinInt64},
	} {
		for _, r := range []struct {
			mode money.Rounding
			want int64
		}{{money.Floor, c.floor}, {money.HalfEven, c.halfEven}} {
			if got, err := r.mode.Round(rat(t, c.v)); err != nil || got != r.want {
				t.Errorf("%v.Round(%s) = %d, %v, want %d", r.mode, c.v, got, err, r.want)
			}
		}
	}
}

func TestRoundOutOfRange(t *testing.T) {
	for _, c := range []struct {
		v    string
		mode money.Rounding
		sat  int64
	}{
		{"9223372036854775808", money.Floor, math.MaxInt64},
		{"9223372036854775807.5", money.HalfEven, math.MaxInt64}, // the tie goes to ...808, beyond
		{"-9223372036854775808.1", money.Floor, math.MinInt64},
		{"-9223372036854775809", money.HalfEven, math.MinInt64},
		{"1e30", money.HalfEven, math.MaxInt64},
	} {
		if _, err := c.mode.Round(rat(t, c.v)); !errors.Is(err, money.ErrOutOfRange) {
			t.Errorf("%v.Round(%s): %v, want ErrOutOfRange", c.mode, c.v, err)
		}
		if got := c.mode.Saturate(rat(t, c.v)); got != c.sat {
			t.Errorf("%v.Saturate(%s) = %d, want %d", c.mode, c.v, got, c.sat)
		}
	}
}
