package rules

import (
	"math/big"
	"strconv"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
)

// matchEarning returns the first earning rule that applies to pay, or nil.
func matchEarning(p *program.Program, pay payment.Payment) *program.EarningRule {
	for i := range p.Earning {
		r := &p.Earning[i]
		if matchesList(r.Categories, pay.Category) &&
			matchesList(r.Currencies, pay.Currency) &&
			pay.AmountMinor >= r.MinAmountMinor &&
			(!r.RecurringOnly || pay.Recurring != nil) {
			return r
		}
	}
	return nil
}

// rateFor returns the rate for amount: the band with the highest MinMinor that the
// amount reaches (the first of equal ones), else the rule's own rate.
func rateFor(r *program.EarningRule, amount int64) (program.Rate, *program.Band) {
	var best *program.Band
	for i := range r.Bands {
		b := &r.Bands[i]
		if b.MinMinor <= amount && (best == nil || b.MinMinor > best.MinMinor) {
			best = b
		}
	}
	if best != nil {
		return best.Rate, best
	}
	return r.Rate, nil
}

// baseEarn is the exact base of pay under rule r: amount × points / per_minor. An
// invalid rate (points < 0 or per_minor <= 0) earns 0.
func baseEarn(r *program.EarningRule, pay payment.Payment) (*big.Rat, Line) {
	rate, band := rateFor(r, pay.AmountMinor)
	line := Line{Kind: KindEarn, Rule: r.ID, Detail: earnDetail(rate, band, pay)}
	if rate.Points <= 0 || rate.PerMinor <= 0 {
		return new(big.Rat), line
	}
	n := new(big.Int).Mul(big.NewInt(pay.AmountMinor), big.NewInt(rate.Points))
	return new(big.Rat).SetFrac(n, big.NewInt(rate.PerMinor)), line
}

// earnDetail reads "1 per 10000 minor RUB on 129900", with " (band from 100000)"
// when a band's rate applied.
func earnDetail(rate program.Rate, band *program.Band, pay payment.Payment) string {
	b := make([]byte, 0, 64)
	b = strconv.AppendInt(b, rate.Points, 10)
	b = append(b, " per "...)
	b = strconv.AppendInt(b, rate.PerMinor, 10)
	b = append(b, " minor "...)
	b = append(b, pay.Currency...)
	b = append(b, " on "...)
	b = strconv.AppendInt(b, pay.AmountMinor, 10)
	if band != nil {
		b = append(b, " (band from "...)
		b = strconv.AppendInt(b, band.MinMinor, 10)
		b = append(b, ')')
	}
	return string(b)
}
