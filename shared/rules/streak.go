package rules

import (
	"math"
	"strconv"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
)

// streaks applies every streak rule to the payment's subscription period and adds
// a "streak" line for each rule whose count reaches a multiple of its Periods.
func (e *eval) streaks() {
	rec := e.pay.Recurring
	if rec == nil || rec.SubscriptionID == "" {
		return
	}
	cur, ok := parsePeriod(rec.Period)
	if !ok {
		return
	}
	due, ok := parseDate(rec.DueDate)
	if !ok {
		return
	}
	onTime := !civilDate(e.pay.Time, e.loc).After(due)
	for i := range e.p.Streaks {
		r := &e.p.Streaks[i]
		if r.Periods <= 0 || !matchesList(r.Categories, e.pay.Category) {
			continue
		}
		key := StreakKey(r.ID, rec.SubscriptionID)
		old, had := e.st.Streaks[key]
		next, changed := advanceStreak(old, had, cur, rec.Period, onTime)
		if !changed {
			continue
		}
		if e.st.Streaks == nil {
			e.st.Streaks = make(map[string]Streak, 1)
		}
		e.st.Streaks[key] = next
		if next.Count > 0 && next.Count%r.Periods == 0 && r.Bonus > 0 {
			e.addBonus(Line{Kind: KindStreak, Rule: r.ID, Detail: streakDetail(next.Count, rec.SubscriptionID, rec.Period)}, r.Bonus)
		}
	}
}

// advanceStreak is the streak after a payment for period cur (written curText):
//   - same or older period than the last one (same kind): no change (changed=false);
//   - late: count 0, the period is remembered;
//   - on time, the period right after the last one: count+1;
//   - on time otherwise (first ever, after a gap, or the kind changed): count 1.
func advanceStreak(old Streak, had bool, cur period, curText string, onTime bool) (Streak, bool) {
	last, lastOK := period{}, false
	if had {
		last, lastOK = parsePeriod(old.LastPeriod)
		lastOK = lastOK && last.kind == cur.kind
	}
	switch {
	case lastOK && cur.idx <= last.idx:
		return old, false
	case !onTime:
		return Streak{LastPeriod: curText}, true
	case lastOK && cur.idx == last.idx+1 && old.Count >= 0 && old.Count < math.MaxInt32:
		return Streak{LastPeriod: curText, Count: old.Count + 1}, true
	default:
		return Streak{LastPeriod: curText, Count: 1}, true
	}
}

// streakDetail reads "3 on-time periods in a row (plan-7, 2026-11)".
func streakDetail(count int, sub, per string) string {
	b := make([]byte, 0, 48)
	b = strconv.AppendInt(b, int64(count), 10)
	b = append(b, " on-time periods in a row ("...)
	b = append(b, sub...)
	b = append(b, ", "...)
	b = append(b, per...)
	b = append(b, ')')
	return string(b)
}

// ReplayStreaks advances the streaks of st through payments made before the
// member came to Accrue (a bulk import's history, package importer), in the
// order given, under p's streak rules exactly as Evaluate would — and nothing
// else: no points, no bonus, no counter, campaign or fraud state. A streak
// that reached a multiple of its periods during the replay earned its bonus in
// the previous program; the next on-time period continues the count. It never
// writes into st (the result is a copy).
func ReplayStreaks(p *program.Program, st State, pays []payment.Payment) State {
	out := cloneState(st)
	if p == nil || len(p.Streaks) == 0 {
		return out
	}
	for _, pay := range pays {
		e := &eval{p: p, pay: pay, loc: location(p), st: &out}
		e.streaks()
	}
	return out
}
