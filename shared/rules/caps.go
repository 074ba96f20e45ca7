package rules

import (
	"strconv"

	"github.com/accrue/accrue/shared/satint"
)

// Cap names, the Rule of a "cap" line.
const (
	CapMemberDaily    = "member_daily"
	CapMemberMonthly  = "member_monthly"
	CapProgramMonthly = "program_monthly"
)

// capLimit is one configured cap and what it has already counted.
type capLimit struct {
	name        string
	limit, used int64
}

// applyCaps limits the payment's total to what every configured cap still allows
// and adds one negative "cap" line naming the cap that binds hardest (the first in
// the order daily, monthly, program when several bind equally). It returns the cut.
func (e *eval) applyCaps(b Budgets) int64 {
	c := e.p.Caps
	programUsed := int64(0)
	if b.ProgramMonth == e.st.Month {
		programUsed = b.ProgramSpent
	}
	limits := [...]capLimit{
		{CapMemberDaily, c.MemberDaily, e.st.DayPoints},
		{CapMemberMonthly, c.MemberMonthly, e.st.MonthPoints},
		{CapProgramMonthly, c.ProgramMonthly, programUsed},
	}
	total := e.total
	allowed, binding := total, -1
	for i, l := range limits {
		if l.limit <= 0 {
			continue
		}
		if left := max(0, satint.Sub(l.limit, l.used)); left < allowed {
			allowed, binding = left, i
		}
	}
	if binding < 0 {
		return 0
	}
	l := limits[binding]
	e.addLine(Line{Kind: KindCap, Rule: l.name, Points: allowed - total, Detail: capDetail(l)})
	return total - allowed
}

// capDetail reads "500 per day, 480 already counted".
func capDetail(l capLimit) string {
	b := make([]byte, 0, 48)
	b = strconv.AppendInt(b, l.limit, 10)
	if l.name == CapMemberDaily {
		b = append(b, " per day, "...)
	} else {
		b = append(b, " per month, "...)
	}
	b = strconv.AppendInt(b, max(0, l.used), 10)
	b = append(b, " already counted"...)
	return string(b)
}
