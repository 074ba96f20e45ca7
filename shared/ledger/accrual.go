package ledger

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// Accrue books the rules engine's result for a payment onto the member and
// returns the earn entry (which carries the new lot). Points held by a fraud limit
// land in Review; with a pending period they land in Pending until released;
// otherwise they are available at once (repaying debt first).
func Accrue(m *Member, p *program.Program, pay payment.Payment, res rules.Result, now time.Time) Entry {
	state := LotAvailable
	switch {
	case res.Held:
		state = LotReview
	case p.PendingDays > 0:
		state = LotPending
	}
	delta, lot := m.Credit(res.Points, state)
	if lot.State != LotNone {
		if exp, ok := p.LotExpiry(now); ok {
			exp = exp.UTC()
			lot.ExpiresAt = &exp
		}
		if state == LotPending {
			at := now.In(p.Location()).AddDate(0, 0, p.PendingDays).UTC()
			lot.AvailableAt = &at
		}
	}
	e := Entry{
		Kind: KindEarn, At: now.UTC(), Points: res.Points, Breakdown: res.Breakdown,
		Delta: delta, HoldReasons: res.HoldReasons, PaymentRef: refOf(pay), Lot: lot,
	}
	m.Rules = res.State
	m.LastActivity = now.UTC()
	m.Apply(&e)
	return e
}

func refOf(pay payment.Payment) PaymentRef {
	return PaymentRef{
		EventID: pay.EventID, PaymentID: pay.PaymentID, AmountMinor: pay.AmountMinor,
		Currency: pay.Currency, Category: pay.Category, PaidAt: pay.Time.UTC(), RefundOf: pay.RefundOf,
		Recurring: pay.Recurring,
	}
}

// Permanent refund errors: the event can never succeed.
var (
	ErrRefundCurrency = errors.New("refund currency differs from the payment's")
	ErrRefundExceeds  = errors.New("refunds exceed the payment amount")
)

// Reversal is what a refund changes: the refund entry, the original payment's
// entry (its lot and refund totals), the entry carrying the payment's lot when
// a merge moved it (Lot; else Original), and any other lots it consumed.
type Reversal struct {
	Entry    Entry
	Original *Entry
	Lot      *Entry
	Others   []*Entry
}

// Reverse books a (partial) refund of orig. The points reversed are proportional
// to the refunded amount, computed on the cumulative refunded amount so that
// several partial refunds never reverse more than the payment earned:
// reversed_total = floor(points × refunded_total / amount).
// They come out of the original payment's lot first, then out of the member's
// other available lots earliest-expiry first (others, in any order; only
// available lots are used), and only what is already spent becomes debt.
func Reverse(m *Member, orig *Entry, others []*Entry, refund payment.Payment, now time.Time) (Reversal, error) {
	return ReverseFrom(m, orig, orig, others, refund, now)
}

// ReverseFrom is Reverse of a payment whose points a member merge moved to
// another entry: orig is the payment's entry (its amount, points and refund
// totals), own the entry that carries the payment's lot now (the survivor's
// merge entry; orig itself when the lot never moved). The points come out of
// own first.
func ReverseFrom(m *Member, orig, own *Entry, others []*Entry, refund payment.Payment, now time.Time) (Reversal, error) {
	if refund.Currency != orig.Currency {
		return Reversal{}, fmt.Errorf("%w: refund %s, payment %s", ErrRefundCurrency, refund.Currency, orig.Currency)
	}
	total := orig.RefundedMinor + refund.AmountMinor
	if total > orig.AmountMinor || total < 0 {
		return Reversal{}, fmt.Errorf("%w: %d refunded in all of %d", ErrRefundExceeds, total, orig.AmountMinor)
	}
	target := proportional(orig.Points, total, orig.AmountMinor)
	n := max(target-orig.Reversed, 0)
	wasReview := own.State == LotReview

	var delta Balances
	var lines []rules.Line
	took, d := own.Lot.take(n)
	delta.Add(d)
	if took > 0 {
		lines = append(lines, rules.Line{Kind: rules.KindReverse, Rule: orig.PaymentID, Points: -took, Detail: "from the payment's own lot"})
	}
	rest := n - took
	var touched []*Entry
	if rest > 0 && !wasReview {
		lots := append([]*Entry(nil), others...)
		SortByExpiry(lots)
		var fromOthers int64
		for _, o := range lots {
			if rest == 0 {
				break
			}
			if o.State != LotAvailable || o == orig || o == own {
				continue
			}
			t, d := o.Lot.take(rest)
			if t > 0 {
				delta.Add(d)
				rest -= t
				fromOthers += t
				touched = append(touched, o)
			}
		}
		if fromOthers > 0 {
			lines = append(lines, rules.Line{Kind: rules.KindReverse, Rule: "other_lots", Points: -fromOthers, Detail: "points of the payment already spent, taken from other available lots"})
		}
		if rest > 0 {
			delta.Debt += rest
			delta.Available -= rest
			lines = append(lines, rules.Line{Kind: rules.KindDebt, Rule: "clawback", Points: -rest, Detail: "points already spent: owed, repaid by later earnings"})
		}
	}
	if !wasReview {
		delta.Lifetime = -n
		m.Rules.Qualifying = max(m.Rules.Qualifying-n, 0)
	}
	orig.RefundedMinor = total
	orig.Reversed = target
	ref := refOf(refund)
	e := Entry{Kind: KindReverse, At: now.UTC(), Points: -n, Breakdown: lines, Delta: delta, PaymentRef: ref}
	m.LastActivity = now.UTC()
	m.Apply(&e)
	return Reversal{Entry: e, Original: orig, Lot: own, Others: touched}, nil
}

// ReversalNeeded is how many more points a refund of amount would reverse from
// orig (the refund total is capped at the payment's amount).
func ReversalNeeded(orig *Entry, amount int64) int64 {
	total := min(orig.RefundedMinor+amount, orig.AmountMinor)
	return max(proportional(orig.Points, total, orig.AmountMinor)-orig.Reversed, 0)
}

// SortByExpiry orders lots earliest expiry first; lots that never expire last.
func SortByExpiry(lots []*Entry) {
	sort.SliceStable(lots, func(i, j int) bool { return expiresBefore(lots[i], lots[j]) })
}

func expiresBefore(a, b *Entry) bool {
	switch {
	case a.ExpiresAt == nil:
		return false
	case b.ExpiresAt == nil:
		return true
	default:
		return a.ExpiresAt.Before(*b.ExpiresAt)
	}
}

// proportional returns floor(points × part / whole) without overflow.
func proportional(points, part, whole int64) int64 {
	if whole <= 0 {
		return 0
	}
	r := new(big.Int).Mul(big.NewInt(points), big.NewInt(part))
	r.Quo(r, big.NewInt(whole))
	return r.Int64()
}
