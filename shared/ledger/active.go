package ledger

import (
	"slices"
	"time"
)

// Activity days. The stats roll-up (package rollup) counts a partner's
// active members per day from the table's stream, one change at a time, so
// it cannot count distinct members by re-reading the day. The member item
// carries the answer instead: the transaction that books a member's first
// activity of a day also adds that day to Member.ActiveDays, and the roll-up
// counts the member once for the day when the day appears in the member's
// stream image. Every write of a member is conditional on its version, so
// the stream holds every image in order and each day appears exactly once.
//
// Two days are kept, not one: a write taken a few milliseconds before
// midnight can commit after one taken just after it (two writers' clocks, or
// an accrual that read its time before the member it then re-read), and its
// day must still be recognised as counted (in the list) or not (added). A
// write more than a day late on the latest activity day is not counted; no
// writer's clock is that far off.

// activeDaysKept is how many of the latest activity days a member keeps.
const activeDaysKept = 2

// IsActivity reports whether an entry makes its member active on its day:
// an earn or bonus entry, or a redemption that takes points (a hold, a
// capture, an immediate capture; not the return of held points, which a
// member's cancel and the stale-holds job book alike).
func IsActivity(e *Entry) bool {
	switch e.Kind {
	case KindEarn, KindBonus:
		return true
	case KindRedeem:
		return e.Points <= 0
	}
	return false
}

// LocalDay is the calendar day (yyyy-mm-dd) of t in loc.
func LocalDay(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(time.DateOnly)
}

// MarkActive adds to m.ActiveDays the day, in loc, of each entry that is
// activity (IsActivity), keeping the latest activeDaysKept days in order. A
// day already there, or older than every day kept when the list is full,
// changes nothing. It reports whether ActiveDays changed.
func MarkActive(m *Member, loc *time.Location, es ...*Entry) bool {
	changed := false
	for _, e := range es {
		if !IsActivity(e) {
			continue
		}
		d := LocalDay(e.At, loc)
		i, found := slices.BinarySearch(m.ActiveDays, d)
		if found || (i == 0 && len(m.ActiveDays) >= activeDaysKept) {
			continue
		}
		m.ActiveDays = slices.Insert(m.ActiveDays, i, d)
		if n := len(m.ActiveDays); n > activeDaysKept {
			m.ActiveDays = slices.Clone(m.ActiveDays[n-activeDaysKept:])
		}
		changed = true
	}
	return changed
}

// NewActiveDays returns the days of after that are not in before: the days
// a write of a member made it active (the stats roll-up's +1 per day).
func NewActiveDays(before, after []string) []string {
	var out []string
	for _, d := range after {
		if !slices.Contains(before, d) {
			out = append(out, d)
		}
	}
	return out
}
