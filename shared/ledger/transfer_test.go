package ledger

import (
	"errors"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// transferProgram: transfers on, 10 to 500 points each, 1000 a day per
// sender, days counted in Moscow (UTC+3).
func transferProgram(t *testing.T, transfers string) *program.Program {
	t.Helper()
	p, err := program.Parse([]byte(`{
	  "name": "Family", "timezone": "Europe/Moscow",
	  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 100}}],
	  "expiry": {"rolling_days": 365},
	  "point_value": {"minor": "1", "currency": "RUB"},
	  "transfers": ` + transfers + `
	}`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const familyTransfers = `{"enabled": true, "min_points": 10, "max_points": 500, "member_daily": 1000}`

func TestTransfer(t *testing.T) {
	p := transferProgram(t, familyTransfers)
	type setup struct{ from, to *book }
	cases := []struct {
		name  string
		prog  *program.Program
		setup func(s setup)
		req   TransferRequest
		now   time.Time
		// Points already spent of the sender's lots (expiring in 10 days,
		// 30 days, never), and debt of each member (a clawback's).
		fromSpent        [3]int64
		fromDebt, toDebt int64
		wantErr          error
		// What a successful transfer leaves: the receiver's lot (remaining,
		// expiry), the sender's lots' remaining in booking order, and the
		// sender's points sent that day.
		lotRemaining int64
		lotExpires   *time.Time
		fromLots     []int64
		sentOnDay    int64
	}{
		{name: "earliest expiry first; the receiver's lot expires with the earliest lot taken",
			req: TransferRequest{Points: 120}, lotRemaining: 120, lotExpires: at(10), fromLots: []int64{0, 30, 20}, sentOnDay: 120},
		{name: "lots that never expire go last; alone they give a lot that never expires",
			fromSpent: [3]int64{50, 100, 0},
			req:       TransferRequest{Points: 15}, lotRemaining: 15, lotExpires: nil, fromLots: []int64{0, 0, 5}, sentOnDay: 15},
		{name: "a partly spent lot goes first",
			fromSpent: [3]int64{45, 0, 0},
			req:       TransferRequest{Points: 15}, lotRemaining: 15, lotExpires: at(10), fromLots: []int64{0, 90, 20}, sentOnDay: 15},
		{name: "the receiver's debt is repaid first",
			toDebt: 40,
			req:    TransferRequest{Points: 100}, lotRemaining: 60, lotExpires: at(10), fromLots: []int64{0, 50, 20}, sentOnDay: 100},
		{name: "the receiver's debt takes everything: no lot",
			toDebt: 400,
			req:    TransferRequest{Points: 100}, lotRemaining: 0, lotExpires: nil, fromLots: []int64{0, 50, 20}, sentOnDay: 100},
		{name: "the daily limit counts what was sent earlier that day",
			setup: func(s setup) { s.from.m.SentDay, s.from.m.SentOnDay = "2026-11-05", 900 },
			req:   TransferRequest{Points: 100}, lotRemaining: 100, lotExpires: at(10), fromLots: []int64{0, 50, 20}, sentOnDay: 1000},
		{name: "over the daily limit",
			setup: func(s setup) { s.from.m.SentDay, s.from.m.SentOnDay = "2026-11-05", 900 },
			req:   TransferRequest{Points: 101}, wantErr: ErrTransferLimit},
		{name: "what was sent another day does not count",
			setup: func(s setup) { s.from.m.SentDay, s.from.m.SentOnDay = "2026-11-04", 1000 },
			req:   TransferRequest{Points: 100}, lotRemaining: 100, lotExpires: at(10), fromLots: []int64{0, 50, 20}, sentOnDay: 100},
		{name: "days are the program's: 21:30 UTC is the next day in Moscow",
			setup: func(s setup) { s.from.m.SentDay, s.from.m.SentOnDay = "2026-11-05", 1000 },
			now:   time.Date(2026, 11, 5, 21, 30, 0, 0, time.UTC),
			req:   TransferRequest{Points: 100}, lotRemaining: 100, lotExpires: at(10), fromLots: []int64{0, 50, 20}, sentOnDay: 100},
		{name: "below the minimum", req: TransferRequest{Points: 9}, wantErr: ErrTransferLimit},
		{name: "above the maximum", req: TransferRequest{Points: 501}, wantErr: ErrTransferLimit},
		{name: "no points", prog: transferProgram(t, `{"enabled": true}`), req: TransferRequest{Points: 0}, wantErr: ErrTransferLimit},
		{name: "no limits but the balance", prog: transferProgram(t, `{"enabled": true}`),
			req: TransferRequest{Points: 170}, lotRemaining: 170, lotExpires: at(10), fromLots: []int64{0, 0, 0}, sentOnDay: 170},
		{name: "more than available", prog: transferProgram(t, `{"enabled": true}`), req: TransferRequest{Points: 171}, wantErr: ErrInsufficientPoints},
		{name: "a sender in debt has nothing to send",
			fromSpent: [3]int64{50, 100, 20}, fromDebt: 5,
			req: TransferRequest{Points: 10}, wantErr: ErrInsufficientPoints},
		{name: "spread over more lots than allowed", req: TransferRequest{Points: 160, MaxLots: 2}, wantErr: ErrTransferLimit},
		{name: "exactly the lots allowed", req: TransferRequest{Points: 150, MaxLots: 2},
			lotRemaining: 150, lotExpires: at(10), fromLots: []int64{0, 0, 20}, sentOnDay: 150},
		{name: "transfers off", prog: transferProgram(t, `{"enabled": false, "max_points": 5}`), req: TransferRequest{Points: 10}, wantErr: ErrTransfersDisabled},
		{name: "program without transfers", prog: opsProgram(t), req: TransferRequest{Points: 10}, wantErr: ErrTransfersDisabled},
		{name: "to itself", setup: func(s setup) { s.to.m.ID = s.from.m.ID }, req: TransferRequest{Points: 10}, wantErr: ErrSameMember},
		{name: "suspended sender", setup: func(s setup) { s.from.m.Status = StatusSuspended }, req: TransferRequest{Points: 10}, wantErr: ErrMemberInactive},
		{name: "suspended receiver", setup: func(s setup) { s.to.m.Status = StatusSuspended }, req: TransferRequest{Points: 10}, wantErr: ErrMemberInactive},
		{name: "receiver being erased", setup: func(s setup) { s.to.m.Status = StatusErasing }, req: TransferRequest{Points: 10}, wantErr: ErrMemberInactive},
		{name: "erased receiver", setup: func(s setup) { s.to.m.Status = StatusErased }, req: TransferRequest{Points: 10}, wantErr: ErrMemberInactive},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prog := tc.prog
			if prog == nil {
				prog = p
			}
			when := tc.now
			if when.IsZero() {
				when = now
			}
			from := newBook()
			// Booked in another order than they are spent in: p-30, p-never, p-10.
			l30 := from.earn("p-30", 0, 100, tc.fromSpent[1], at(30))
			lNever := from.earn("p-never", 0, 20, tc.fromSpent[2], nil)
			l10 := from.earn("p-10", 0, 50, tc.fromSpent[0], at(10))
			from.clawBack(tc.fromDebt)
			to := &book{m: NewMember("telco", "r", nil, now)}
			to.earn("r-1", 0, 5, 5, at(3))
			to.clawBack(tc.toDebt)
			if tc.setup != nil {
				tc.setup(setup{from, to})
			}
			lots := []*Entry{l10, l30, lNever}
			fromBefore, toBefore := from.m, to.m
			remBefore := remaining(lots)
			tc.req.Reason, tc.req.Actor = "family pot", "key_1"

			x, err := Transfer(&from.m, &to.m, lots, prog, tc.req, when, keyBySeq)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if !sameMember(from.m, fromBefore) || !sameMember(to.m, toBefore) || !equalInts(remaining(lots), remBefore) {
					t.Fatalf("a refused transfer changed something: from %+v, to %+v, lots %v", from.m, to.m, remaining(lots))
				}
				return
			}
			n := tc.req.Points
			out, in := x.Out, x.In
			if out.Kind != KindTransfer || out.Points != -n || out.Delta.Available != -n || out.Delta.Lifetime != 0 ||
				out.Counterpart != to.m.ID || out.CounterpartSeq != in.Seq || out.Reason != "family pot" || out.Actor != "key_1" ||
				len(out.Breakdown) != 1 || out.Breakdown[0] != (rules.Line{Kind: rules.KindTransfer, Rule: TransferOut, Points: -n, Detail: "family pot"}) {
				t.Fatalf("sender's entry %+v", out)
			}
			if in.Kind != KindTransfer || in.Points != n || in.Delta.Available != n || in.Delta.Lifetime != 0 ||
				in.Counterpart != from.m.ID || in.CounterpartSeq != out.Seq || in.Breakdown[0].Kind != rules.KindTransfer ||
				in.Breakdown[0].Rule != TransferIn || in.Breakdown[0].Points != n {
				t.Fatalf("receiver's entry %+v", in)
			}
			var sum int64
			for _, l := range in.Breakdown {
				sum += l.Points
			}
			if sum != in.Points {
				t.Fatalf("receiver's breakdown sums to %d, entry %d", sum, in.Points)
			}
			if in.Remaining != tc.lotRemaining || !sameTime(in.ExpiresAt, tc.lotExpires) {
				t.Fatalf("receiver's lot: %d points expiring %v, want %d expiring %v", in.Remaining, in.ExpiresAt, tc.lotRemaining, tc.lotExpires)
			}
			if got := remaining(lots); !equalInts(got, tc.fromLots) {
				t.Fatalf("sender's lots left %v, want %v", got, tc.fromLots)
			}
			var taken int64
			for _, tk := range x.Takes {
				taken += tk.Points
			}
			if taken != n {
				t.Fatalf("takes %+v sum to %d, want %d", x.Takes, taken, n)
			}
			if from.m.SentOnDay != tc.sentOnDay || from.m.SentDay != LocalDay(when, prog.Location()) {
				t.Fatalf("sent on %s: %d, want %d", from.m.SentDay, from.m.SentOnDay, tc.sentOnDay)
			}
			if !from.m.LastActivity.Equal(when) || !to.m.LastActivity.Equal(when) {
				t.Fatalf("last activity %v / %v, want %v for both", from.m.LastActivity, to.m.LastActivity, when)
			}
			if from.m.Lifetime != fromBefore.Lifetime || to.m.Lifetime != toBefore.Lifetime || to.m.Rules.Qualifying != toBefore.Rules.Qualifying {
				t.Fatal("a transfer changed lifetime or qualifying points")
			}
			// Invariants 1, 2 and 4 on both members.
			if from.m.Available < 0 {
				t.Fatalf("sender's available %d < 0", from.m.Available)
			}
			from.check(t, out)
			to.check(t, in)
		})
	}
}

// clawBack books debt: a refund that took back n points already spent.
func (b *book) clawBack(n int64) {
	if n == 0 {
		return
	}
	e := &Entry{Kind: KindReverse, Points: -n, Delta: Balances{Available: -n, Debt: n, Lifetime: -n}}
	b.m.Apply(e)
	b.entries = append(b.entries, e)
}

func remaining(lots []*Entry) []int64 {
	out := make([]int64, len(lots))
	for i, l := range lots {
		out[i] = l.Remaining
	}
	return out
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func sameMember(a, b Member) bool {
	return a.Balances == b.Balances && a.Seq == b.Seq && a.SentDay == b.SentDay && a.SentOnDay == b.SentOnDay && a.LastActivity.Equal(b.LastActivity)
}
