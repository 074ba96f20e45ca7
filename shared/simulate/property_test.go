package simulate

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

var (
	propMembers    = []string{"m1", "m2", "m3"}
	propCategories = []string{"telecom", "utilities", "retail"}
	propValues     = []string{"0.5", "1", "0.25", "0.001", "3", "0.333333333"}
	propMonths     = []string{"2026-09", "2026-10", "2026-11", "2026-12", "2027-01"}
)

// genProgram draws a valid program; withBudgets adds a program monthly budget and
// budgeted campaigns.
func genProgram(t *rapid.T, withBudgets bool) *program.Program {
	p := &program.Program{
		Name:       "Prop",
		Timezone:   rapid.SampledFrom([]string{"", "Europe/Moscow", "America/New_York"}).Draw(t, "tz"),
		Rounding:   rapid.SampledFrom([]string{"", "floor", "round_half_up", "ceil"}).Draw(t, "rounding"),
		PointValue: program.PointValue{Minor: program.MustRatio(rapid.SampledFrom(propValues).Draw(t, "value")), Currency: "RUB"},
		Earning: []program.EarningRule{{
			ID:   "base",
			Rate: rate(rapid.Int64Range(0, 5).Draw(t, "points"), rapid.Int64Range(1, 1000).Draw(t, "per")),
		}},
		PendingDays: rapid.SampledFrom([]int{0, 0, 14}).Draw(t, "pending"),
	}
	if rapid.Bool().Draw(t, "band") {
		p.Earning[0].Bands = []program.Band{{MinMinor: rapid.Int64Range(1, 100000).Draw(t, "bandmin"), Rate: rate(rapid.Int64Range(0, 9).Draw(t, "bandpts"), 100)}}
	}
	if rapid.Bool().Draw(t, "tiers") {
		p.Tiers = []program.Tier{tier("base", 0, "1"), tier("gold", rapid.Int64Range(1, 3000).Draw(t, "gold"), rapid.SampledFrom([]string{"1.5", "2", "0.5"}).Draw(t, "gmult"))}
		p.QualifyingWindowDays = 365
	}
	if rapid.Bool().Draw(t, "streak") {
		p.Streaks = []program.StreakRule{{ID: "s", Periods: rapid.IntRange(1, 3).Draw(t, "periods"), Bonus: rapid.Int64Range(1, 500).Draw(t, "sbonus")}}
	}
	if rapid.Bool().Draw(t, "freq") {
		p.Frequency = []program.FrequencyRule{{ID: "f", Payments: rapid.IntRange(2, 4).Draw(t, "fpay"), Days: 30, Bonus: 50}}
	}
	if rapid.Bool().Draw(t, "campaign") {
		c := program.Campaign{ID: "c", StartsAt: at(-20), EndsAt: at(rapid.IntRange(-10, 40).Draw(t, "cend")),
			PerMemberMaxTimes: rapid.Int64Range(0, 3).Draw(t, "ctimes")}
		if rapid.Bool().Draw(t, "cbonus") {
			c.Bonus = rapid.Int64Range(1, 300).Draw(t, "bonus")
		} else {
			c.Multiplier = program.MustRatio(rapid.SampledFrom([]string{"1.5", "2", "3"}).Draw(t, "cmult"))
		}
		if withBudgets {
			c.Budget = rapid.Int64Range(0, 2000).Draw(t, "cbudget")
		}
		p.Campaigns = []program.Campaign{c}
	}
	p.Caps.MemberDaily = rapid.SampledFrom([]int64{0, 0, 500, 3000}).Draw(t, "daily")
	if withBudgets {
		p.Caps.ProgramMonthly = rapid.SampledFrom([]int64{0, 1000, 10000}).Draw(t, "monthly")
	}
	if rapid.Bool().Draw(t, "fraud") {
		p.Fraud = program.Fraud{MaxEventsPerHour: rapid.IntRange(0, 2).Draw(t, "eph"), LargePaymentMinor: map[string]int64{"RUB": rapid.Int64Range(1, 200000).Draw(t, "large")}}
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("generator made an invalid program: %v", err)
	}
	return p
}

