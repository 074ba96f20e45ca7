package rules

import (
	"slices"
	"strconv"

	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/satint"
)

// maxWindowDays bounds a frequency window (about 270 years) so that the window's
// length in seconds cannot overflow.
const maxWindowDays = 100_000

// frequency applies every frequency rule: the payment joins the rule's open window
// and, when the window holds Payments payments, a "frequency" line is added and the
// window is emptied (once per window).
func (e *eval) frequency() {
	t := e.pay.Time.Unix()
	for i := range e.p.Frequency {
		r := &e.p.Frequency[i]
		if !validFrequency(r) || !matchesList(r.Categories, e.pay.Category) {
			continue
		}
		list := inWindow(e.st.Frequency[r.ID], windowStart(t, r.Days))
		list = append(list, t)
		slices.Sort(list)
		if len(list) < r.Payments {
			if e.st.Frequency == nil {
				e.st.Frequency = make(map[string][]int64, 1)
			}
			e.st.Frequency[r.ID] = list
			continue
		}
		delete(e.st.Frequency, r.ID)
		if r.Bonus > 0 {
			e.addBonus(Line{Kind: KindFrequency, Rule: r.ID, Detail: frequencyDetail(r)}, r.Bonus)
		}
	}
}

func validFrequency(r *program.FrequencyRule) bool { return r.Payments > 0 && r.Days > 0 }

// windowStart is the oldest time (unix seconds) still inside a window of days ending at t.
func windowStart(t int64, days int) int64 {
	return satint.Sub(t, int64(min(days, maxWindowDays))*86400)
}

// inWindow keeps, in place, the times at or after from.
func inWindow(list []int64, from int64) []int64 {
	return slices.DeleteFunc(list, func(x int64) bool { return x < from })
}

// frequencyDetail reads "3 payments within 30 days".
func frequencyDetail(r *program.FrequencyRule) string {
	b := make([]byte, 0, 32)
	b = strconv.AppendInt(b, int64(r.Payments), 10)
	b = append(b, " payments within "...)
	b = strconv.AppendInt(b, int64(r.Days), 10)
	b = append(b, " days"...)
	return string(b)
}
