package rules

import (
	"time"

	"github.com/accrue/accrue/shared/program"
)

// location is the program's timezone: UTC when empty or unknown (cached by
// package program, so no zone file is read per accrual).
func location(p *program.Program) *time.Location { return p.Location() }

// PeriodKeys returns the day ("2006-01-02") and month ("2006-01") that `now` falls in,
// in the program timezone: the keys of State.Day, State.Month and of the program
// monthly counter (Budgets.ProgramMonth) the store should read before Evaluate and
// add Result.ProgramSpend to afterwards (it always equals Result.State.Month).
func PeriodKeys(p *program.Program, now time.Time) (day, month string) {
	return periodKeys(now, location(p))
}

func periodKeys(now time.Time, loc *time.Location) (day, month string) {
	t := now.In(loc)
	return t.Format(time.DateOnly), t.Format("2006-01")
}

// civilDate returns the calendar date of t in loc as a UTC midnight, so dates
// compare with Before/After whatever their zones.
func civilDate(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// parseDate parses a strict "YYYY-MM-DD" calendar date as a UTC midnight.
func parseDate(s string) (time.Time, bool) {
	if len(s) != len(time.DateOnly) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, s)
	return t, err == nil
}
