package rules

import "time"

// Period kinds of payment.Recurring.Period.
const (
	periodMonth   = 'M' // "2026-11"
	periodQuarter = 'Q' // "2026-Q4"
	periodWeek    = 'W' // "2026-W53" (ISO 8601 week)
	periodYear    = 'Y' // "2026"
)

// period is a parsed billing period: its kind and a sequence number in which the
// next period of the same kind is always idx+1 (across year ends too).
type period struct {
	kind byte
	idx  int64
}

// parsePeriod parses "YYYY-MM", "YYYY-Qn", "YYYY-Www" or "YYYY" strictly (four-digit
// year from 0001, month 01-12, quarter 1-4, a week that exists in that ISO year).
func parsePeriod(s string) (period, bool) {
	if len(s) < 4 {
		return period{}, false
	}
	year, ok := digits(s[:4])
	if !ok || year < 1 {
		return period{}, false
	}
	rest := s[4:]
	switch {
	case rest == "":
		return period{periodYear, year}, true
	case len(rest) == 3 && rest[0] == '-' && rest[1] != 'Q' && rest[1] != 'W':
		m, ok := digits(rest[1:])
		if !ok || m < 1 || m > 12 {
			return period{}, false
		}
		return period{periodMonth, year*12 + m - 1}, true
	case len(rest) == 3 && rest[:2] == "-Q":
		q, ok := digits(rest[2:])
		if !ok || q < 1 || q > 4 {
			return period{}, false
		}
		return period{periodQuarter, year*4 + q - 1}, true
	case len(rest) == 4 && rest[:2] == "-W":
		w, ok := digits(rest[2:])
		if !ok || w < 1 || w > isoWeeks(year) {
			return period{}, false
		}
		return period{periodWeek, weekIndex(year, w)}, true
	}
	return period{}, false
}

// digits parses a short run of ASCII digits (no sign, no spaces).
func digits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// isoWeeks is the number of ISO weeks of year (52 or 53): 28 December always lies
// in the year's last week.
func isoWeeks(year int64) int64 {
	_, w := time.Date(int(year), time.December, 28, 0, 0, 0, 0, time.UTC).ISOWeek()
	return int64(w)
}

// weekIndex numbers ISO weeks consecutively: the index of the week's Monday counted
// in weeks from the Monday 1970-01-05 (floor division, so earlier years work too).
func weekIndex(year, week int64) int64 {
	jan4 := time.Date(int(year), time.January, 4, 0, 0, 0, 0, time.UTC)
	monday := jan4.AddDate(0, 0, -((int(jan4.Weekday())+6)%7)+int(week-1)*7)
	days := monday.Unix()/86400 - 4
	return floorDiv(days, 7)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// start is the first day of the period (UTC midnight).
func (p period) start() time.Time {
	switch p.kind {
	case periodMonth:
		return time.Date(int(floorDiv(p.idx, 12)), time.Month(p.idx-floorDiv(p.idx, 12)*12+1), 1, 0, 0, 0, 0, time.UTC)
	case periodQuarter:
		q := p.idx - floorDiv(p.idx, 4)*4
		return time.Date(int(floorDiv(p.idx, 4)), time.Month(q*3+1), 1, 0, 0, 0, 0, time.UTC)
	case periodWeek:
		return time.Unix((p.idx*7+4)*86400, 0).UTC()
	default:
		return time.Date(int(p.idx), time.January, 1, 0, 0, 0, 0, time.UTC)
	}
}
