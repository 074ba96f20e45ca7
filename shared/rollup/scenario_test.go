package rollup_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// mixedProgram (Europe/Moscow): 1 point per 100.00 RUB, pending for 2 days,
// lots expire after 3 days, payments of 100000.00 RUB or more held for review,
// an activity worth 10, one point worth 0.25 RUB minor units.
const mixedProgram = `{
  "name": "Mixed", "timezone": "Europe/Moscow", "auto_enroll": true,
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 10000}}],
  "activities": [{"name": "app_install", "points": 10}],
  "pending_days": 2,
  "expiry": {"rolling_days": 3},
  "fraud": {"large_payment_minor": {"RUB": 10000000}},
  "point_value": {"minor": "0.25", "currency": "RUB"}
}`

var msk = zone("Europe/Moscow")

// mixedFirst is the mixed partner's creation; mixedEnd a run time after the
// scenario (the last day, 2026-11-08, closed; 2026-11-09 so far).
var (
	mixedFirst = in(msk, "2026-11-02 09:00:00")
	mixedEnd   = in(msk, "2026-11-09 00:20:00")
)

// mixedWant are the figures of the mixed scenario (see seedMixed), worked out
// by hand from the ledger's rules.
var mixedWant = []store.DayStats{
	{Day: "2026-11-02", Issued: 3520, Outstanding: 3520, Liability: "880", ActiveMembers: 4},
	{Day: "2026-11-03", Issued: 2020, Redeemed: 130, Debited: 20, Outstanding: 5390, Liability: "1347.5", ActiveMembers: 2},
	{Day: "2026-11-04", Issued: 20, Reversed: 500, Redeemed: 450, Outstanding: 4460, Debt: 440, Liability: "1115", ActiveMembers: 2},
	{Day: "2026-11-05", Expired: 2850, Outstanding: 1610, Debt: 440, Liability: "402.5", ActiveMembers: 1},
	{Day: "2026-11-06", Expired: 10, Outstanding: 1600, Debt: 440, Liability: "400"},
	{Day: "2026-11-07", Outstanding: 1600, Debt: 440, Liability: "400"},
	{Day: "2026-11-08", Issued: 100, Reversed: 1000, Outstanding: 700, Debt: 340, Liability: "175"},
	{Day: "2026-11-09", Outstanding: 700, Debt: 340, Liability: "175"}, // so far, at mixedEnd
}

func init() {
	for i := range mixedWant {
		d := &mixedWant[i]
		d.Currency = "RUB"
		if i < len(mixedWant)-1 {
			d.Final = true
			day, _ := time.ParseInLocation(time.DateOnly, d.Day, msk)
			d.AsOf = day.AddDate(0, 0, 1).UTC()
		} else {
			d.AsOf = mixedEnd.UTC()
		}
	}
}

// step is one change of the mixed scenario, at its instant.
type step struct {
	at   string // Moscow wall clock
	what string
	do   func(ctx context.Context, e *env, p *program.Program) error
}

