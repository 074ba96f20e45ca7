package rules

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
)

// streakProgram pays 100 points at every 3 consecutive on-time telecom periods; it
// has no earning rule, so a payment's points are its streak bonus.
func streakProgram() *program.Program {
	return &program.Program{
		Timezone: "Europe/Moscow",
		Streaks:  []program.StreakRule{{ID: "s3", Periods: 3, Bonus: 100, Categories: []string{"telecom"}}},
	}
}

func TestStreaks(t *testing.T) {
	key := StreakKey("s3", "plan-7")
	streak := func(last string, n int) map[string]Streak {
		return map[string]Streak{key: {LastPeriod: last, Count: n}}
	}
	bonus := func(n int, per string) []Line {
		return []Line{{Kind: KindStreak, Rule: "s3", Points: 100, Detail: strconv.Itoa(n) + " on-time periods in a row (plan-7, " + per + ")"}}
	}
	nov := day(2026, 11, 5)
	tests := []struct {
		name    string
		before  map[string]Streak
		period  string
		due     string
		paidAt  time.Time
		after   map[string]Streak // nil: no entry
		points  int64
		lines   []Line
		mutator func(*payment.Payment)
	}{
		{"first ever, on time", nil, "2026-11", "2026-11-10", nov, streak("2026-11", 1), 0, nil, nil},
		{"next period on time", streak("2026-10", 1), "2026-11", "2026-11-10", nov, streak("2026-11", 2), 0, nil, nil},
		{"third in a row earns the bonus", streak("2026-10", 2), "2026-11", "2026-11-10", nov, streak("2026-11", 3), 100, bonus(3, "2026-11"), nil},
		{"fourth: no bonus", streak("2026-10", 3), "2026-11", "2026-11-10", nov, streak("2026-11", 4), 0, nil, nil},
		{"sixth: bonus again", streak("2026-10", 5), "2026-11", "2026-11-10", nov, streak("2026-11", 6), 100, bonus(6, "2026-11"), nil},
		{"paid on the due date, 23:59:59 Moscow", streak("2026-10", 2), "2026-11", "2026-11-10",
			time.Date(2026, 11, 10, 20, 59, 59, 0, time.UTC), streak("2026-11", 3), 100, bonus(3, "2026-11"), nil},
		{"paid 00:00 Moscow the day after: late resets", streak("2026-10", 2), "2026-11", "2026-11-10",
			time.Date(2026, 11, 10, 21, 0, 0, 0, time.UTC), streak("2026-11", 0), 0, nil, nil},
		{"late first payment", nil, "2026-11", "2026-11-01", nov, streak("2026-11", 0), 0, nil, nil},
		{"on time after a late one starts at 1", streak("2026-11", 0), "2026-12", "2026-12-10", day(2026, 12, 1), streak("2026-12", 1), 0, nil, nil},
		{"missed period restarts at 1", streak("2026-09", 2), "2026-11", "2026-11-10", nov, streak("2026-11", 1), 0, nil, nil},
		{"same period again: no change", streak("2026-11", 2), "2026-11", "2026-11-10", nov, streak("2026-11", 2), 0, nil, nil},
		{"same period again, late: no change", streak("2026-11", 2), "2026-11", "2026-11-01", nov, streak("2026-11", 2), 0, nil, nil},
		{"older period: no change", streak("2026-11", 2), "2026-10", "2026-11-10", nov, streak("2026-11", 2), 0, nil, nil},
		{"year rollover 2026-12 → 2027-01", streak("2026-12", 2), "2027-01", "2027-01-10", day(2027, 1, 5), streak("2027-01", 3), 100, bonus(3, "2027-01"), nil},
		{"quarters 2026-Q2 → Q3", streak("2026-Q2", 1), "2026-Q3", "2026-07-10", day(2026, 7, 1), streak("2026-Q3", 2), 0, nil, nil},
		{"quarters roll over 2026-Q4 → 2027-Q1", streak("2026-Q4", 2), "2027-Q1", "2027-01-10", day(2027, 1, 5), streak("2027-Q1", 3), 100, bonus(3, "2027-Q1"), nil},
		{"quarter gap 2026-Q2 → Q4", streak("2026-Q2", 2), "2026-Q4", "2026-10-10", day(2026, 10, 5), streak("2026-Q4", 1), 0, nil, nil},
		{"ISO 2026 has 53 weeks: W52 → W53", streak("2026-W52", 1), "2026-W53", "2027-01-03", day(2026, 12, 28), streak("2026-W53", 2), 0, nil, nil},
		{"2026-W53 → 2027-W01", streak("2026-W53", 2), "2027-W01", "2027-01-10", day(2027, 1, 4), streak("2027-W01", 3), 100, bonus(3, "2027-W01"), nil},
		{"2026-W52 → 2027-W01 skips W53", streak("2026-W52", 2), "2027-W01", "2027-01-10", day(2027, 1, 4), streak("2027-W01", 1), 0, nil, nil},
		{"2025 has 52 weeks: W52 → 2026-W01", streak("2025-W52", 2), "2026-W01", "2026-01-04", day(2025, 12, 29), streak("2026-W01", 3), 100, bonus(3, "2026-W01"), nil},
		{"2025-W53 does not exist: no effect", streak("2025-W52", 2), "2025-W53", "2026-01-04", day(2025, 12, 29), streak("2025-W52", 2), 0, nil, nil},
		{"years 2026 → 2027", streak("2026", 2), "2027", "2027-01-31", day(2027, 1, 5), streak("2027", 3), 100, bonus(3, "2027"), nil},
		{"period kind changed: starts at 1", streak("2026-10", 2), "2026-Q4", "2026-11-10", nov, streak("2026-Q4", 1), 0, nil, nil},
		{"unparseable period: no effect", streak("2026-10", 2), "2026-13", "2026-11-10", nov, streak("2026-10", 2), 0, nil, nil},
		{"unparseable due date: no effect", streak("2026-10", 2), "2026-11", "2026-11-31", nov, streak("2026-10", 2), 0, nil, nil},
		{"other category: no effect", nil, "2026-11", "2026-11-10", nov, nil, 0, nil,
			func(p *payment.Payment) { p.Category = "retail" }},
		{"no recurring: no effect", streak("2026-10", 2), "2026-11", "2026-11-10", nov, streak("2026-10", 2), 0, nil,
			func(p *payment.Payment) { p.Recurring = nil }},
		{"other subscription has its own streak", streak("2026-10", 2), "2026-11", "2026-11-10", nov,
			map[string]Streak{key: {"2026-10", 2}, StreakKey("s3", "plan-8"): {"2026-11", 1}}, 0, nil,
			func(p *payment.Payment) { p.Recurring.SubscriptionID = "plan-8" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pp := recurring(pay(10000), tc.period, tc.due, tc.paidAt)
			if tc.mutator != nil {
				tc.mutator(&pp)
			}
			res := Evaluate(streakProgram(), State{Streaks: tc.before}, Budgets{}, pp, tc.paidAt)
			checkResult(t, res, tc.points, tc.lines)
			if !reflect.DeepEqual(res.State.Streaks, tc.after) {
				t.Errorf("streaks = %v, want %v", res.State.Streaks, tc.after)
			}
		})
	}
}

