package simulate

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

type simCase struct {
	name              string
	current, proposed *program.Program
	payments          []payment.Payment
	start             map[string]rules.State
	now               func(payment.Payment) time.Time

	order     []string // payment ids in replay order
	points    []pts    // (current, proposed) per replayed payment
	total     pts
	liability [3]string // current, proposed, delta in whole minor units ("" = no delta)
	skipped   []string  // "index:reason"
	dups      []int
	check     func(t *testing.T, res Result)
}

func TestRun(t *testing.T) {
	base := func(t *testing.T) *program.Program { return prog(t, rate(1, 100)) }
	var cases []simCase
	add := func(c ...simCase) { cases = append(cases, c...) }

	add(simCase{
		name:     "different rates and point values",
		current:  base(t),
		proposed: prog(t, rate(3, 200), pointValue("0.25", "RUB")),
		payments: []payment.Payment{
			pay("m1", "p3", 999, at(2)),
			pay("m1", "p1", 10000, at(0)),
			pay("m1", "p2", 12345, at(1)),
		},
		order:     []string{"p1", "p2", "p3"},
		points:    []pts{{100, 150}, {123, 185}, {9, 14}}, // 185.175 and 14.985 floored
		total:     pts{232, 349},
		liability: [3]string{"116", "87", "-29"},
	}, simCase{
		name:      "same point value: delta × value",
		current:   base(t),
		proposed:  prog(t, rate(3, 200)),
		payments:  []payment.Payment{pay("m1", "p1", 10000, at(0)), pay("m1", "p2", 12345, at(1)), pay("m1", "p3", 999, at(2))},
		points:    []pts{{100, 150}, {123, 185}, {9, 14}},
		total:     pts{232, 349},
		liability: [3]string{"116", "174", "58"},
	}, simCase{
		name:    "bands: the whole amount earns at the band reached",
		current: base(t),
		proposed: prog(t, rate(1, 100), func(p *program.Program) {
			p.Earning[0].Bands = []program.Band{{MinMinor: 20000, Rate: rate(2, 100)}}
		}),
		payments:  []payment.Payment{pay("m1", "p1", 10000, at(0)), pay("m1", "p2", 20000, at(1))},
		points:    []pts{{100, 100}, {200, 400}},
		total:     pts{300, 500},
		liability: [3]string{"150", "250", "100"},
	}, simCase{
		name:     "tier upgrade during the replay raises later payments",
		current:  base(t),
		proposed: prog(t, rate(1, 100), tiers(tier("base", 0, "1"), tier("gold", 200, "2"))),
		payments: []payment.Payment{
			pay("m1", "c", 10000, at(2)), pay("m1", "b", 10000, at(1)), pay("m1", "a", 15000, at(0)),
		},
		order:     []string{"a", "b", "c"},
		points:    []pts{{150, 150}, {100, 100}, {100, 200}}, // b crosses 200 at base, c earns at gold
		total:     pts{350, 450},
		liability: [3]string{"175", "225", "50"},
		check: func(t *testing.T, res Result) {
			b := res.Payments[1].Proposed
			if !b.TierChanged || b.Tier != "gold" || res.Payments[0].Proposed.Tier != "base" {
				t.Errorf("tiers: a %+v, b %+v", res.Payments[0].Proposed, b)
			}
			m := res.Members[0]
			if m.CurrentTier != "" || m.ProposedTier != "gold" {
				t.Errorf("member tiers %q / %q", m.CurrentTier, m.ProposedTier)
			}
		},
	}, simCase{
		name:      "start state: a gold member earns at gold from the first payment",
		current:   base(t),
		proposed:  prog(t, rate(1, 100), tiers(tier("base", 0, "1"), tier("gold", 200, "2"))),
		start:     startState(rules.State{Tier: "gold", Qualifying: 500}),
		payments:  []payment.Payment{pay("m1", "p1", 10000, at(0)), pay("m2", "p1", 10000, at(0))},
		points:    []pts{{100, 200}, {100, 100}},
		total:     pts{200, 300},
		liability: [3]string{"100", "150", "50"},
	}, simCase{
		name:     "program monthly budget runs out mid-replay, next month is fresh",
		current:  base(t),
		proposed: prog(t, rate(1, 100), func(p *program.Program) { p.Caps.ProgramMonthly = 250 }),
		payments: []payment.Payment{
			pay("m1", "p1", 10000, at(0)), pay("m2", "p2", 10000, at(0, 1)), pay("m3", "p3", 10000, at(0, 2)),
			pay("m4", "p4", 10000, at(0, 3)), pay("m1", "p5", 10000, at(30)),
		},
		points:    []pts{{100, 100}, {100, 100}, {100, 50}, {100, 0}, {100, 100}},
		total:     pts{500, 350},
		liability: [3]string{"250", "175", "-75"},
		check: func(t *testing.T, res Result) {
			bd := res.Payments[2].Proposed.Breakdown
			if last := bd[len(bd)-1]; last.Kind != rules.KindCap || last.Rule != rules.CapProgramMonthly || last.Points != -50 {
				t.Errorf("p3 breakdown %+v", bd)
			}
		},
	}, simCase{
		name:    "campaign budget is shared across members",
		current: base(t),
		proposed: prog(t, rate(1, 100), func(p *program.Program) {
			p.Campaigns = []program.Campaign{{ID: "promo", StartsAt: at(-1), EndsAt: at(10), Bonus: 50, Budget: 120}}
		}),
		payments:  []payment.Payment{pay("m1", "p1", 10000, at(0)), pay("m2", "p2", 10000, at(0, 1)), pay("m3", "p3", 10000, at(0, 2))},
		points:    []pts{{100, 150}, {100, 150}, {100, 120}},
		total:     pts{300, 420},
		liability: [3]string{"150", "210", "60"},
	}, simCase{
		name:    "accrual time from Now: both payments count in one day's cap",
		current: base(t),
		proposed: prog(t, rate(1, 100), func(p *program.Program) {
			p.Caps.MemberDaily = 150
		}),
		now:       func(payment.Payment) time.Time { return t0 },
		payments:  []payment.Payment{pay("m1", "p1", 10000, at(0)), pay("m1", "p2", 10000, at(1))},
		points:    []pts{{100, 100}, {100, 50}},
		total:     pts{200, 150},
		liability: [3]string{"100", "75", "-25"},
	}, simCase{
		name:    "streak bonuses from Recurring; a late period resets",
		current: base(t),
		proposed: prog(t, rate(1, 100), func(p *program.Program) {
			p.Streaks = []program.StreakRule{{ID: "on-time-3", Periods: 3, Bonus: 500}}
		}),
		payments: []payment.Payment{
			monthly("m1", "sep", 10000, time.Date(2026, 9, 5, 10, 0, 0, 0, time.UTC), "2026-09", "2026-09-10"),
			monthly("m1", "oct", 10000, time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC), "2026-10", "2026-10-10"),
			monthly("m1", "nov", 10000, time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC), "2026-11", "2026-11-10"),
			monthly("m1", "dec", 10000, time.Date(2026, 12, 15, 10, 0, 0, 0, time.UTC), "2026-12", "2026-12-10"),
			monthly("m1", "jan", 10000, time.Date(2027, 1, 5, 10, 0, 0, 0, time.UTC), "2027-01", "2027-01-10"),
			monthly("m1", "feb", 10000, time.Date(2027, 2, 5, 10, 0, 0, 0, time.UTC), "2027-02", "2027-02-10"),
			monthly("m1", "mar", 10000, time.Date(2027, 3, 5, 10, 0, 0, 0, time.UTC), "2027-03", "2027-03-10"),
		},
		points:    []pts{{100, 100}, {100, 100}, {100, 600}, {100, 100}, {100, 100}, {100, 100}, {100, 600}},
		total:     pts{700, 1700},
		liability: [3]string{"350", "850", "500"},
	}, simCase{
		name:     "partial and full refunds, a refund before its payment, unknown and excess refunds",
		current:  base(t),
		proposed: prog(t, rate(3, 200)),
		payments: []payment.Payment{
			refund("m1", "r2", "p1", 6667, at(0, 2)),
			refund("m1", "r1", "p1", 3333, at(0, 1)),
			pay("m1", "p1", 10000, at(0)),
			refund("m1", "rx", "nope", 100, at(0, 3)),
			refund("m1", "early", "p2", 5000, at(-1)), // dated before its payment
			pay("m1", "p2", 10000, at(0, 4)),
			refund("m1", "over", "p2", 6000, at(0, 5)),
		},
		order: []string{"p1", "r1", "r2", "p2", "early"},
		// r1: floor(100×3333/10000)=33, floor(150×3333/10000)=49; r2 reverses the rest.
		points:    []pts{{100, 150}, {-33, -49}, {-67, -101}, {100, 150}, {-50, -75}},
		total:     pts{50, 75},
		liability: [3]string{"25", "38", "13"},
		skipped:   []string{"3:unknown_payment", "6:exceeds_payment"},
		check: func(t *testing.T, res Result) {
			want := rules.Line{Kind: "reverse", Rule: "p1", Points: -49, Detail: "floor(150 × 3333 / 10000) − 0 already reversed"}
			if got := res.Payments[1].Proposed.Breakdown; !reflect.DeepEqual(got, []rules.Line{want}) {
				t.Errorf("r1 breakdown %+v", got)
			}
		},
	}, simCase{
		name:     "refunds of another member's payment or in another currency are skipped",
		current:  base(t),
		proposed: prog(t, rate(2, 100)),
		payments: func() []payment.Payment {
			usd := refund("m1", "r2", "p1", 100, at(0, 2))
			usd.Currency = "USD"
			return []payment.Payment{pay("m1", "p1", 10000, at(0)), refund("m2", "r1", "p1", 100, at(0, 1)), usd}
		}(),
		points:    []pts{{100, 200}},
		total:     pts{100, 200},
		liability: [3]string{"50", "100", "50"},
		skipped:   []string{"1:unknown_payment", "2:currency_mismatch"},
	}, simCase{
		name:     "a refund lowers qualifying points, delaying the upgrade",
		current:  base(t),
		proposed: prog(t, rate(1, 100), tiers(tier("base", 0, "1"), tier("gold", 200, "2"))),
		payments: []payment.Payment{
			pay("m1", "a", 15000, at(0)), refund("m1", "ra", "a", 15000, at(0, 1)),
			pay("m1", "b", 10000, at(1)), pay("m1", "c", 10000, at(2)), pay("m1", "d", 10000, at(3)),
		},
		points:    []pts{{150, 150}, {-150, -150}, {100, 100}, {100, 100}, {100, 200}},
		total:     pts{300, 400},
		liability: [3]string{"150", "200", "50"},
	}, simCase{
		name:    "held payments: flagged, and their refund leaves qualifying alone",
		current: base(t),
		proposed: prog(t, rate(1, 100), tiers(tier("base", 0, "1"), tier("gold", 200, "2")), func(p *program.Program) {
			p.Fraud.LargePaymentMinor = map[string]int64{"RUB": 50000}
		}),
		payments: []payment.Payment{
			pay("m1", "b", 15000, at(0)), pay("m1", "h", 60000, at(0, 1)), refund("m1", "rh", "h", 60000, at(0, 2)),
			pay("m1", "c", 5000, at(1)), pay("m1", "d", 10000, at(2)),
		},
		points:    []pts{{150, 150}, {600, 600}, {-600, -600}, {50, 50}, {100, 200}},
		total:     pts{300, 400},
		liability: [3]string{"150", "200", "50"},
		check: func(t *testing.T, res Result) {
			h := res.Payments[1]
			if h.Current.Held || !h.Proposed.Held || !reflect.DeepEqual(h.Proposed.HoldReasons, []string{"large_payment"}) {
				t.Errorf("held flags: %+v", h)
			}
		},
	}, simCase{
		name:     "duplicates count once; the same payment id of another member is not one",
		current:  base(t),
		proposed: prog(t, rate(2, 100)),
		payments: []payment.Payment{
			pay("m1", "p1", 10000, at(0)), pay("m1", "p1", 10000, at(0)), pay("m2", "p1", 10000, at(0)),
			refund("m1", "r1", "p1", 5000, at(0, 1)), refund("m1", "r1", "p1", 5000, at(0, 1)),
		},
		points:    []pts{{100, 200}, {100, 200}, {-50, -100}},
		total:     pts{150, 300},
		liability: [3]string{"75", "150", "75"},
		dups:      []int{1, 4},
		check: func(t *testing.T, res Result) {
			want := []MemberTotals{
				{MemberID: "m1", Current: 50, Proposed: 100, Delta: 50},
				{MemberID: "m2", Current: 100, Proposed: 200, Delta: 100},
			}
			if !reflect.DeepEqual(res.Members, want) {
				t.Errorf("members %+v", res.Members)
			}
			if d := res.Duplicates[0]; d.Reason != ReasonDuplicate || !strings.Contains(d.Detail, "payments[0]") {
				t.Errorf("duplicate %+v", d)
			}
		},
	}, simCase{
		name:      "nil current: current is 0, liability in the proposed currency",
		proposed:  prog(t, rate(1, 100)),
		payments:  []payment.Payment{pay("m1", "p1", 10000, at(0))},
		points:    []pts{{0, 100}},
		total:     pts{0, 100},
		liability: [3]string{"0", "50", "50"},
		check: func(t *testing.T, res Result) {
			if res.CurrentLiability.Currency != "RUB" || res.Payments[0].Current.Breakdown != nil {
				t.Errorf("current %+v / %+v", res.CurrentLiability, res.Payments[0].Current)
			}
		},
	}, simCase{
		name:      "point values in different currencies: no delta, a note",
		current:   base(t),
		proposed:  prog(t, rate(1, 100), pointValue("0.01", "USD")),
		payments:  []payment.Payment{pay("m1", "p1", 10000, at(0))},
		points:    []pts{{100, 100}},
		total:     pts{100, 100},
		liability: [3]string{"50", "1", ""},
		check: func(t *testing.T, res Result) {
			if res.CurrentLiability.Currency != "RUB" || res.ProposedLiability.Currency != "USD" || !strings.Contains(res.LiabilityNote, "different currencies") {
				t.Errorf("liability %+v %+v %q", res.CurrentLiability, res.ProposedLiability, res.LiabilityNote)
			}
		},
	}, simCase{
		name:      "no payments",
		current:   base(t),
		proposed:  prog(t, rate(2, 100)),
		liability: [3]string{"0", "0", "0"},
	})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := append([]payment.Payment(nil), c.payments...)
			res, err := Run(Request{Current: c.current, Proposed: c.proposed, Payments: c.payments, Start: c.start, Now: c.now})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(before, c.payments) {
				t.Error("Run changed its input payments")
			}
			checkCase(t, c, res)
			checkLinesSum(t, res)
			if c.check != nil {
				c.check(t, res)
			}
		})
	}
}

