package rules

import (
	"reflect"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/program"
)

func TestFraud(t *testing.T) {
	n := t0.Unix()
	limits := program.Fraud{MaxEventsPerHour: 3, MaxPointsPerDay: 1000, LargePaymentMinor: map[string]int64{"RUB": 1_000_000}}
	today := func(dayPts int64, recent ...int64) State {
		return State{Day: "2026-11-05", DayPoints: dayPts, Month: "2026-11", RecentEvents: recent}
	}
	tests := []struct {
		name     string
		fraud    program.Fraud
		st       State
		amount   int64
		currency string
		reasons  []string
		recent   []int64
		dayPts   int64
		qual     int64
	}{
		{"two events in the hour: fine", limits, today(0, n-1800, n-60), 10000, "RUB", nil, []int64{n - 1800, n - 60, n}, 100, 100},
		{"three events in the hour: held", limits, today(0, n-3599, n-1800, n-60), 10000, "RUB",
			[]string{HoldMaxEventsPerHour}, []int64{n - 1800, n - 60, n}, 100, 0},
		{"an event exactly an hour old no longer counts", limits, today(0, n-3600, n-1800, n-60), 10000, "RUB",
			nil, []int64{n - 1800, n - 60, n}, 100, 100},
		{"unsorted history is kept sorted", limits, today(0, n-60, n-3000), 10000, "RUB", nil, []int64{n - 3000, n - 60, n}, 100, 100},
		{"day points up to the limit: fine", limits, today(900), 10000, "RUB", nil, []int64{n}, 1000, 100},
		{"day points over the limit: held, still counted", limits, today(950), 10000, "RUB",
			[]string{HoldMaxPointsPerDay}, []int64{n}, 1050, 0},
		{"yesterday's points do not count", limits, State{Day: "2026-11-04", DayPoints: 950}, 10000, "RUB", nil, []int64{n}, 100, 100},
		{"just below a large payment", program.Fraud{LargePaymentMinor: map[string]int64{"RUB": 1_000_000}}, State{}, 999_999, "RUB",
			nil, nil, 9999, 9999},
		{"large payment: held", program.Fraud{LargePaymentMinor: map[string]int64{"RUB": 1_000_000}}, State{}, 1_000_000, "RUB",
			[]string{HoldLargePayment}, nil, 10000, 0},
		{"large in another currency has no threshold", program.Fraud{LargePaymentMinor: map[string]int64{"RUB": 1_000_000}}, State{}, 1_000_000, "USD",
			nil, nil, 10000, 10000},
		{"every reason, in order", limits, today(0, n-30, n-20, n-10), 1_000_000, "RUB",
			[]string{HoldMaxEventsPerHour, HoldMaxPointsPerDay, HoldLargePayment}, []int64{n - 20, n - 10, n}, 10000, 0},
		{"no hourly limit: no event history kept", program.Fraud{}, today(0, n-30, n-20), 10000, "RUB", nil, nil, 100, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &program.Program{Earning: []program.EarningRule{perHundred}, Fraud: tc.fraud}
			pp := pay(tc.amount)
			pp.Currency = tc.currency
			res := Evaluate(p, tc.st, Budgets{}, pp, t0)
			if !reflect.DeepEqual(res.HoldReasons, tc.reasons) || res.Held != (len(tc.reasons) > 0) {
				t.Errorf("held %v %v, want %v", res.Held, res.HoldReasons, tc.reasons)
			}
			if !reflect.DeepEqual(res.State.RecentEvents, tc.recent) {
				t.Errorf("recent = %v, want %v", res.State.RecentEvents, tc.recent)
			}
			if res.State.DayPoints != tc.dayPts || res.State.Qualifying != tc.qual {
				t.Errorf("day points %d qualifying %d, want %d %d", res.State.DayPoints, res.State.Qualifying, tc.dayPts, tc.qual)
			}
		})
	}
}

// TestFraudHourlyLimitSequence: the 4th accrual within an hour is held (held events
// count too), and an event exactly an hour old no longer counts.
func TestFraudHourlyLimitSequence(t *testing.T) {
	p := &program.Program{Earning: []program.EarningRule{perHundred}, Fraud: program.Fraud{MaxEventsPerHour: 3}}
	var st State
	offsets := []int{0, 10, 20, 30, 79, 80, 81}
	want := []bool{false, false, false, true, false, false, true}
	for i, off := range offsets {
		now := t0.Add(time.Duration(off) * time.Minute)
		res := Evaluate(p, st, Budgets{}, pay(10000), now)
		if res.Held != want[i] {
			t.Errorf("event at +%dm: held %v, want %v (recent before %v)", off, res.Held, want[i], st.RecentEvents)
		}
		if len(res.State.RecentEvents) > 3 {
			t.Errorf("recent events grew to %d", len(res.State.RecentEvents))
		}
		st = res.State
	}
}
