// Package money is what Accrue knows of money: which currencies it accepts,
// how many decimals each one's minor unit has, and the roundings that turn an
// exact value into whole minor units.
//
// Every amount Accrue reads or emits is an integer number of minor units of an
// ISO 4217 currency (amount_minor): cents of EUR, yen of JPY (no decimals),
// fils of KWD (three). Values computed from a point value (which may be a
// fraction of a minor unit) are exact rationals (math/big) until the end, and
// rounded once, to whole minor units, by the rounding their use states:
//
//   - Floor (toward minus infinity) for money paid out: a bill credit is
//     what the points are worth, rounded down, so the partner never pays more
//     than the points' value and never less than a minor unit below it.
//   - HalfEven (to the nearest, ties to the even neighbour: banker's
//     rounding) for money reported: liability in the stats and in
//     simulations, and the value of expired and expiring points in their
//     events, is the nearest whole amount, and ties do not lean one way
//     across many figures.
//
// The currencies accepted and their decimals are those of
// golang.org/x/text/currency (CLDR data): see Payable.
package money

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"sync"

	"golang.org/x/text/currency"
)

// ErrUnknownCurrency: the code is not a currency Accrue accepts (see Payable).
var ErrUnknownCurrency = errors.New("unknown currency")

// ErrOutOfRange: a value does not fit in an int64 number of minor units.
var ErrOutOfRange = errors.New("amount out of range")

// withdrawn are codes x/text's data (CLDR as of golang.org/x/text v0.44)
// still lists as some region's tender although ISO 4217 withdrew them.
var withdrawn = map[string]string{
	"HRK": "replaced by EUR on 2023-01-01",
	"MRO": "replaced by MRU on 2018-01-01",
	"VEF": "replaced by VES on 2018-08-20",
}

// tender is the set of codes that are legal tender in some region today,
// according to x/text's data: every circulating currency, and none of the
// precious metals (XAU, XAG, XPT, XPD), fund and unit-of-account codes (XDR,
// USN, CHE, CHW, BOV, CLF, COU, MXV, UYI, XSU, XUA, XBA–XBD), the test code
// XTS, "no currency" XXX, or currencies no longer in use (DEM, FRF, ...).
var tender = sync.OnceValue(func() map[string]bool {
	set := map[string]bool{}
	for it := currency.Query(); it.Next(); {
		if code := it.Unit().String(); withdrawn[code] == "" {
			set[code] = true
		}
	}
	return set
})

// Payable checks that code is an upper-case ISO 4217 code of a currency in
// circulation: legal tender of some region in x/text's data, less the
// withdrawn codes that data still lists (HRK, MRO, VEF). Anything else —
// precious metals, funds, test codes, XXX, withdrawn currencies, unknown codes,
// lower case — fails with ErrUnknownCurrency. Codes newer than x/text's data
// (VES, MRU, SLE, ZWG, ...) are unknown to it and so are refused too, until the
// dependency learns them.
func Payable(code string) error {
	if len(code) != 3 {
		return fmt.Errorf("%q is not a three-letter ISO 4217 code: %w", code, ErrUnknownCurrency)
	}
	if r, ok := withdrawn[code]; ok {
		return fmt.Errorf("%s was withdrawn (%s): %w", code, r, ErrUnknownCurrency)
	}
	u, err := currency.ParseISO(code)
	switch {
	case err != nil || u.String() != code:
		// ParseISO folds case; only the canonical upper case is accepted.
		return fmt.Errorf("%q is not an upper-case ISO 4217 code: %w", code, ErrUnknownCurrency)
	case !tender()[code]:
		return fmt.Errorf("%s is not a currency in circulation (precious metals, funds, test codes, XXX and withdrawn currencies are not accepted): %w", code, ErrUnknownCurrency)
	}
	return nil
}

// Exponent is the number of decimals of code's minor unit: 2 for EUR (cents),
// 0 for JPY, 3 for KWD. It is x/text's standard (CLDR) number of digits, which
// for a few currencies is fewer than ISO 4217's table (CLDR rounds them to
// whole units: IDR, COP, IQD, RSD, ... have 0).
func Exponent(code string) (int, error) {
	if err := Payable(code); err != nil {
		return 0, err
	}
	scale, _ := currency.Standard.Rounding(currency.MustParseISO(code))
	return scale, nil
}

// Rounding is how an exact value becomes whole minor units.
type Rounding int

// The roundings (see the package documentation for which use takes which).
const (
	// Floor rounds toward minus infinity: money paid out (bill credits).
	Floor Rounding = iota + 1
	// HalfEven rounds to the nearest whole unit, ties to the even one: money
	// reported (liability).
	HalfEven
)

func (r Rounding) String() string {
	switch r {
	case Floor:
		return "floor"
	case HalfEven:
		return "half-even"
	}
	return fmt.Sprintf("Rounding(%d)", int(r))
}

// Round rounds v, an exact number of minor units, to a whole number of them.
// It fails with ErrOutOfRange when the result does not fit in an int64.
func (r Rounding) Round(v *big.Rat) (int64, error) {
	q, m := new(big.Int).QuoRem(v.Num(), v.Denom(), new(big.Int)) // truncated toward zero; m has v's sign
	if m.Sign() != 0 {
		switch r {
		case Floor:
			if m.Sign() < 0 {
				q.Sub(q, big.NewInt(1))
			}
		case HalfEven:
			// Compare |2m| with the denominator: above half rounds away from
			// zero, exactly half rounds to the even neighbour.
			c := new(big.Int).Abs(new(big.Int).Lsh(m, 1)).Cmp(v.Denom())
			if c > 0 || (c == 0 && q.Bit(0) == 1) {
				q.Add(q, big.NewInt(int64(m.Sign())))
			}
		default:
			return 0, fmt.Errorf("rounding %v: unknown rounding", r)
		}
	}
	if !q.IsInt64() {
		return 0, fmt.Errorf("%s minor units: %w", v.FloatString(0), ErrOutOfRange)
	}
	return q.Int64(), nil
}

// Saturate is Round, except that a result beyond the int64 range sticks at
// its end (for reports that sum beyond any real program, like simulations).
func (r Rounding) Saturate(v *big.Rat) int64 {
	n, err := r.Round(v)
	if errors.Is(err, ErrOutOfRange) {
		if v.Sign() < 0 {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return n
}
