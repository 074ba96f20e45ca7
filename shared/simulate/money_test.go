package simulate

import (
	"math"
	"testing"

	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/satint"
)

// Liability is exact until one rounding to whole minor units, half to even,
// and saturates at the int64 range like the point totals.
func TestLiability(t *testing.T) {
	for _, c := range []struct {
		minor    string
		currency string
		points   int64
		want     int64
	}{
		{"0.5", "JPY", 3, 2},  // 1.5 yen → 2 (the even neighbour)
		{"0.5", "JPY", 5, 2},  // 2.5 yen → 2
		{"0.5", "JPY", 7, 4},  // 3.5 yen → 4
		{"0.5", "KWD", 3, 2},  // 1.5 fils
		{"0.25", "RUB", 7, 2}, // 1.75 kopecks
		{"0.25", "RUB", -7, -2},
		{"0.5", "RUB", -5, -2},
		{"0.000000001", "RUB", 3, 0},
		{"999999999999.999999999", "RUB", 7, 7_000_000_000_000},
		{"999999999999.999999999", "RUB", 1_000_000_000_000_000, math.MaxInt64},
		{"999999999999.999999999", "RUB", -1_000_000_000_000_000, math.MinInt64},
	} {
		pv := program.PointValue{Minor: program.MustRatio(c.minor), Currency: c.currency}
		if got := liability(c.points, pv); got != c.want {
			t.Errorf("%d × %s %s = %d, want %d", c.points, c.minor, c.currency, got, c.want)
		}
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