func checkCase(t *testing.T, c simCase, res Result) {
	t.Helper()
	var got []pts
	var ids []string
	for _, p := range res.Payments {
		got = append(got, pts{p.Current.Points, p.Proposed.Points})
		ids = append(ids, p.PaymentID)
		if p.Delta != p.Proposed.Points-p.Current.Points {
			t.Errorf("%s: delta %d", p.PaymentID, p.Delta)
		}
	}
	if !reflect.DeepEqual(got, c.points) {
		t.Errorf("points (current, proposed) = %v, want %v (order %v)", got, c.points, ids)
	}
	if c.order != nil && !reflect.DeepEqual(ids, c.order) {
		t.Errorf("replay order %v, want %v", ids, c.order)
	}
	if (pts{res.Current, res.Proposed}) != c.total || res.Delta != c.total[1]-c.total[0] {
		t.Errorf("totals %d / %d, delta %d; want %v", res.Current, res.Proposed, res.Delta, c.total)
	}
	gotL := [3]string{strconv.FormatInt(res.CurrentLiability.AmountMinor, 10), strconv.FormatInt(res.ProposedLiability.AmountMinor, 10), ""}
	if res.LiabilityDelta != nil {
		gotL[2] = strconv.FormatInt(res.LiabilityDelta.AmountMinor, 10)
	}
	if gotL != c.liability {
		t.Errorf("liability %q, want %q", gotL, c.liability)
	}
	var skipped []string
	for _, s := range res.Skipped {
		skipped = append(skipped, strconv.Itoa(s.Index)+":"+s.Reason)
	}
	if !reflect.DeepEqual(skipped, c.skipped) {
		t.Errorf("skipped %v, want %v", skipped, c.skipped)
	}
	var dups []int
	for _, d := range res.Duplicates {
		dups = append(dups, d.Index)
	}
	if !reflect.DeepEqual(dups, c.dups) {
		t.Errorf("duplicates %v, want %v", dups, c.dups)
	}
}

