package rules

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/satint"
)

var (
	propCategories = []string{"telecom", "utilities", "banking", "subscription", "retail", "other"}
	propCurrencies = []string{"RUB", "USD", "EUR"}
	propRatios     = []string{"0", "0.5", "1", "1.25", "1.5", "2", "3"}
	propTiers      = []string{"silver", "gold", "platinum"}
	propTags       = []string{"vip", "staff", "new"}
	propPeriods    = []string{"2026-10", "2026-11", "2026-12", "2027-01", "2026-Q4", "2027-Q1", "2026-W52", "2026-W53", "2027-W01", "2026", "2027", "2026-13", ""}
	propZones      = []string{"", "UTC", "Europe/Moscow", "America/New_York", "Asia/Kolkata", "Not/AZone"}
	propRounding   = []string{"", "floor", "round_half_up", "ceil", "bankers"}
)

// amount draws mostly ordinary values and sometimes extreme ones.
func amount(t *rapid.T, label string, lo, hi int64) int64 {
	return rapid.OneOf(rapid.Int64Range(lo, hi), rapid.SampledFrom([]int64{0, -1, math.MaxInt64, math.MinInt64})).Draw(t, label)
}

// subset draws up to two distinct values, nil for none (as the store loads it).
func subset(t *rapid.T, label string, from []string) []string {
	s := rapid.SliceOfNDistinct(rapid.SampledFrom(from), 0, 2, rapid.ID).Draw(t, label)
	if len(s) == 0 {
		return nil
	}
	return s
}

func genRatio(t *rapid.T, label string) program.Ratio {
	if rapid.Bool().Draw(t, label+".set") {
		return ratio(rapid.SampledFrom(propRatios).Draw(t, label))
	}
	return program.Ratio{}
}

func genRate(t *rapid.T, label string) program.Rate {
	return program.Rate{Points: amount(t, label+".points", 0, 10), PerMinor: amount(t, label+".per", 1, 100000)}
}

func genProgram(t *rapid.T) *program.Program {
	p := &program.Program{
		Timezone: rapid.SampledFrom(propZones).Draw(t, "tz"),
		Rounding: rapid.SampledFrom(propRounding).Draw(t, "rounding"),
	}
	for i := range rapid.IntRange(0, 3).Draw(t, "earning") {
		r := program.EarningRule{
			ID: "e" + string(rune('0'+i)), Categories: subset(t, "ecat", propCategories), Currencies: subset(t, "ecur", propCurrencies),
			Rate: genRate(t, "rate"), MinAmountMinor: amount(t, "min", 0, 20000), RecurringOnly: rapid.Bool().Draw(t, "reconly"),
		}
		for range rapid.IntRange(0, 2).Draw(t, "bands") {
			r.Bands = append(r.Bands, program.Band{MinMinor: amount(t, "band", 0, 1_000_000), Rate: genRate(t, "brate")})
		}
		p.Earning = append(p.Earning, r)
	}
	for i := range rapid.IntRange(0, 2).Draw(t, "streaks") {
		p.Streaks = append(p.Streaks, program.StreakRule{ID: "s" + string(rune('0'+i)), Periods: rapid.IntRange(-1, 4).Draw(t, "periods"),
			Bonus: amount(t, "sbonus", 0, 1000), Categories: subset(t, "scat", propCategories)})
	}
	for i := range rapid.IntRange(0, 2).Draw(t, "freq") {
		p.Frequency = append(p.Frequency, program.FrequencyRule{ID: "f" + string(rune('0'+i)), Payments: rapid.IntRange(-1, 5).Draw(t, "payments"),
			Days: rapid.IntRange(-1, 60).Draw(t, "days"), Bonus: amount(t, "fbonus", 0, 1000), Categories: subset(t, "fcat", propCategories)})
	}
	for i := range rapid.IntRange(0, 3).Draw(t, "campaigns") {
		start := t0.Add(time.Duration(rapid.Int64Range(-30*86400, 30*86400).Draw(t, "start")) * time.Second)
		c := program.Campaign{
			ID: "c" + string(rune('0'+rapid.IntRange(0, i).Draw(t, "cid"))), StartsAt: start,
			EndsAt:     start.Add(time.Duration(rapid.Int64Range(0, 40*86400).Draw(t, "len")) * time.Second),
			Categories: subset(t, "ccat", propCategories), Tiers: subset(t, "ctier", propTiers), Tags: subset(t, "ctag", propTags),
			Multiplier: genRatio(t, "cmult"), Bonus: amount(t, "cbonus", 0, 500), Budget: amount(t, "budget", 0, 2000),
			PerMemberMaxPoints: amount(t, "maxpts", 0, 500), PerMemberMaxTimes: amount(t, "maxtimes", 0, 3),
		}
		if rapid.IntRange(0, 5).Draw(t, "open") == 0 {
			c.StartsAt, c.EndsAt = time.Time{}, time.Time{}
		}
		p.Campaigns = append(p.Campaigns, c)
	}
	var threshold int64
	for i := range rapid.IntRange(0, 3).Draw(t, "tiers") {
		if i > 0 {
			threshold += rapid.Int64Range(1, 5000).Draw(t, "threshold")
		}
		p.Tiers = append(p.Tiers, program.Tier{Name: propTiers[i], Threshold: threshold, Multiplier: genRatio(t, "tmult")})
	}
	p.Caps = program.Caps{MemberDaily: amount(t, "daily", 0, 3000), MemberMonthly: amount(t, "monthly", 0, 10000), ProgramMonthly: amount(t, "program", 0, 50000)}
	p.Fraud = program.Fraud{MaxEventsPerHour: rapid.IntRange(0, 4).Draw(t, "events"), MaxPointsPerDay: amount(t, "ppd", 0, 3000)}
	if rapid.Bool().Draw(t, "large") {
		p.Fraud.LargePaymentMinor = map[string]int64{"RUB": amount(t, "largeRUB", 0, 2_000_000)}
	}
	return p
}

