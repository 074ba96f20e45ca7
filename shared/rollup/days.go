package rollup

import (
	"fmt"
	"time"
)

// A day is a civil date, held as its midnight in UTC (only the date counts).
type day struct{ t time.Time }

func parseDay(s string) (day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return day{}, fmt.Errorf("day %q: %w", s, err)
	}
	return day{t}, nil
}

// dayOf is the calendar day of t in loc.
func dayOf(t time.Time, loc *time.Location) day {
	y, m, d := t.In(loc).Date()
	return day{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

func (d day) String() string { return d.t.Format(time.DateOnly) }
func (d day) next() day      { return day{d.t.AddDate(0, 0, 1)} }
func (d day) prev() day      { return day{d.t.AddDate(0, 0, -1)} }

// start is the instant the day starts in loc: its midnight (where a DST change
// skips midnight, the instant time.Date normalizes it to; windows still tile,
// each starting where the previous one ended).
func (d day) start(loc *time.Location) time.Time {
	y, m, dd := d.t.Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, loc).UTC()
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlierOf(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