// TestStreakSequence runs one subscription through a year with a late month.
func TestStreakSequence(t *testing.T) {
	p := streakProgram()
	months := []struct {
		period, due string
		paid        time.Time
		count       int
		points      int64
	}{
		{"2026-01", "2026-01-10", day(2026, 1, 9), 1, 0},
		{"2026-02", "2026-02-10", day(2026, 2, 10), 2, 0},
		{"2026-03", "2026-03-10", day(2026, 3, 1), 3, 100},
		{"2026-04", "2026-04-10", day(2026, 4, 11), 0, 0}, // late
		{"2026-05", "2026-05-10", day(2026, 5, 1), 1, 0},
		{"2026-06", "2026-06-10", day(2026, 6, 1), 2, 0},
		{"2026-07", "2026-07-10", day(2026, 7, 1), 3, 100},
		{"2026-08", "2026-08-10", day(2026, 8, 1), 4, 0},
		{"2026-09", "2026-09-10", day(2026, 9, 1), 5, 0},
		{"2026-10", "2026-10-10", day(2026, 10, 1), 6, 100},
	}
	var st State
	for _, m := range months {
		res := Evaluate(p, st, Budgets{}, recurring(pay(10000), m.period, m.due, m.paid), m.paid)
		got := res.State.Streaks[StreakKey("s3", "plan-7")]
		if got.Count != m.count || got.LastPeriod != m.period || res.Points != m.points {
			t.Fatalf("%s: streak %+v, points %d; want count %d, points %d", m.period, got, res.Points, m.count, m.points)
		}
		st = res.State
	}
}