func genState(t *rapid.T, p *program.Program, now time.Time) State {
	n := now.Unix()
	day, month := PeriodKeys(p, now)
	st := State{
		Tier: rapid.SampledFrom(append([]string{"", "bronze"}, propTiers...)).Draw(t, "tier"),
		Tags: subset(t, "tags", propTags), Qualifying: amount(t, "qual", 0, 20000),
		Day: rapid.SampledFrom([]string{"", day, "2026-01-01"}).Draw(t, "day"), DayPoints: amount(t, "dayp", -100, 5000),
		Month: rapid.SampledFrom([]string{"", month, "2026-01"}).Draw(t, "month"), MonthPoints: amount(t, "monp", -100, 12000),
	}
	if recent := rapid.SliceOfN(rapid.Int64Range(n-7200, n+60), 0, 6).Draw(t, "recent"); len(recent) > 0 {
		st.RecentEvents = recent
	}
	for range rapid.IntRange(0, 3).Draw(t, "nstreaks") {
		if st.Streaks == nil {
			st.Streaks = map[string]Streak{}
		}
		k := StreakKey(rapid.SampledFrom([]string{"s0", "s1", "gone"}).Draw(t, "srule"), rapid.SampledFrom([]string{"plan-7", "plan-8"}).Draw(t, "ssub"))
		st.Streaks[k] = Streak{LastPeriod: rapid.SampledFrom(propPeriods).Draw(t, "slast"), Count: rapid.IntRange(-1, 7).Draw(t, "scount")}
	}
	for _, id := range []string{"f0", "f1", "gone"} {
		if list := rapid.SliceOfN(rapid.Int64Range(n-70*86400, n+3600), 0, 6).Draw(t, "flist"); len(list) > 0 {
			if st.Frequency == nil {
				st.Frequency = map[string][]int64{}
			}
			st.Frequency[id] = list
		}
	}
	for _, id := range []string{"c0", "c1", "c2", "gone"} {
		if rapid.Bool().Draw(t, "used") {
			if st.Campaigns == nil {
				st.Campaigns = map[string]CampaignUse{}
			}
			st.Campaigns[id] = CampaignUse{Times: amount(t, "utimes", 0, 4), Points: amount(t, "upts", 0, 600)}
		}
	}
	return st
}

func genBudgets(t *rapid.T, month string) Budgets {
	b := Budgets{ProgramMonth: rapid.SampledFrom([]string{"", month, "2026-01"}).Draw(t, "pmonth"), ProgramSpent: amount(t, "pspent", 0, 60000)}
	for _, id := range []string{"c0", "c1", "c2"} {
		if rapid.Bool().Draw(t, "spent") {
			if b.CampaignSpent == nil {
				b.CampaignSpent = map[string]int64{}
			}
			b.CampaignSpent[id] = amount(t, "cspent", 0, 2500)
		}
	}
	return b
}

