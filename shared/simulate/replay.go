package simulate

import (
	"fmt"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// run is the outcome of one program's replay.
type run struct {
	outcomes []Outcome              // by plan step
	states   map[string]rules.State // each member's state at the end
}

// replay runs the plan under program p (nil: every outcome is zero).
func replay(req Request, p *program.Program, pl plan) run {
	out := run{outcomes: make([]Outcome, len(pl.steps))}
	if p == nil {
		return out
	}
	r := replayer{
		p: p, req: req,
		states:     make(map[string]rules.State),
		monthSpent: make(map[string]int64),
		campSpent:  make(map[string]int64),
		earned:     make([]earning, len(req.Payments)),
	}
	for i, s := range pl.steps {
		pay := req.Payments[s.idx]
		if s.orig < 0 {
			out.outcomes[i] = r.accrue(s.idx, pay)
		} else {
			out.outcomes[i] = r.refund(s.orig, pay)
		}
	}
	out.states = r.states
	return out
}

// replayer carries what the store would hold during a replay: member states, the
// program-wide spends and, per payment, what it earned and what was reversed.
type replayer struct {
	p          *program.Program
	req        Request
	states     map[string]rules.State
	monthSpent map[string]int64 // program monthly budget spend by month
	campSpent  map[string]int64 // campaign budget spend by campaign id
	earned     []earning        // by position in Request.Payments
}

// earning is what a payment earned in the replay and what refunds took back.
type earning struct {
	points, refunded, reversed int64
	held                       bool
}

func (r *replayer) state(member string) rules.State {
	if st, ok := r.states[member]; ok {
		return st
	}
	return r.req.Start[member] // rules.Evaluate copies it before any change
}

func (r *replayer) accrue(idx int, pay payment.Payment) Outcome {
	now := r.req.Now(pay)
	_, month := rules.PeriodKeys(r.p, now)
	b := rules.Budgets{ProgramMonth: month, ProgramSpent: r.monthSpent[month], CampaignSpent: r.campSpent}
	res := rules.Evaluate(r.p, r.state(pay.MemberID), b, pay, now)
	r.states[pay.MemberID] = res.State
	if res.ProgramSpend != 0 {
		r.monthSpent[res.State.Month] += res.ProgramSpend
	}
	for id, n := range res.CampaignSpend {
		r.campSpent[id] += n
	}
	r.earned[idx] = earning{points: res.Points, held: res.Held}
	return Outcome{
		Points: res.Points, Held: res.Held, HoldReasons: res.HoldReasons, Breakdown: res.Breakdown,
		Tier: tierName(r.p, res.State.Tier), TierChanged: res.TierChanged,
	}
}

// refund reverses what ledger.Reverse would: floor(points × refunded_total /
// amount) − already reversed, and lowers qualifying points unless the payment
// was held. The plan has already checked currency and total.
func (r *replayer) refund(orig int, pay payment.Payment) Outcome {
	e := &r.earned[orig]
	amount := r.req.Payments[orig].AmountMinor
	n := ledger.ReversalNeeded(&ledger.Entry{
		Points: e.points, PaymentRef: ledger.PaymentRef{AmountMinor: amount},
		RefundedMinor: e.refunded, Reversed: e.reversed,
	}, pay.AmountMinor)
	line := rules.Line{
		Kind: rules.KindReverse, Rule: pay.RefundOf, Points: -n,
		Detail: fmt.Sprintf("floor(%d × %d / %d) − %d already reversed",
			e.points, e.refunded+pay.AmountMinor, amount, e.reversed),
	}
	e.refunded += pay.AmountMinor
	e.reversed += n
	st := r.state(pay.MemberID)
	if !e.held {
		st.Qualifying = max(st.Qualifying-n, 0)
	}
	r.states[pay.MemberID] = st
	return Outcome{Points: -n, Breakdown: []rules.Line{line}, Tier: tierName(r.p, st.Tier)}
}

// tierName is the member's effective tier: the named one when the program has
// it, else the first tier (as rules.Evaluate reads State.Tier); "" without tiers.
func tierName(p *program.Program, name string) string {
	if p == nil || len(p.Tiers) == 0 {
		return ""
	}
	if p.TierIndex(name) >= 0 {
		return name
	}
	return p.Tiers[0].Name
}
