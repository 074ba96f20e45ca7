package rules

import "math/big"

// MaxPaymentPoints bounds what one payment can earn before caps. Contributions past
// it are dropped, so no sum of lines, counters or state can overflow int64. Real
// programs are many orders of magnitude below it; reaching it means a broken
// configuration, and the engine stays correct (and panic-free) rather than wrapping.
const MaxPaymentPoints int64 = 1_000_000_000_000_000 // 10^15

// Rounding modes of program.Program.Rounding.
const (
	RoundFloor   = "floor"
	RoundHalfUp  = "round_half_up"
	RoundCeiling = "ceil"
)

// roundRat rounds x to an integer per mode ("" and unknown modes are floor) and
// clamps it to [0, MaxPaymentPoints].
func roundRat(x *big.Rat, mode string) int64 {
	if x.Sign() <= 0 {
		return 0
	}
	num, den := x.Num(), x.Denom() // den > 0
	q := new(big.Int)
	switch mode {
	case RoundCeiling:
		// ceil(n/d) = floor((n + d - 1) / d) for d > 0.
		q.Add(num, den)
		q.Sub(q, big.NewInt(1))
		q.Div(q, den)
	case RoundHalfUp:
		// floor(n/d + 1/2) = floor((2n + d) / 2d).
		q.Lsh(num, 1)
		q.Add(q, den)
		d2 := new(big.Int).Lsh(den, 1)
		q.Div(q, d2)
	default:
		q.Div(num, den) // Euclidean division: floor for a positive divisor
	}
	if !q.IsInt64() || q.Int64() > MaxPaymentPoints {
		return MaxPaymentPoints
	}
	return q.Int64()
}

// allocate spreads the rounded total of the exact parts over the parts by
// cumulative rounding: out[i] = R(part[0]+...+part[i]) - R(part[0]+...+part[i-1]).
// The outputs sum exactly to R(total), whatever the parts; nil parts count as zero.
func allocate(parts []*big.Rat, mode string) []int64 {
	out := make([]int64, len(parts))
	cum := new(big.Rat)
	var prev int64
	for i, x := range parts {
		if x != nil {
			cum.Add(cum, x)
		}
		r := roundRat(cum, mode)
		out[i] = r - prev
		prev = r
	}
	return out
}

// clamp returns x bounded to [lo, hi].
func clamp(x, lo, hi int64) int64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}
