package program

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
)

// Ratio is an exact, non-negative decimal such as a multiplier ("1.5") or a point
// value in minor units ("0.25"). It is read from a JSON number or a JSON string
// and never passes through float64.
type Ratio struct {
	r *big.Rat
}

var decimalRE = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,9})?$`)

// ParseRatio parses a plain decimal literal (digits, optional fraction).
// Exponents, signs, fractions like "3/2" and more than 9 decimals are refused.
func ParseRatio(s string) (Ratio, error) {
	if !decimalRE.MatchString(s) {
		return Ratio{}, fmt.Errorf("%q is not a plain decimal number (e.g. \"1.5\")", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return Ratio{}, fmt.Errorf("%q is not a decimal number", s)
	}
	return Ratio{r: r}, nil
}

// MustRatio is for constants in code and tests.
func MustRatio(s string) Ratio {
	r, err := ParseRatio(s)
	if err != nil {
		panic(err)
	}
	return r
}

// RatioInt returns the ratio n/1.
func RatioInt(n int64) Ratio { return Ratio{r: new(big.Rat).SetInt64(n)} }

// IsZero reports whether the ratio is unset or zero.
func (x Ratio) IsZero() bool { return x.r == nil || x.r.Sign() == 0 }

// IsSet reports whether a value was given.
func (x Ratio) IsSet() bool { return x.r != nil }

// Rat returns a copy of the value as a big.Rat (zero if unset).
func (x Ratio) Rat() *big.Rat {
	if x.r == nil {
		return new(big.Rat)
	}
	return new(big.Rat).Set(x.r)
}

// Cmp compares x with y.
func (x Ratio) Cmp(y Ratio) int { return x.Rat().Cmp(y.Rat()) }

// String renders the exact decimal (trailing zeros trimmed).
func (x Ratio) String() string {
	if x.r == nil {
		return "0"
	}
	if x.r.IsInt() {
		return x.r.Num().String()
	}
	s := x.r.FloatString(9)
	s = string(bytes.TrimRight([]byte(s), "0"))
	return string(bytes.TrimSuffix([]byte(s), []byte(".")))
}

// MarshalJSON writes the ratio as a JSON string so that no reader turns it into a float.
func (x Ratio) MarshalJSON() ([]byte, error) { return json.Marshal(x.String()) }

// UnmarshalJSON accepts 1.5 or "1.5".
func (x *Ratio) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	r, err := ParseRatio(s)
	if err != nil {
		return err
	}
	*x = r
	return nil
}

// RatString renders an exact rational as a decimal string, like Ratio.String
// (9 decimals at most: values made from Ratios of this package terminate).
func RatString(r *big.Rat) string { return Ratio{r: r}.String() }
