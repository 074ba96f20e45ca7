package simulate

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/accrue/accrue/shared/payment"
)

// step is one payment to replay.
type step struct {
	idx  int // position in Request.Payments
	orig int // for a refund, position of the refunded payment; else -1
}

// plan is what both replays share: the order, and what is left out. None of it
// depends on the program.
type plan struct {
	steps      []step
	duplicates []Ignored
	skipped    []Ignored
}

type dedupKey struct{ member, id, typ string }

type payKey struct{ member, id string }

// makePlan drops duplicates (the first in input order stays), sorts the rest into
// replay order, moves a refund that precedes its payment to right after it, and
// skips refunds the ledger would refuse.
func makePlan(pays []payment.Payment) plan {
	var pl plan
	seen := make(map[dedupKey]int, len(pays))
	succeeded := make(map[payKey]int, len(pays))
	order := make([]int, 0, len(pays))
	for i, p := range pays {
		k := dedupKey{p.MemberID, p.PaymentID, p.Type}
		if first, dup := seen[k]; dup {
			pl.duplicates = append(pl.duplicates, ignored(p, i, ReasonDuplicate,
				fmt.Sprintf("same member, payment_id and type as payments[%d]", first)))
			continue
		}
		seen[k] = i
		if p.Type == payment.TypeSucceeded {
			succeeded[payKey{p.MemberID, p.PaymentID}] = i
		}
		order = append(order, i)
	}
	slices.SortFunc(order, func(a, b int) int { return compare(pays, a, b) })

	placed := make([]bool, len(pays))
	refunded := make(map[int]int64) // by refunded payment: cumulative refunds placed
	waiting := make(map[int][]int)  // by refunded payment not placed yet: its refunds
	placeRefund := func(i, orig int) {
		r, o := pays[i], pays[orig]
		switch total := refunded[orig] + r.AmountMinor; {
		case r.Currency != o.Currency:
			pl.skipped = append(pl.skipped, ignored(r, i, ReasonCurrency,
				fmt.Sprintf("refund in %s, payment %s in %s", r.Currency, o.PaymentID, o.Currency)))
		case total > o.AmountMinor:
			pl.skipped = append(pl.skipped, ignored(r, i, ReasonExceedsPayment,
				fmt.Sprintf("%d refunded in all of payment %s's %d", total, o.PaymentID, o.AmountMinor)))
		default:
			refunded[orig] = total
			pl.steps = append(pl.steps, step{idx: i, orig: orig})
		}
	}
	for _, i := range order {
		p := pays[i]
		if p.Type == payment.TypeSucceeded {
			placed[i] = true
			pl.steps = append(pl.steps, step{idx: i, orig: -1})
			for _, r := range waiting[i] {
				placeRefund(r, i)
			}
			delete(waiting, i)
			continue
		}
		orig, ok := succeeded[payKey{p.MemberID, p.RefundOf}]
		switch {
		case !ok:
			pl.skipped = append(pl.skipped, ignored(p, i, ReasonUnknownPayment,
				fmt.Sprintf("no %s %s of member %s in the payments", payment.TypeSucceeded, p.RefundOf, p.MemberID)))
		case !placed[orig]:
			waiting[orig] = append(waiting[orig], i)
		default:
			placeRefund(i, orig)
		}
	}
	slices.SortFunc(pl.skipped, func(a, b Ignored) int { return cmp.Compare(a.Index, b.Index) })
	return pl
}

// compare orders payments for the replay: time, payment id, succeeded before
// refunded, member id, input position.
func compare(pays []payment.Payment, a, b int) int {
	pa, pb := &pays[a], &pays[b]
	if c := pa.Time.Compare(pb.Time); c != 0 {
		return c
	}
	if c := cmp.Compare(pa.PaymentID, pb.PaymentID); c != 0 {
		return c
	}
	if c := cmp.Compare(typeRank(pa.Type), typeRank(pb.Type)); c != 0 {
		return c
	}
	if c := cmp.Compare(pa.MemberID, pb.MemberID); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

func typeRank(t string) int {
	if t == payment.TypeSucceeded {
		return 0
	}
	return 1
}

func ignored(p payment.Payment, i int, reason, detail string) Ignored {
	return Ignored{Index: i, PaymentID: p.PaymentID, MemberID: p.MemberID, Type: p.Type, RefundOf: p.RefundOf, Reason: reason, Detail: detail}
}
