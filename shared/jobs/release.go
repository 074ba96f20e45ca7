package jobs

import (
	"fmt"
	"sort"
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// ReleasePending makes the member's pending lots available once their
// AvailableAt has come (now included; a pending lot without AvailableAt is
// due at once), repaying debt first. Lots that have already expired (their
// date or the inactivity deadline is at or before now) are left for Expire.
// lots may hold lots in any state (others are ignored); the earliest due are
// released first when the plan is cut at MaxChanges. See the package doc.
func ReleasePending(m *ledger.Member, lots []*ledger.Entry, p *program.Program, now time.Time) Plan {
	now = now.UTC()
	x := expiryFor(m, p)
	var due []*ledger.Entry
	for _, l := range distinct(lots) {
		if l.State != ledger.LotPending || l.Remaining <= 0 {
			continue
		}
		if l.AvailableAt != nil && l.AvailableAt.After(now) {
			continue
		}
		if at, _, ok := x.of(l); ok && !at.After(now) {
			continue
		}
		due = append(due, l)
	}
	if len(due) == 0 {
		return Plan{}
	}
	sort.SliceStable(due, func(i, j int) bool { return dueBefore(due[i], due[j]) })
	var pl Plan
	if len(due) > MaxChanges-1 {
		due, pl.More = due[:MaxChanges-1], true
	}

	s := newScratch()
	var n int64
	var lines []rules.Line
	work := make([]*ledger.Entry, 0, len(due))
	for _, l := range due {
		c := s.get(l)
		n += c.Remaining
		lines = append(lines, rules.Line{Kind: rules.KindRelease, Rule: "pending", Points: c.Remaining, Detail: releaseDetail(l)})
		c.State, c.AvailableAt = ledger.LotAvailable, nil
		work = append(work, c)
	}
	repaid := repay(work, m.Debt)
	if repaid > 0 {
		lines = append(lines, rules.Line{Kind: rules.KindDebt, Rule: "repay", Detail: fmt.Sprintf("%d of the released points repaid debt", repaid)})
	}
	pl.Lots = s.changes()
	pl.Entries = []ledger.Entry{{
		Kind: ledger.KindRelease, At: now, Points: n, Breakdown: lines,
		Delta: ledger.Balances{Pending: -n, Available: n, Debt: -repaid},
	}}
	return pl
}

// dueBefore orders pending lots by AvailableAt (none first), then by entry.
func dueBefore(a, b *ledger.Entry) bool {
	switch {
	case a.AvailableAt == nil || b.AvailableAt == nil:
		if (a.AvailableAt == nil) != (b.AvailableAt == nil) {
			return a.AvailableAt == nil
		}
	case !a.AvailableAt.Equal(*b.AvailableAt):
		return a.AvailableAt.Before(*b.AvailableAt)
	}
	return a.Seq < b.Seq
}

func releaseDetail(l *ledger.Entry) string {
	d := lotName(l) + ": refund window over"
	if l.AvailableAt != nil {
		d += " at " + l.AvailableAt.UTC().Format(time.RFC3339)
	}
	return d
}

// lotName names a lot in a breakdown line by its entry's sequence number —
// never by its payment id: an erasure scrubs only the ids of an entry's own
// payment from its lines (store.scrubEntry), so naming another entry's payment
// here would outlive the erasure.
func lotName(l *ledger.Entry) string { return fmt.Sprintf("entry %d", l.Seq) }

// ReleaseTime is when lot's points become available: the AvailableAt of a
// pending lot with points left; zero otherwise.
func ReleaseTime(l *ledger.Entry) time.Time {
	if l.State != ledger.LotPending || l.Remaining <= 0 || l.AvailableAt == nil {
		return time.Time{}
	}
	return l.AvailableAt.UTC()
}

// NextRelease is the earliest release after now among lots (zero: none),
// for ledger.Member.ReleaseAt once the releases due at now are booked.
func NextRelease(lots []*ledger.Entry, now time.Time) time.Time {
	var next time.Time
	for _, l := range distinct(lots) {
		if t := ReleaseTime(l); t.After(now) {
			next = earliest(next, t)
		}
	}
	return next
}

// AsOf is the member as of now: m with the releases due at now applied, on a
// copy (lots are copied, never written). Reads of a member's balances use it,
// so a pending lot counts as available from its release time whether or not
// a write has booked the release yet (the member's next write books exactly
// this plan).
func AsOf(m ledger.Member, lots []*ledger.Entry, p *program.Program, now time.Time) ledger.Member {
	if !m.ReleaseDue(now) {
		return m
	}
	copies := make([]*ledger.Entry, 0, len(lots))
	for _, l := range lots {
		c := *l
		copies = append(copies, &c)
	}
	for {
		pl := ReleasePending(&m, copies, p, now)
		pl.Apply(&m, nil, nil)
		if !pl.More {
			return m
		}
	}
}
