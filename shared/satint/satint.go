// Package satint is saturating int64 arithmetic: sums of points that stick at
// the int64 range instead of wrapping around. The rules engine and the
// simulation total points with it so that no input, however large, can turn
// a sum negative.
package satint

import "math"

// Add returns a+b saturated to the int64 range.
func Add(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}

// Sub returns a-b saturated to the int64 range.
func Sub(a, b int64) int64 {
	if b == math.MinInt64 {
		if a >= 0 {
			return math.MaxInt64
		}
		return a - b // a < 0: a - MinInt64 = a + 2^63 fits
	}
	return Add(a, -b)
}