// genPayments draws payments of members (distinct ones have distinct keys), refunds
// of them or of unknown payments, and exact duplicates.
func genPayments(t *rapid.T, members []string) []payment.Payment {
	var out []payment.Payment
	var paid []payment.Payment
	for i := range rapid.IntRange(0, 30).Draw(t, "n") {
		when := t0.Add(time.Duration(rapid.Int64Range(-40*86400, 40*86400).Draw(t, "time")) * time.Second)
		member := rapid.SampledFrom(members).Draw(t, "member")
		id := fmt.Sprintf("x%d", i)
		switch kind := rapid.IntRange(0, 9).Draw(t, "kind"); {
		case kind < 6 || len(paid) == 0:
			if len(paid) > 0 && rapid.IntRange(0, 4).Draw(t, "sameid") == 0 {
				id = rapid.SampledFrom(paid).Draw(t, "other").PaymentID // same id, maybe another member
			}
			p := pay(member, id, rapid.Int64Range(1, 300000).Draw(t, "amount"), when)
			p.Category = rapid.SampledFrom(propCategories).Draw(t, "cat")
			if rapid.Bool().Draw(t, "recurring") {
				m := rapid.SampledFrom(propMonths).Draw(t, "period")
				p.Recurring = &payment.Recurring{SubscriptionID: "plan", Period: m, DueDate: m + "-10"}
			}
			if slices.ContainsFunc(out, func(q payment.Payment) bool { return q.MemberID == p.MemberID && q.PaymentID == p.PaymentID }) {
				continue // keep distinct payments distinct: duplicates are exact copies below
			}
			out, paid = append(out, p), append(paid, p)
		case kind < 9:
			of := rapid.SampledFrom(paid).Draw(t, "of")
			if rapid.IntRange(0, 5).Draw(t, "unknown") == 0 {
				of.PaymentID = "unknown"
			}
			r := refund(of.MemberID, "r"+id, of.PaymentID, rapid.Int64Range(1, max(of.AmountMinor, 1)).Draw(t, "ramount"), when)
			out = append(out, r)
		default:
			out = append(out, rapid.SampledFrom(out).Draw(t, "dup"))
		}
	}
	return out
}

func TestPropertySameProgramNoDelta(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genProgram(t, true)
		res, err := Run(Request{Current: p, Proposed: p, Payments: genPayments(t, propMembers)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Delta != 0 || res.Current != res.Proposed {
			t.Fatalf("delta %d (%d vs %d)", res.Delta, res.Current, res.Proposed)
		}
		if res.LiabilityDelta == nil || res.LiabilityDelta.AmountMinor != 0 || res.CurrentLiability != res.ProposedLiability {
			t.Fatalf("liability %+v / %+v, delta %+v", res.CurrentLiability, res.ProposedLiability, res.LiabilityDelta)
		}
		for _, pr := range res.Payments {
			if pr.Delta != 0 || !reflect.DeepEqual(pr.Current, pr.Proposed) {
				t.Fatalf("payment %s: %+v vs %+v", pr.PaymentID, pr.Current, pr.Proposed)
			}
		}
		for _, m := range res.Members {
			if m.Delta != 0 || m.CurrentTier != m.ProposedTier {
				t.Fatalf("member %+v", m)
			}
		}
	})
}