func TestParsePeriod(t *testing.T) {
	next := []struct{ a, b string }{
		{"2026-11", "2026-12"}, {"2026-12", "2027-01"}, {"0001-12", "0002-01"},
		{"2026-Q3", "2026-Q4"}, {"2026-Q4", "2027-Q1"},
		{"2026-W01", "2026-W02"}, {"2026-W52", "2026-W53"}, {"2026-W53", "2027-W01"}, {"2025-W52", "2026-W01"},
		{"2020-W53", "2021-W01"}, {"2015-W53", "2016-W01"}, {"1969-W52", "1970-W01"},
		{"2026", "2027"},
	}
	for _, n := range next {
		a, okA := parsePeriod(n.a)
		b, okB := parsePeriod(n.b)
		if !okA || !okB || a.kind != b.kind || b.idx != a.idx+1 {
			t.Errorf("%s → %s: %v %v %v %v, want consecutive", n.a, n.b, a, okA, b, okB)
		}
	}
	for _, bad := range []string{"", "26-11", "2026-1", "2026-13", "2026-00", "2026-Q0", "2026-Q5", "2026-W00",
		"2026-W54", "2025-W53", "2027-W53", "2026-W1", "2026-11-01", "abcd", "+026", "0000", "2026-", "2026-q1", "2026-w01", "２０２６"} {
		if _, ok := parsePeriod(bad); ok {
			t.Errorf("parsePeriod(%q) accepted", bad)
		}
	}
	weeks := map[int64]int64{2015: 53, 2020: 53, 2021: 52, 2025: 52, 2026: 53, 2027: 52, 2032: 53}
	for y, w := range weeks {
		if got := isoWeeks(y); got != w {
			t.Errorf("isoWeeks(%d) = %d, want %d", y, got, w)
		}
	}
	starts := map[string]time.Time{
		"2026-11": time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "2026-Q4": time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		"2026-W53": time.Date(2026, 12, 28, 0, 0, 0, 0, time.UTC), "2027-W01": time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC),
		"1969-W52": time.Date(1969, 12, 22, 0, 0, 0, 0, time.UTC), "2026": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for s, want := range starts {
		p, _ := parsePeriod(s)
		if got := p.start(); !got.Equal(want) {
			t.Errorf("%s starts %v, want %v", s, got, want)
		}
	}
}

// ReplayStreaks gives the same streaks as evaluating the payments one by one,
// and earns nothing: the state has no points, counters or recent events.
func TestReplayStreaks(t *testing.T) {
	p := streakProgram()
	pay := func(per, due string, at time.Time, cat string) payment.Payment {
		return payment.Payment{Type: payment.TypeSucceeded, PaymentID: "h-" + per, AmountMinor: 1000, Currency: "RUB",
			Category: cat, Time: at, Recurring: &payment.Recurring{SubscriptionID: "plan-7", Period: per, DueDate: due}}
	}
	key := StreakKey("s3", "plan-7")
	tests := []struct {
		name string
		pays []payment.Payment
		want map[string]Streak
	}{
		{"none", nil, nil},
		{"four on time", []payment.Payment{
			pay("2026-07", "2026-07-10", day(2026, 7, 1), "telecom"), pay("2026-08", "2026-08-10", day(2026, 8, 1), "telecom"),
			pay("2026-09", "2026-09-10", day(2026, 9, 1), "telecom"), pay("2026-10", "2026-10-10", day(2026, 10, 1), "telecom"),
		}, map[string]Streak{key: {LastPeriod: "2026-10", Count: 4}}},
		{"a late one resets", []payment.Payment{
			pay("2026-08", "2026-08-10", day(2026, 8, 1), "telecom"), pay("2026-09", "2026-09-10", day(2026, 9, 20), "telecom"),
			pay("2026-10", "2026-10-10", day(2026, 10, 1), "telecom"),
		}, map[string]Streak{key: {LastPeriod: "2026-10", Count: 1}}},
		{"another category counts for no rule", []payment.Payment{pay("2026-10", "2026-10-10", day(2026, 10, 1), "retail")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ReplayStreaks(p, State{Tier: "gold"}, tc.pays)
			if !reflect.DeepEqual(got.Streaks, tc.want) {
				t.Fatalf("streaks %+v, want %+v", got.Streaks, tc.want)
			}
			if got.Tier != "gold" || got.Qualifying != 0 || got.DayPoints != 0 || got.MonthPoints != 0 || got.RecentEvents != nil || got.Campaigns != nil {
				t.Fatalf("replay changed more than streaks: %+v", got)
			}
			// The same as Evaluate's streaks, payment by payment.
			st := State{}
			for _, py := range tc.pays {
				st = Evaluate(p, st, Budgets{}, py, py.Time).State
			}
			if !reflect.DeepEqual(st.Streaks, got.Streaks) {
				t.Fatalf("Evaluate's streaks %+v, replay's %+v", st.Streaks, got.Streaks)
			}
		})
	}
}
