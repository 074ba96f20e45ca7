package simulate

import (
	"math/big"
	"strings"

	"github.com/accrue/accrue/shared/program"
)

// Money is an exact amount of minor units of a currency, as a decimal string so
// that no JSON reader turns it into a float: {"amount_minor":"1234.5","currency":"RUB"}.
type Money struct {
	AmountMinor string `json:"amount_minor"`
	Currency    string `json:"currency"`
}

// maxDecimals is where a non-terminating decimal is rounded.
const maxDecimals = 6

// liability is points × the point value, exactly.
func liability(points int64, pv program.PointValue) *big.Rat {
	return new(big.Rat).Mul(new(big.Rat).SetInt64(points), pv.Minor.Rat())
}

// decimal renders r as a plain decimal with no trailing zeros ("12", "-0.25").
// The value is exact whenever its decimal expansion terminates, which it always
// does for point values read from decimal strings (program.Ratio) times integer
// points; otherwise it is rounded to maxDecimals (6) decimals, halves away from
// zero (half-up on the magnitude, as big.Rat.FloatString does).
func decimal(r *big.Rat) string {
	s := r.FloatString(decimalsOf(r))
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// decimalsOf is the number of decimals r needs: max(a, b) for a denominator
// 2^a × 5^b, and maxDecimals when the expansion does not terminate.
func decimalsOf(r *big.Rat) int {
	d := new(big.Int).Set(r.Denom())
	n := 0
	for _, f := range []int64{2, 5} {
		k, q, m := 0, new(big.Int), new(big.Int)
		bf := big.NewInt(f)
		for {
			q.QuoRem(d, bf, m)
			if m.Sign() != 0 {
				break
			}
			d.Set(q)
			k++
		}
		n = max(n, k)
	}
	if d.Cmp(big.NewInt(1)) != 0 {
		return maxDecimals
	}
	return n
}