// seedMixed books the mixed scenario under partner "mixed": earnings
// (pending), accruals held for review then approved and rejected, an
// activity, manual credits and a debit, redemption holds captured and
// cancelled, an immediate capture, a release of pending points, a refund
// clawing back points already spent (debt), later repaid in part by a credit,
// expiry of available and of pending points, a partial refund, and a day
// without entries. before, when set, is called with each step's instant just
// before the step (interleaved roll-up runs).
func seedMixed(t *testing.T, e *env, before func(now time.Time)) {
	t.Helper()
	ctx := context.Background()
	p := e.program("mixed", mixedProgram, mixedFirst)
	const partner = "mixed"
	payStep := func(member, id string, amount int64) func(context.Context, *env, *program.Program) error {
		return func(ctx context.Context, e *env, _ *program.Program) error {
			_, err := e.st.Apply(ctx, payEvent(partner, member, id, amount, e.clock.now()))
			return err
		}
	}
	refundStep := func(member, id, of string, amount int64) func(context.Context, *env, *program.Program) error {
		return func(ctx context.Context, e *env, _ *program.Program) error {
			ev := payEvent(partner, member, id, amount, e.clock.now())
			ev.Type, ev.RefundOf = payment.TypeRefunded, of
			_, err := e.st.Apply(ctx, ev)
			return err
		}
	}
	adjust := func(member string, points int64) func(context.Context, *env, *program.Program) error {
		return func(ctx context.Context, e *env, _ *program.Program) error {
			_, _, err := e.st.Adjust(ctx, partner, member, ledger.Adjustment{Points: points, Reason: "test", Actor: "key-1"})
			return err
		}
	}
	activity := func(member string) func(context.Context, *env, *program.Program) error {
		return func(ctx context.Context, e *env, _ *program.Program) error {
			_, _, err := e.st.Activity(ctx, partner, member, "app_install")
			return err
		}
	}
	var rid string // the last redemption
	redeem := func(member string, points int64, capture bool) func(context.Context, *env, *program.Program) error {
		return func(ctx context.Context, e *env, _ *program.Program) error {
			r, _, err := e.st.Redeem(ctx, partner, member, ledger.RedeemRequest{Points: points, Capture: capture})
			rid = r.ID
			return err
		}
	}
	settle := func(member string, capture bool) func(context.Context, *env, *program.Program) error {
		return func(ctx context.Context, e *env, _ *program.Program) error {
			var err error
			if capture {
				_, _, err = e.st.Capture(ctx, partner, member, rid)
			} else {
				_, _, err = e.st.Cancel(ctx, partner, member, rid)
			}
			return err
		}
	}
	decide := func(member string, approve bool) func(context.Context, *env, *program.Program) error {
		return func(ctx context.Context, e *env, _ *program.Program) error {
			q, err := e.st.ReviewQueue(ctx, partner, 100, "")
			if err != nil {
				return err
			}
			for _, it := range q.Items {
				if it.MemberID != member {
					continue
				}
				if approve {
					_, _, err = e.st.Approve(ctx, partner, it.ID, "key-1")
				} else {
					_, _, err = e.st.Reject(ctx, partner, it.ID, "key-1", "fraud")
				}
				return err
			}
			return fmt.Errorf("no review item of %s", member)
		}
	}
	// plan books a scheduled job's plan for one member, as the member jobs
	// would: lots are the member's available lots plus those named.
	plan := func(member string, named []string, f func(tx *store.LedgerTx, lots []*ledger.Entry) jobs.Plan) func(context.Context, *env, *program.Program) error {
		return func(ctx context.Context, e *env, _ *program.Program) error {
			_, err := e.st.UpdateLedger(ctx, partner, member, func(tx *store.LedgerTx) error {
				lots, err := tx.AvailableLots()
				if err != nil {
					return err
				}
				for _, k := range named {
					l, err := tx.Lot(k)
					if err != nil {
						return err
					}
					lots = append(lots, l)
				}
				pl := f(tx, lots)
				if len(pl.Entries) != 1 {
					return fmt.Errorf("plan of %s: %d entries", member, len(pl.Entries))
				}
				pl.Apply(&tx.Member, tx.Book, tx.Changed)
				return nil
			})
			return err
		}
	}
	// released: the member's next write after the release time books the
	// release of its pending points, before what it does (no job visit);
	// here a ledger transaction that does nothing else.
	released := func(member string, want int64) func(context.Context, *env, *program.Program) error {
		return func(ctx context.Context, e *env, _ *program.Program) error {
			_, err := e.st.UpdateLedger(ctx, partner, member, func(tx *store.LedgerTx) error {
				if n := tx.Released(); n != want {
					return fmt.Errorf("%s: %d points released, want %d", member, n, want)
				}
				return nil
			})
			return err
		}
	}
	expire := func(tx *store.LedgerTx, lots []*ledger.Entry) jobs.Plan {
		return jobs.Expire(&tx.Member, lots, p, tx.Now, nil)
	}

	steps := []step{
		// 2026-11-02: issued 500 + 10 + 3000 + 10; active m1, m2, m3, m5.
		{"2026-11-02 09:10:00", "m1 pays 50000.00: 500 pending", payStep("m1", "p1", 5000000)},
		{"2026-11-02 09:20:00", "m2 pays 200000.00: 2000 held for review", payStep("m2", "p2", 20000000)},
		{"2026-11-02 09:30:00", "m3 pays 150000.00: 1500 held for review", payStep("m3", "p3", 15000000)},
		{"2026-11-02 09:40:00", "m1 installs the app: 10 available", activity("m1")},
		{"2026-11-02 09:45:00", "m4 enrolls", func(ctx context.Context, e *env, _ *program.Program) error {
			_, err := e.st.Enroll(ctx, partner, "m4", nil)
			return err
		}},
		{"2026-11-02 09:50:00", "manual credit of 3000 to m4", adjust("m4", 3000)},
		{"2026-11-02 23:59:59", "m5 pays 1000.00: 10 pending", payStep("m5", "p5", 100000)},
		// 2026-11-03: issued 20 + 2000; redeemed 100 + 30; debited 20; active m6, m4.
		{"2026-11-03 00:00:00", "m6 pays 2000.00: 20 pending", payStep("m6", "p6", 200000)},
		{"2026-11-03 10:00:00", "m2's 2000 approved: pending", decide("m2", true)},
		{"2026-11-03 10:10:00", "m3's 1500 rejected", decide("m3", false)},
		{"2026-11-03 11:00:00", "m4 holds 100", redeem("m4", 100, false)},
		{"2026-11-03 11:05:00", "m4 captures the hold", settle("m4", true)},
		{"2026-11-03 11:10:00", "m4 holds 50", redeem("m4", 50, false)},
		{"2026-11-03 11:15:00", "m4 cancels the hold", settle("m4", false)},
		{"2026-11-03 11:20:00", "m4 redeems 30 at once", redeem("m4", 30, true)},
		{"2026-11-03 11:30:00", "manual debit of 20 from m4", adjust("m4", -20)},
		// 2026-11-04: issued 10 + 10; reversed 500; redeemed 450; debt 440; active m1, m4.
		{"2026-11-04 10:00:00", "m1's 500 released", released("m1", 500)},
		{"2026-11-04 10:30:00", "m1 redeems 450 at once", redeem("m1", 450, true)},
		{"2026-11-04 11:00:00", "p1 refunded in full: 50 + 10 from lots, 440 owed", refundStep("m1", "r1", "p1", 5000000)},
		{"2026-11-04 12:00:00", "m1 pays 1000.00: 10 pending (no repayment)", payStep("m1", "p7", 100000)},
		{"2026-11-04 13:00:00", "m4 installs the app: 10 available", activity("m4")},
		// 2026-11-05: expired 2850; active m4 (the hold; its cancel is not activity).
		{"2026-11-05 10:00:00", "m4's credited lot expires: 2850", plan("m4", nil, expire)},
		{"2026-11-05 11:00:00", "m4 holds 5", redeem("m4", 5, false)},
		{"2026-11-05 12:00:00", "m4's hold released after its expiry", settle("m4", false)},
		// 2026-11-06: m5's pending 10 expire.
		{"2026-11-06 00:00:01", "m5's pending lot expires: 10", plan("m5", []string{"PAY#p5#S"}, expire)},
		// 2026-11-07: nothing.
		// 2026-11-08: reversed 1000; issued 100 (repays 100 of m1's debt).
		{"2026-11-08 10:00:00", "half of p2 refunded: 1000 pending reversed", refundStep("m2", "r2", "p2", 10000000)},
		{"2026-11-08 11:00:00", "manual credit of 100 to m1, repaying debt", adjust("m1", 100)},
	}
	for _, s := range steps {
		at := in(msk, s.at)
		if before != nil {
			before(at)
		}
		e.clock.set(at)
		if err := s.do(ctx, e, p); err != nil {
			t.Fatalf("%s %s: %v", s.at, s.what, err)
		}
	}
}

// mixedMembers are the members of the mixed scenario.
var mixedMembers = []string{"m1", "m2", "m3", "m4", "m5", "m6"}
