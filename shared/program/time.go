package program

import (
	"errors"
	"sync"
	"time"
	_ "time/tzdata" // zone data for Lambda's provided.al2023, which may lack it
)

// locations caches loaded time zones: LoadLocation reads and parses zone data.
var locations sync.Map // name -> *time.Location

func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	if name == "Local" { // depends on the machine, never what a partner means
		return nil, errLocal
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

var errLocal = errors.New(`time zone "Local" is not allowed`)

// Location returns the program's time zone: UTC when unset (or invalid); never nil.
func (p *Program) Location() *time.Location {
	if p == nil || p.Timezone == "" {
		return time.UTC
	}
	l, err := loadLocation(p.Timezone)
	if err != nil {
		return time.UTC
	}
	return l
}

// LotExpiry returns when points earned at earnedAt expire, in the program's time
// zone: the earliest of
//   - rolling: the same wall-clock time expiry.rolling_days calendar days later, and
//   - fixed: the start (00:00) of the first expiry.fixed_date strictly after
//     earnedAt + expiry.fixed_min_days calendar days.
//
// ok is false when neither is configured. Inactivity expiry is per member, not per
// lot, and is not considered here.
func (p *Program) LotExpiry(earnedAt time.Time) (expiresAt time.Time, ok bool) {
	loc := p.Location()
	t := earnedAt.In(loc)
	if p.Expiry.RollingDays > 0 {
		expiresAt, ok = t.AddDate(0, 0, p.Expiry.RollingDays), true
	}
	if p.Expiry.FixedDate == "" {
		return expiresAt, ok
	}
	m, d, err := parseFixedDate(p.Expiry.FixedDate)
	if err != nil {
		return expiresAt, ok
	}
	from := t.AddDate(0, 0, p.Expiry.FixedMinDays)
	fixed := time.Date(from.Year(), m, d, 0, 0, 0, 0, loc)
	if !fixed.After(from) {
		fixed = time.Date(from.Year()+1, m, d, 0, 0, 0, 0, loc)
	}
	if !ok || fixed.Before(expiresAt) {
		expiresAt = fixed
	}
	return expiresAt, true
}
