package rules

import (
	"reflect"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/program"
)

func TestCaps(t *testing.T) {
	caps := program.Caps{MemberDaily: 500, MemberMonthly: 2000, ProgramMonthly: 10000}
	earn := earnLine("base", 100, "1 per 100 minor RUB on 10000")
	capLine := func(name string, pts int64, detail string) Line {
		return Line{Kind: KindCap, Rule: name, Points: pts, Detail: detail}
	}
	bonus := program.Campaign{ID: "b50", StartsAt: t0.Add(-48 * time.Hour), EndsAt: t0.Add(48 * time.Hour), Bonus: 50, Budget: 1000}
	bonusLine := Line{Kind: KindCampaign, Rule: "b50", Points: 50, Detail: "+50"}
	utc := func(s string) time.Time {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	type row struct {
		name      string
		caps      program.Caps
		campaigns []program.Campaign
		st        State
		b         Budgets
		now       time.Time // default t0 = 13:00 Moscow, 2026-11-05
		points    int64
		lines     []Line
		day       string
		dayPoints int64
		month     string
		monthPts  int64
		progSpend int64
		spend     map[string]int64
		uses      map[string]CampaignUse
	}
	same := State{Day: "2026-11-05", Month: "2026-11"}
	at := func(dayPts, monthPts int64) State { s := same; s.DayPoints, s.MonthPoints = dayPts, monthPts; return s }
	tests := []row{
		{name: "under every cap", caps: caps, st: at(100, 100), points: 100, lines: []Line{earn},
			day: "2026-11-05", dayPoints: 200, month: "2026-11", monthPts: 200, progSpend: 100},
		{name: "daily cap binds", caps: caps, st: at(450, 450), points: 50,
			lines: []Line{earn, capLine(CapMemberDaily, -50, "500 per day, 450 already counted")},
			day:   "2026-11-05", dayPoints: 500, month: "2026-11", monthPts: 500, progSpend: 50},
		{name: "daily cap reached", caps: caps, st: at(500, 500), points: 0,
			lines: []Line{earn, capLine(CapMemberDaily, -100, "500 per day, 500 already counted")},
			day:   "2026-11-05", dayPoints: 500, month: "2026-11", monthPts: 500},
		{name: "new day resets the daily count", caps: caps, st: State{Day: "2026-11-04", DayPoints: 500, Month: "2026-11", MonthPoints: 500},
			points: 100, lines: []Line{earn}, day: "2026-11-05", dayPoints: 100, month: "2026-11", monthPts: 600, progSpend: 100},
		{name: "23:59 Moscow is still the same day", caps: caps, st: at(500, 500), now: utc("2026-11-05T20:59:59Z"), points: 0,
			lines: []Line{earn, capLine(CapMemberDaily, -100, "500 per day, 500 already counted")},
			day:   "2026-11-05", dayPoints: 500, month: "2026-11", monthPts: 500},
		{name: "00:00 Moscow is the next day (21:00 UTC)", caps: caps, st: at(500, 500), now: utc("2026-11-05T21:00:00Z"), points: 100,
			lines: []Line{earn}, day: "2026-11-06", dayPoints: 100, month: "2026-11", monthPts: 600, progSpend: 100},
		{name: "monthly cap binds", caps: caps, st: at(0, 1950), points: 50,
			lines: []Line{earn, capLine(CapMemberMonthly, -50, "2000 per month, 1950 already counted")},
			day:   "2026-11-05", dayPoints: 50, month: "2026-11", monthPts: 2000, progSpend: 50},
		{name: "equal remainders name the daily cap", caps: caps, st: at(450, 1950), points: 50,
			lines: []Line{earn, capLine(CapMemberDaily, -50, "500 per day, 450 already counted")},
			day:   "2026-11-05", dayPoints: 500, month: "2026-11", monthPts: 2000, progSpend: 50},
		{name: "last second of the month (Moscow)", caps: caps, st: State{Day: "2026-11-30", DayPoints: 0, Month: "2026-11", MonthPoints: 2000},
			now: utc("2026-11-30T20:59:59Z"), points: 0, lines: []Line{earn, capLine(CapMemberMonthly, -100, "2000 per month, 2000 already counted")},
			day: "2026-11-30", dayPoints: 0, month: "2026-11", monthPts: 2000},
		{name: "month end rolls both counters", caps: caps, st: State{Day: "2026-11-30", DayPoints: 500, Month: "2026-11", MonthPoints: 2000},
			b: Budgets{ProgramMonth: "2026-11", ProgramSpent: 10000}, now: utc("2026-11-30T21:00:00Z"),
			points: 100, lines: []Line{earn}, day: "2026-12-01", dayPoints: 100, month: "2026-12", monthPts: 100, progSpend: 100},
		{name: "program budget binds", caps: caps, st: at(0, 0), b: Budgets{ProgramMonth: "2026-11", ProgramSpent: 9980}, points: 20,
			lines: []Line{earn, capLine(CapProgramMonthly, -80, "10000 per month, 9980 already counted")},
			day:   "2026-11-05", dayPoints: 20, month: "2026-11", monthPts: 20, progSpend: 20},
		{name: "program budget of another month is not this month's", caps: caps, st: at(0, 0),
			b: Budgets{ProgramMonth: "2026-10", ProgramSpent: 10000}, points: 100, lines: []Line{earn},
			day: "2026-11-05", dayPoints: 100, month: "2026-11", monthPts: 100, progSpend: 100},
		{name: "no program budget: no program spend", caps: program.Caps{MemberDaily: 500}, st: at(0, 0), points: 100, lines: []Line{earn},
			day: "2026-11-05", dayPoints: 100, month: "2026-11", monthPts: 100},
		{name: "cap cuts the campaign first", caps: caps, campaigns: []program.Campaign{bonus}, st: at(380, 380), points: 120,
			lines: []Line{earn, bonusLine, capLine(CapMemberDaily, -30, "500 per day, 380 already counted")},
			day:   "2026-11-05", dayPoints: 500, month: "2026-11", monthPts: 500, progSpend: 120,
			spend: map[string]int64{"b50": 20}, uses: map[string]CampaignUse{"b50": {1, 20}}},
		{name: "cap takes the whole campaign and some base", caps: caps, campaigns: []program.Campaign{bonus}, st: at(420, 420), points: 80,
			lines: []Line{earn, bonusLine, capLine(CapMemberDaily, -70, "500 per day, 420 already counted")},
			day:   "2026-11-05", dayPoints: 500, month: "2026-11", monthPts: 500, progSpend: 80},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &program.Program{Timezone: "Europe/Moscow", Earning: []program.EarningRule{perHundred}, Caps: tc.caps, Campaigns: tc.campaigns}
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			res := Evaluate(p, tc.st, tc.b, pay(10000), now)
			checkResult(t, res, tc.points, tc.lines)
			s := res.State
			if s.Day != tc.day || s.DayPoints != tc.dayPoints || s.Month != tc.month || s.MonthPoints != tc.monthPts {
				t.Errorf("counters %s=%d %s=%d, want %s=%d %s=%d", s.Day, s.DayPoints, s.Month, s.MonthPoints,
					tc.day, tc.dayPoints, tc.month, tc.monthPts)
			}
			if res.ProgramSpend != tc.progSpend {
				t.Errorf("program spend %d, want %d", res.ProgramSpend, tc.progSpend)
			}
			if !reflect.DeepEqual(res.CampaignSpend, tc.spend) || !reflect.DeepEqual(s.Campaigns, tc.uses) {
				t.Errorf("campaign spend %v uses %v, want %v %v", res.CampaignSpend, s.Campaigns, tc.spend, tc.uses)
			}
			if day, month := PeriodKeys(p, now); day != s.Day || month != s.Month {
				t.Errorf("PeriodKeys = %s %s, state %s %s", day, month, s.Day, s.Month)
			}
		})
	}
}

// TestCapsUseAccrualTime: a payment made yesterday but accrued today counts today.
func TestCapsUseAccrualTime(t *testing.T) {
	p := &program.Program{Earning: []program.EarningRule{perHundred}, Caps: program.Caps{MemberDaily: 150}}
	pp := pay(10000)
	pp.Time = t0.Add(-24 * time.Hour)
	res := Evaluate(p, State{Day: "2026-11-04", DayPoints: 150}, Budgets{}, pp, t0)
	if res.Points != 100 || res.State.Day != "2026-11-05" {
		t.Errorf("points %d day %s, want 100 on 2026-11-05", res.Points, res.State.Day)
	}
}
