package rules

import (
	"reflect"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/program"
)

func TestFrequency(t *testing.T) {
	p := &program.Program{Frequency: []program.FrequencyRule{
		{ID: "f3", Payments: 3, Days: 30, Bonus: 50, Categories: []string{"telecom"}},
	}}
	now := t0.Unix()
	d := int64(86400)
	bonus := []Line{{Kind: KindFrequency, Rule: "f3", Points: 50, Detail: "3 payments within 30 days"}}
	tests := []struct {
		name     string
		before   []int64
		category string
		after    []int64
		points   int64
		lines    []Line
	}{
		{"first payment opens the window", nil, "telecom", []int64{now}, 0, nil},
		{"second payment", []int64{now - 10*d}, "telecom", []int64{now - 10*d, now}, 0, nil},
		{"third within 30 days: bonus, window emptied", []int64{now - 20*d, now - 10*d}, "telecom", nil, 50, bonus},
		{"oldest exactly 30 days back still counts", []int64{now - 30*d, now - 10*d}, "telecom", nil, 50, bonus},
		{"oldest 30 days and a second back drops", []int64{now - 30*d - 1, now - 10*d}, "telecom", []int64{now - 10*d, now}, 0, nil},
		{"all old payments drop", []int64{now - 90*d, now - 31*d}, "telecom", []int64{now}, 0, nil},
		{"out-of-order times are kept sorted", []int64{now + 3600}, "telecom", []int64{now, now + 3600}, 0, nil},
		{"other category does not count", []int64{now - 20*d, now - 10*d}, "retail", []int64{now - 20*d, now - 10*d}, 0, nil},
		{"a longer list than the rule allows gets the bonus once", []int64{now - 3*d, now - 2*d, now - d}, "telecom", nil, 50, bonus},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := State{}
			if tc.before != nil {
				st.Frequency = map[string][]int64{"f3": tc.before}
			}
			pp := pay(10000)
			pp.Category = tc.category
			res := Evaluate(p, st, Budgets{}, pp, t0)
			checkResult(t, res, tc.points, tc.lines)
			if got := res.State.Frequency["f3"]; !reflect.DeepEqual(got, tc.after) {
				t.Errorf("window = %v, want %v", got, tc.after)
			}
		})
	}
}

// TestFrequencyOncePerWindow: four payments within 30 days earn one bonus; the
// fourth opens a new window.
func TestFrequencyOncePerWindow(t *testing.T) {
	p := &program.Program{Frequency: []program.FrequencyRule{{ID: "f3", Payments: 3, Days: 30, Bonus: 50}}}
	var st State
	var got []int64
	for i := range 7 {
		at := t0.Add(time.Duration(i) * 24 * time.Hour)
		pp := pay(10000)
		pp.Time = at
		res := Evaluate(p, st, Budgets{}, pp, at)
		got = append(got, res.Points)
		st = res.State
	}
	if want := []int64{0, 0, 50, 0, 0, 50, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("points per payment = %v, want %v", got, want)
	}
	if w := st.Frequency["f3"]; len(w) != 1 {
		t.Errorf("open window = %v, want the last payment only", w)
	}
}

func TestFrequencyPrunesRemovedAndStaleRules(t *testing.T) {
	p := &program.Program{Frequency: []program.FrequencyRule{
		{ID: "retail", Payments: 3, Days: 7, Bonus: 10, Categories: []string{"retail"}},
		{ID: "small", Payments: 2, Days: 7, Bonus: 10, Categories: []string{"retail"}},
	}}
	now := t0.Unix()
	st := State{Frequency: map[string][]int64{
		"gone":   {now},                                    // rule removed
		"retail": {now - 8*86400, now - 86400},             // not matching this telecom payment: pruned by window
		"small":  {now - 3*86400, now - 2*86400, now - 60}, // Payments lowered to 2: keep the newest 1
	}}
	res := Evaluate(p, st, Budgets{}, pay(10000), t0)
	want := map[string][]int64{"retail": {now - 86400}, "small": {now - 60}}
	if !reflect.DeepEqual(res.State.Frequency, want) {
		t.Errorf("frequency = %v, want %v", res.State.Frequency, want)
	}
}
