package simulate

import (
	"math"
	"math/big"
	"testing"

	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/satint"
)

func TestDecimal(t *testing.T) {
	for _, c := range []struct {
		r    string // a big.Rat literal
		want string
	}{
		{"0", "0"},
		{"5", "5"},
		{"-12", "-12"},
		{"1/2", "0.5"},
		{"-1/4", "-0.25"},
		{"1/8", "0.125"},
		{"123456789/1000", "123456.789"},
		{"1/1000000000", "0.000000001"},         // exact past 6 decimals
		{"1/1048576", "0.00000095367431640625"}, // 2^-20: exact, 20 decimals
		{"1/3", "0.333333"},                     // does not terminate: 6 decimals
		{"2/3", "0.666667"},                     // rounded half-up
		{"-2/3", "-0.666667"},                   // away from zero
		{"1/3000000", "0"},                      // rounds to zero, never "-0"
		{"-1/3000000", "0"},                     //
		{"1000000000000000000/1", "1000000000000000000"}, // big
		{"9223372036854775807/1000000000", "9223372036.854775807"},
	} {
		r, ok := new(big.Rat).SetString(c.r)
		if !ok {
			t.Fatalf("bad literal %q", c.r)
		}
		if got := decimal(r); got != c.want {
			t.Errorf("decimal(%s) = %q, want %q", c.r, got, c.want)
		}
	}
}

func TestLiabilityExact(t *testing.T) {
	pv := program.PointValue{Minor: program.MustRatio("999999999999.999999999"), Currency: "RUB"}
	for _, c := range []struct {
		points int64
		want   string
	}{
		{7, "6999999999999.999999993"},
		{-7, "-6999999999999.999999993"},
		{1_000_000_000_000_000, "999999999999999999999000000"},
	} {
		if got := decimal(liability(c.points, pv)); got != c.want {
			t.Errorf("%d points: %s, want %s", c.points, got, c.want)
		}
	}
	if got := decimal(liability(3, program.PointValue{Minor: program.MustRatio("0.000000001")})); got != "0.000000003" {
		t.Errorf("3 × 1e-9 = %s", got)
	}
}

func TestSaturatingSums(t *testing.T) {
	const maxI, minI = math.MaxInt64, math.MinInt64
	for _, c := range []struct{ a, b, add, sub int64 }{
		{1, 2, 3, -1},
		{maxI, 1, maxI, maxI - 1},
		{minI, -1, minI, minI + 1},
		{-1, minI, minI, maxI},
		{0, minI, minI, maxI},
		{5, maxI, maxI, 5 - maxI},
	} {
		if got := satint.Add(c.a, c.b); got != c.add {
			t.Errorf("satint.Add(%d, %d) = %d, want %d", c.a, c.b, got, c.add)
		}
		if got := satint.Sub(c.a, c.b); got != c.sub {
			t.Errorf("satint.Sub(%d, %d) = %d, want %d", c.a, c.b, got, c.sub)
		}
	}
}
