package simulate

import (
	"github.com/accrue/accrue/shared/money"
	"github.com/accrue/accrue/shared/program"
)

// Money is an amount of whole minor units of a currency, a JSON integer:
// {"amount_minor":1234,"currency":"RUB"}.
type Money struct {
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
}

// liability is points × the point value in whole minor units, computed
// exactly and rounded once as reported money is (money.HalfEven), saturating
// at the int64 range like the point totals.
func liability(points int64, pv program.PointValue) int64 {
	return money.HalfEven.Saturate(pv.Exact(points))
}
