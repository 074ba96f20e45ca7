package satint_test

import (
	"math"
	"math/big"
	"testing"

	"pgregory.net/rapid"

	"github.com/accrue/accrue/shared/satint"
)

func TestAddSub(t *testing.T) {
	const max, min = math.MaxInt64, math.MinInt64
	tests := []struct {
		a, b     int64
		add, sub int64
	}{
		{1, 2, 3, -1},
		{max, 1, max, max - 1},
		{min, -1, min, min + 1},
		{min, 1, min + 1, min},
		{0, min, min, max},
		{-1, min, min, max},
		{max, min, -1, max},
		{min, min, min, 0},
		{max, max, max, 0},
	}
	for _, tc := range tests {
		if got := satint.Add(tc.a, tc.b); got != tc.add {
			t.Errorf("Add(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.add)
		}
		if got := satint.Sub(tc.a, tc.b); got != tc.sub {
			t.Errorf("Sub(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.sub)
		}
	}
}

// Both equal the exact result clamped to the int64 range.
func TestAgainstBigInt(t *testing.T) {
	clamp := func(x *big.Int) int64 {
		if x.Cmp(big.NewInt(math.MaxInt64)) > 0 {
			return math.MaxInt64
		}
		if x.Cmp(big.NewInt(math.MinInt64)) < 0 {
			return math.MinInt64
		}
		return x.Int64()
	}
	rapid.Check(t, func(t *rapid.T) {
		a, b := rapid.Int64().Draw(t, "a"), rapid.Int64().Draw(t, "b")
		if got, want := satint.Add(a, b), clamp(new(big.Int).Add(big.NewInt(a), big.NewInt(b))); got != want {
			t.Fatalf("Add(%d, %d) = %d, want %d", a, b, got, want)
		}
		if got, want := satint.Sub(a, b), clamp(new(big.Int).Sub(big.NewInt(a), big.NewInt(b))); got != want {
			t.Fatalf("Sub(%d, %d) = %d, want %d", a, b, got, want)
		}
	})
}
