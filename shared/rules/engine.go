package rules

import (
	"math/big"
	"time"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/satint"
)

// Evaluate computes the points one succeeded payment earns under program p for a
// member in state st, given the program-wide spends b, at accrual time now. It is
// pure and deterministic: it reads no clock, does no I/O other than loading the
// program's timezone (time.LoadLocation), never panics on any input, and never
// writes into p, st or b (Result.State is a fresh copy). Events other than
// payment.TypeSucceeded, a nil program and non-positive amounts earn nothing and
// return the state unchanged. See the package documentation for the rules.
func Evaluate(p *program.Program, st State, b Budgets, pay payment.Payment, now time.Time) Result {
	res := Result{State: cloneState(st)}
	if p == nil || pay.Type != payment.TypeSucceeded || pay.AmountMinor <= 0 {
		return res
	}
	e := &eval{p: p, pay: pay, now: now, loc: location(p), st: &res.State}
	e.startPeriods()
	dayBefore := e.st.DayPoints
	tier := tierIndex(p, e.st.Tier)

	hits := e.rated(tier, b)
	e.streaks()
	e.frequency()
	uncap(hits, e.applyCaps(b))
	res.CampaignSpend = e.recordCampaigns(hits)

	res.Points = e.total
	res.Breakdown = e.lines
	if p.Caps.ProgramMonthly > 0 {
		res.ProgramSpend = res.Points
	}
	res.HoldReasons = e.fraud(p.Fraud, dayBefore, res.Points)
	res.Held = len(res.HoldReasons) > 0

	e.st.DayPoints = satint.Add(e.st.DayPoints, res.Points)
	e.st.MonthPoints = satint.Add(e.st.MonthPoints, res.Points)
	if !res.Held {
		e.st.Qualifying = satint.Add(e.st.Qualifying, res.Points)
	}
	if up := tierFor(p, e.st.Qualifying); up > tier {
		e.st.Tier = p.Tiers[up].Name
		res.TierChanged = true
	}
	e.prune()
	return res
}

// eval is the working set of one Evaluate call.
type eval struct {
	p   *program.Program
	pay payment.Payment
	now time.Time
	loc *time.Location
	st  *State // the new state, a copy owned by this call

	lines []Line
	total int64 // sum of lines, kept within [0, MaxPaymentPoints]
}

func (e *eval) addLine(l Line) {
	e.lines = append(e.lines, l)
	e.total += l.Points
}

// addBonus adds a fixed-points line (bounded so the total stays <= MaxPaymentPoints);
// a line that would carry no points is left out.
func (e *eval) addBonus(l Line, points int64) {
	l.Points = clamp(points, 0, MaxPaymentPoints-e.total)
	if l.Points != 0 {
		e.addLine(l)
	}
}

// startPeriods moves the member's day and month counters to those of now.
func (e *eval) startPeriods() {
	day, month := periodKeys(e.now, e.loc)
	if e.st.Day != day {
		e.st.Day, e.st.DayPoints = day, 0
	}
	if e.st.Month != month {
		e.st.Month, e.st.MonthPoints = month, 0
	}
}

// rated adds the lines that derive from the base: earn, the tier's extra and the
// campaigns (their multiplier extras and fixed bonuses). The exact rational parts
// (base, tier extra, campaign extras, in that order) are rounded once, as a total,
// and spread over their lines by cumulative rounding; campaign limits then cut the
// campaigns' integer lines. It returns the campaigns that apply.
func (e *eval) rated(tier int, b Budgets) []campaignHit {
	rule := matchEarning(e.p, e.pay)
	base, earn := new(big.Rat), Line{}
	if rule != nil {
		base, earn = baseEarn(rule, e.pay)
	}

	var tierExtra *big.Rat
	tierLine, tierName := Line{}, e.st.Tier
	if tier >= 0 {
		t := &e.p.Tiers[tier]
		tierName = t.Name
		if m := factor(t.Multiplier); m.Cmp(big.NewRat(1, 1)) != 0 && base.Sign() > 0 {
			tierExtra = extraOver(base, m)
			tierLine = Line{Kind: KindTier, Rule: t.Name, Detail: "×" + t.Multiplier.String()}
		}
	}

	hits := e.campaignsFor(base, tierName)
	parts := make([]*big.Rat, 2, 2+len(hits))
	parts[0], parts[1] = base, tierExtra
	for _, h := range hits {
		parts = append(parts, h.extra)
	}
	shares := allocate(parts, e.p.Rounding)

	if rule != nil {
		earn.Points = shares[0]
		e.addLine(earn)
	}
	if shares[1] != 0 {
		tierLine.Points = shares[1]
		e.addLine(tierLine)
	}
	for i := range hits {
		h := &hits[i]
		raw := clamp(satint.Add(shares[2+i], max(h.c.Bonus, 0)), 0, MaxPaymentPoints-e.total)
		pts, detail := e.limitCampaign(h.c, raw, b)
		h.points = pts
		if pts > 0 {
			e.addLine(Line{Kind: KindCampaign, Rule: h.c.ID, Points: pts, Detail: detail})
		}
	}
	return hits
}