func TestStartNotModified(t *testing.T) {
	p := prog(t, rate(1, 100), tiers(tier("base", 0, "1"), tier("gold", 100, "2")), func(p *program.Program) {
		p.Streaks = []program.StreakRule{{ID: "s", Periods: 2, Bonus: 10}}
	})
	start := map[string]rules.State{"m1": {Tags: []string{"vip"}, Qualifying: 50,
		Streaks: map[string]rules.Streak{rules.StreakKey("s", "plan-7"): {LastPeriod: "2026-10", Count: 1}}}}
	want := map[string]rules.State{"m1": {Tags: []string{"vip"}, Qualifying: 50,
		Streaks: map[string]rules.Streak{rules.StreakKey("s", "plan-7"): {LastPeriod: "2026-10", Count: 1}}}}
	pays := []payment.Payment{
		monthly("m1", "p1", 10000, at(0), "2026-11", "2026-11-10"),
		refund("m1", "r1", "p1", 10000, at(1)),
	}
	res, err := Run(Request{Current: p, Proposed: p, Payments: pays, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(start, want) {
		t.Errorf("Start changed: %+v", start)
	}
	if got := res.Payments[0].Proposed.Points; got != 110 { // streak of 2 from the start state
		t.Errorf("points %d, want 110", got)
	}
}

func TestInputErrors(t *testing.T) {
	p := prog(t, rate(1, 100))
	good := pay("m1", "p1", 100, at(0))
	with := func(f func(*payment.Payment)) []payment.Payment {
		bad := good
		f(&bad)
		return []payment.Payment{good, good, bad}
	}
	for _, c := range []struct {
		name     string
		req      Request
		index    int
		field    string
		contains string
	}{
		{"nil proposed", Request{Current: p}, -1, "proposed", "required"},
		{"too many", Request{Proposed: p, Payments: make([]payment.Payment, MaxPayments+1)}, -1, "payments", "10001 payments, at most 10000"},
		{"type", Request{Proposed: p, Payments: with(func(x *payment.Payment) { x.Type = "payment.failed" })}, 2, "payments[2].type", `"payment.failed"`},
		{"member", Request{Proposed: p, Payments: with(func(x *payment.Payment) { x.MemberID = "" })}, 2, "payments[2].member_id", "required"},
		{"payment id", Request{Proposed: p, Payments: with(func(x *payment.Payment) { x.PaymentID = "" })}, 2, "payments[2].payment_id", "required"},
		{"amount", Request{Proposed: p, Payments: with(func(x *payment.Payment) { x.AmountMinor = -5 })}, 2, "payments[2].amount_minor", "-5"},
		{"currency", Request{Proposed: p, Payments: with(func(x *payment.Payment) { x.Currency = "" })}, 2, "payments[2].currency", "required"},
		{"time", Request{Proposed: p, Payments: with(func(x *payment.Payment) { x.Time = time.Time{} })}, 2, "payments[2].time", "required"},
		{"refund without refund_of", Request{Proposed: p, Payments: with(func(x *payment.Payment) { x.Type = payment.TypeRefunded })}, 2, "payments[2].refund_of", "required"},
		{"refund of itself", Request{Proposed: p, Payments: with(func(x *payment.Payment) { x.Type, x.RefundOf = payment.TypeRefunded, x.PaymentID })}, 2, "payments[2].refund_of", "distinct"},
		{"refund_of on a payment", Request{Proposed: p, Payments: with(func(x *payment.Payment) { x.RefundOf = "p0" })}, 2, "payments[2].refund_of", "only for"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Run(c.req)
			ie, ok := err.(*InputError)
			if !ok {
				t.Fatalf("err = %v, want *InputError", err)
			}
			if ie.Index != c.index || ie.Field != c.field || !strings.Contains(ie.Error(), c.contains) {
				t.Errorf("got %+v (%q), want index %d field %s containing %q", ie, ie.Error(), c.index, c.field, c.contains)
			}
		})
	}
	if _, err := Run(Request{Proposed: p, Payments: make([]payment.Payment, MaxPayments)}); err == nil || !strings.Contains(err.Error(), "payments[0].type") {
		t.Errorf("MaxPayments zero payments: %v", err)
	}
}