func genPayment(t *rapid.T) payment.Payment {
	pp := pay(amount(t, "amount", 1, 3_000_000))
	pp.Type = rapid.SampledFrom([]string{payment.TypeSucceeded, payment.TypeSucceeded, payment.TypeSucceeded, payment.TypeRefunded}).Draw(t, "type")
	pp.Currency = rapid.SampledFrom(propCurrencies).Draw(t, "currency")
	pp.Category = rapid.SampledFrom(propCategories).Draw(t, "category")
	pp.Time = t0.Add(time.Duration(rapid.Int64Range(-40*86400, 40*86400).Draw(t, "paytime")) * time.Second)
	if rapid.Bool().Draw(t, "recurring") {
		pp.Recurring = &payment.Recurring{
			SubscriptionID: rapid.SampledFrom([]string{"plan-7", "plan-8", ""}).Draw(t, "sub"),
			Period:         rapid.SampledFrom(propPeriods).Draw(t, "period"),
			DueDate:        rapid.SampledFrom([]string{"2026-10-10", "2026-11-10", "2026-12-31", "2027-01-10", "bad"}).Draw(t, "due"),
		}
	}
	return pp
}

// Deep copies, written independently of the engine's own cloneState.

func copyProgram(p *program.Program) *program.Program {
	c := *p
	c.Earning = slices.Clone(p.Earning)
	for i := range c.Earning {
		r := &c.Earning[i]
		r.Categories, r.Currencies, r.Bands = slices.Clone(r.Categories), slices.Clone(r.Currencies), slices.Clone(r.Bands)
	}
	c.Streaks = slices.Clone(p.Streaks)
	for i := range c.Streaks {
		c.Streaks[i].Categories = slices.Clone(c.Streaks[i].Categories)
	}
	c.Frequency = slices.Clone(p.Frequency)
	for i := range c.Frequency {
		c.Frequency[i].Categories = slices.Clone(c.Frequency[i].Categories)
	}
	c.Campaigns = slices.Clone(p.Campaigns)
	for i := range c.Campaigns {
		x := &c.Campaigns[i]
		x.Categories, x.Tiers, x.Tags, x.Multiplier = slices.Clone(x.Categories), slices.Clone(x.Tiers), slices.Clone(x.Tags), copyRatio(x.Multiplier)
	}
	c.Tiers = slices.Clone(p.Tiers)
	for i := range c.Tiers {
		c.Tiers[i].Multiplier = copyRatio(c.Tiers[i].Multiplier)
	}
	if p.Fraud.LargePaymentMinor != nil {
		c.Fraud.LargePaymentMinor = map[string]int64{}
		for k, v := range p.Fraud.LargePaymentMinor {
			c.Fraud.LargePaymentMinor[k] = v
		}
	}
	return &c
}

func copyRatio(r program.Ratio) program.Ratio {
	if !r.IsSet() {
		return r
	}
	return ratio(r.String())
}

func copyState(s State) State {
	c := s
	c.Tags, c.RecentEvents = slices.Clone(s.Tags), slices.Clone(s.RecentEvents)
	if s.Streaks != nil {
		c.Streaks = map[string]Streak{}
		for k, v := range s.Streaks {
			c.Streaks[k] = v
		}
	}
	if s.Frequency != nil {
		c.Frequency = map[string][]int64{}
		for k, v := range s.Frequency {
			c.Frequency[k] = slices.Clone(v)
		}
	}
	if s.Campaigns != nil {
		c.Campaigns = map[string]CampaignUse{}
		for k, v := range s.Campaigns {
			c.Campaigns[k] = v
		}
	}
	return c
}

func copyBudgets(b Budgets) Budgets {
	c := b
	if b.CampaignSpent != nil {
		c.CampaignSpent = map[string]int64{}
		for k, v := range b.CampaignSpent {
			c.CampaignSpent[k] = v
		}
	}
	return c
}

func copyPayment(p payment.Payment) payment.Payment {
	if p.Recurring != nil {
		r := *p.Recurring
		p.Recurring = &r
	}
	return p
}

// testKeys computes the day and month of now independently of the engine.
func testKeys(tz string, now time.Time) (string, string) {
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "" {
		loc = time.UTC
	}
	t := now.In(loc)
	return t.Format("2006-01-02"), t.Format("2006-01")
}

func TestEvaluateProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genProgram(t)
		pp := genPayment(t)
		now := pp.Time.Add(time.Duration(rapid.Int64Range(0, 3*86400).Draw(t, "delay")) * time.Second)
		st := genState(t, p, now)
		day, month := testKeys(p.Timezone, now)
		b := genBudgets(t, month)

		p2, st2, b2, pp2 := copyProgram(p), copyState(st), copyBudgets(b), copyPayment(pp)
		res := Evaluate(p, st, b, pp, now)

		if !reflect.DeepEqual(p, p2) || !reflect.DeepEqual(st, st2) || !reflect.DeepEqual(b, b2) || !reflect.DeepEqual(pp, pp2) {
			t.Fatal("Evaluate changed its inputs")
		}
		if again := Evaluate(p2, st2, b2, pp2, now); !reflect.DeepEqual(res, again) {
			t.Fatalf("not deterministic:\n%+v\n%+v", res, again)
		}

		var sum int64
		campaignLines := map[string]int64{}
		for _, l := range res.Breakdown {
			sum += l.Points
			if l.Kind == KindCampaign {
				campaignLines[l.Rule] += l.Points
			}
		}
		if sum != res.Points || res.Points < 0 || res.Points > MaxPaymentPoints {
			t.Fatalf("points %d, lines sum %d: %+v", res.Points, sum, res.Breakdown)
		}
		if pp.Type != payment.TypeSucceeded || pp.AmountMinor <= 0 {
			if res.Points != 0 || !reflect.DeepEqual(res.State, st) || res.Held || res.CampaignSpend != nil {
				t.Fatalf("an ignored event changed something: %+v", res)
			}
			return
		}

		// Caps: never above any configured remainder.
		dayUsed, monthUsed, programUsed := st.DayPoints, st.MonthPoints, b.ProgramSpent
		if st.Day != day {
			dayUsed = 0
		}
		if st.Month != month {
			monthUsed = 0
		}
		if b.ProgramMonth != month {
			programUsed = 0
		}
		for _, c := range []struct{ limit, used int64 }{{p.Caps.MemberDaily, dayUsed}, {p.Caps.MemberMonthly, monthUsed}, {p.Caps.ProgramMonthly, programUsed}} {
			if c.limit > 0 && res.Points > max(0, satint.Sub(c.limit, c.used)) {
				t.Fatalf("points %d over cap %d with %d used", res.Points, c.limit, c.used)
			}
		}

		// Campaigns: spend only for budgeted campaigns, within budget and within the
		// campaign's own line; per-member points within their limit.
		for id, spend := range res.CampaignSpend {
			c := campaignByID(p, id)
			if c == nil || c.Budget <= 0 || spend <= 0 || spend > max(0, satint.Sub(c.Budget, b.CampaignSpent[id])) || spend > campaignLines[id] {
				t.Fatalf("campaign %s spend %d (budget %+v, spent %d, line %d)", id, spend, c, b.CampaignSpent[id], campaignLines[id])
			}
		}
		for id, use := range res.State.Campaigns {
			c := campaignByID(p, id)
			if c == nil {
				t.Fatalf("use of unknown campaign %s kept", id)
			}
			old := st.Campaigns[id]
			if got := use.Points - old.Points; got < 0 || got > campaignLines[id] ||
				(c.PerMemberMaxPoints > 0 && got > max(0, satint.Sub(c.PerMemberMaxPoints, old.Points))) {
				t.Fatalf("campaign %s use %+v from %+v (line %d)", id, use, old, campaignLines[id])
			}
			if c.PerMemberMaxTimes > 0 && old.Times >= c.PerMemberMaxTimes && use != old {
				t.Fatalf("campaign %s used past its times limit: %+v → %+v", id, old, use)
			}
		}

		// Tiers and qualifying.
		{
			wantQual := st.Qualifying
			if !res.Held {
				wantQual = satint.Add(wantQual, res.Points)
			}
			if res.State.Qualifying != wantQual {
				t.Fatalf("qualifying %d, want %d (held %v)", res.State.Qualifying, wantQual, res.Held)
			}
			if res.TierChanged != (res.State.Tier != st.Tier) || (res.TierChanged && tierIndex(p, res.State.Tier) <= tierIndex(p, st.Tier)) {
				t.Fatalf("tier %q → %q, changed %v", st.Tier, res.State.Tier, res.TierChanged)
			}
			if p.Caps.ProgramMonthly > 0 != (res.ProgramSpend == res.Points && res.Points > 0) && res.Points > 0 {
				t.Fatalf("program spend %d for points %d", res.ProgramSpend, res.Points)
			}
			if res.State.Day != day || res.State.Month != month {
				t.Fatalf("counters at %s %s, want %s %s", res.State.Day, res.State.Month, day, month)
			}
		}

		// The state stays bounded.
		if len(res.State.RecentEvents) > max(0, p.Fraud.MaxEventsPerHour) {
			t.Fatalf("%d recent events for a limit of %d", len(res.State.RecentEvents), p.Fraud.MaxEventsPerHour)
		}
		if len(res.State.Streaks) > MaxStreaks {
			t.Fatalf("%d streaks", len(res.State.Streaks))
		}
		for id, list := range res.State.Frequency {
			r := frequencyRule(p, id)
			if r == nil || len(list) == 0 || len(list) >= r.Payments {
				t.Fatalf("frequency %s window %v for rule %+v", id, list, r)
			}
		}
	})
}