func TestPropertyTotals(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cur, prop := genProgram(t, true), genProgram(t, true)
		if rapid.IntRange(0, 4).Draw(t, "nilcur") == 0 {
			cur = nil
		}
		pays := genPayments(t, propMembers)
		res, err := Run(Request{Current: cur, Proposed: prop, Payments: pays})
		if err != nil {
			t.Fatal(err)
		}
		var sum MemberTotals
		for _, m := range res.Members {
			sum.Current += m.Current
			sum.Proposed += m.Proposed
			if m.Delta != m.Proposed-m.Current {
				t.Fatalf("member %+v", m)
			}
		}
		if sum.Current != res.Current || sum.Proposed != res.Proposed || res.Delta != res.Proposed-res.Current {
			t.Fatalf("members sum to %d / %d, totals %d / %d", sum.Current, sum.Proposed, res.Current, res.Proposed)
		}
		if n := len(res.Payments) + len(res.Duplicates) + len(res.Skipped); n != len(pays) {
			t.Fatalf("%d payments accounted for, %d given", n, len(pays))
		}
		// Per payment: accruals >= 0, refunds <= 0, and never more reversed than earned.
		net := map[[2]string][2]int64{}
		for _, pr := range res.Payments {
			key := [2]string{pr.MemberID, pr.PaymentID}
			if pr.Type == payment.TypeRefunded {
				key[1] = pr.RefundOf
				if pr.Current.Points > 0 || pr.Proposed.Points > 0 {
					t.Fatalf("refund %+v", pr)
				}
			} else if pr.Current.Points < 0 || pr.Proposed.Points < 0 {
				t.Fatalf("accrual %+v", pr)
			}
			n := net[key]
			net[key] = [2]int64{n[0] + pr.Current.Points, n[1] + pr.Proposed.Points}
			if n := net[key]; n[0] < 0 || n[1] < 0 {
				t.Fatalf("%v: reversed more than earned: %v", key, n)
			}
		}
		if cur == nil && (res.Current != 0 || res.CurrentLiability.AmountMinor != 0) {
			t.Fatalf("nil current: %d, %+v", res.Current, res.CurrentLiability)
		}

		// Input order does not matter (distinct payments have distinct keys and
		// duplicates are exact copies), and the output is deterministic.
		shuffled := rapid.Permutation(pays).Draw(t, "shuffled")
		again, err := Run(Request{Current: cur, Proposed: prop, Payments: shuffled})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(withoutIndexes(res), withoutIndexes(again)) {
			t.Fatalf("shuffled input changed the result:\n%+v\n%+v", withoutIndexes(res), withoutIndexes(again))
		}
	})
}

// withoutIndexes drops what depends on input positions: indexes and the list of
// duplicates (which copy is first), and sorts skipped payments by content.
func withoutIndexes(r Result) Result {
	r.Payments = slices.Clone(r.Payments)
	for i := range r.Payments {
		r.Payments[i].Index = 0
	}
	r.Duplicates = nil
	r.Skipped = slices.Clone(r.Skipped)
	for i := range r.Skipped {
		r.Skipped[i].Index = 0
	}
	slices.SortFunc(r.Skipped, func(a, b Ignored) int {
		return compareStrings(a.MemberID+"|"+a.PaymentID+"|"+a.Reason, b.MemberID+"|"+b.PaymentID+"|"+b.Reason)
	})
	return r
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestPropertyMatchesLedger replays one member's payments (programs without
// program-wide budgets, so none is needed) through rules.Evaluate, ledger.Accrue and
// ledger.Reverse, in the simulation's replay order, and requires the same points,
// held flags and tiers.
func TestPropertyMatchesLedger(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genProgram(t, false)
		pays := genPayments(t, []string{"m1"})
		start := rules.State{Tags: []string{"vip"}}
		res, err := Run(Request{Proposed: p, Payments: pays, Start: map[string]rules.State{"m1": start}})
		if err != nil {
			t.Fatal(err)
		}
		m := ledger.NewMember("telco", "m1", nil, t0)
		m.Rules = start
		entries := map[string]*ledger.Entry{}
		for i, pr := range res.Payments {
			pay := pays[pr.Index]
			var points int64
			var held bool
			if pay.Type == payment.TypeSucceeded {
				_, month := rules.PeriodKeys(p, pay.Time)
				r := rules.Evaluate(p, m.Rules, rules.Budgets{ProgramMonth: month}, pay, pay.Time)
				e := ledger.Accrue(&m, p, pay, r, pay.Time)
				entries[pay.PaymentID] = &e
				points, held = e.Points, r.Held
			} else {
				rev, err := ledger.Reverse(&m, entries[pay.RefundOf], nil, pay, pay.Time)
				if err != nil {
					t.Fatalf("step %d: ledger refused a replayed refund: %v", i, err)
				}
				points = rev.Entry.Points
			}
			got := pr.Proposed
			if got.Points != points || got.Held != held || got.Tier != tierName(p, m.Rules.Tier) {
				t.Fatalf("step %d (%s %s): simulate %+v, ledger %d points held=%v tier %q",
					i, pay.Type, pay.PaymentID, got, points, held, tierName(p, m.Rules.Tier))
			}
		}
		// The refunds the simulation skipped are those the ledger refuses.
		for _, s := range res.Skipped {
			if s.Reason == ReasonExceedsPayment {
				if _, err := ledger.Reverse(&m, entries[s.RefundOf], nil, pays[s.Index], t0); err == nil {
					t.Fatalf("ledger accepts skipped refund %+v", s)
				}
			}
		}
	})
}
