package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
)

// Outcome of applying a payment event.
type Outcome struct {
	// Duplicate: the event was applied before; nothing changed now.
	Duplicate bool
	// Enrolled: the member was created by this payment (auto-enroll).
	Enrolled bool
	Member   ledger.Member
	Entry    ledger.Entry
}

// Apply applies a payment event: an accrual for payment.succeeded, a reversal
// for payment.refunded.
func (s *Store) Apply(ctx context.Context, pay payment.Payment) (Outcome, error) {
	return s.ApplyHinted(ctx, pay, nil)
}

// ApplyHinted is Apply with the members of a batch read ahead (see Prefetch).
func (s *Store) ApplyHinted(ctx context.Context, pay payment.Payment, h *Hints) (Outcome, error) {
	if pay.Type == payment.TypeRefunded {
		return s.Refund(ctx, pay)
	}
	return s.accrue(ctx, pay, h)
}

// Accrue credits the points of a successful payment. It is one TransactWriteItems
// of the member item (conditional on its version) and the payment's entry
// (conditional on its absence: the deduplication), plus one counter item per
// program-wide budget that applies (monthly program budget, campaign budgets).
// A concurrent change of the member re-reads and re-evaluates; a delivery of an
// already applied payment is a no-op.
func (s *Store) Accrue(ctx context.Context, pay payment.Payment) (Outcome, error) {
	return s.accrue(ctx, pay, nil)
}

func (s *Store) accrue(ctx context.Context, pay payment.Payment, h *Hints) (Outcome, error) {
	prog, err := s.Program(ctx, pay.PartnerID)
	if err != nil {
		return Outcome{}, err
	}
	pk := memberPK(pay.PartnerID, pay.MemberID)
	var out Outcome
	// held: the budget points reserved, kept across attempts (a conflict on
	// the member rarely changes what the payment earns) and given back
	// unless the accrual commits.
	var held *reserved
	err = s.retry(ctx, "accrue "+pay.PaymentID, func() error {
		var err error
		out, held, err = s.accrueOnce(ctx, prog, pay, h, held)
		switch {
		case err == nil && !out.Duplicate:
			h.set(pk, &out.Member)
		default:
			h.forget(pk) // a duplicate or a conflict: the hint is stale
		}
		return err
	})
	if err != nil || out.Duplicate {
		s.releaseBudgets(ctx, held)
	}
	return out, err
}

// accrueOnce loads the member (a hint, or a read; an absorbed id resolves to
// its survivor), decides (rules.Evaluate, ledger.Accrue), reserves the points
// it draws from program-wide budgets (budget.go: single-item writes, not in
// the transaction) and commits one transaction: the member conditional on its
// version (or on its absence, a new one, with its id's erasure mark checked),
// the payment's entry under its deduplication key, and the review item of a
// held accrual; for a member that absorbed others, the absence of the key in
// each of their partitions (absorbedDedup: one item per absorbed id). It returns what
// it holds of the budgets, committed or not: prev, when the payment wants
// the same points of them again, or a new reservation.
func (s *Store) accrueOnce(ctx context.Context, prog *program.Program, pay payment.Payment, h *Hints, prev *reserved) (out Outcome, held *reserved, err error) {
	now := s.now()
	m, err := s.hintedMember(ctx, pay.PartnerID, pay.MemberID, h)
	enrolled := false
	switch {
	case errors.Is(err, ErrMemberNotFound) && prog.AutoEnroll:
		m, enrolled = ledger.NewMember(pay.PartnerID, pay.MemberID, nil, now), true
	case err != nil:
		return Outcome{}, prev, err
	}
	if err := ledger.RequireActive(&m); err != nil {
		return Outcome{}, prev, err
	}
	prevVersion := m.Version
	rel, err := s.bookReleasesOn(ctx, &m, prog, now)
	if err != nil {
		return Outcome{}, prev, err
	}
	res, held, err := s.evaluate(ctx, prog, &m, pay, now, prev)
	if err != nil {
		return Outcome{}, nil, err
	}
	entry := ledger.Accrue(&m, prog, pay, res, now)
	lowerDue(&m, prog, &entry)
	ledger.MarkActive(&m, prog.Location(), &entry)
	m.Version++

	t := s.newTxn()
	if err := t.putMember(&m, prevVersion, enrolled); err != nil {
		return Outcome{}, held, err
	}
	if err := rel.write(t); err != nil {
		return Outcome{}, held, err
	}
	if err := t.dedupEntry(&entry, paymentSK(pay.PaymentID, pay.Type)); err != nil {
		return Outcome{}, held, err
	}
	t.absorbedDedup(&m, paymentSK(pay.PaymentID, pay.Type))
	if enrolled {
		t.notErased(pay.PartnerID, pay.MemberID) // an erased id never comes back to life by itself
	}
	if res.Held {
		rv := ReviewItem{MemberID: m.ID, PaymentID: pay.PaymentID, EventID: pay.EventID, Points: entry.Points,
			Reasons: res.HoldReasons, HeldAt: now.UTC(), AmountMinor: pay.AmountMinor, Currency: pay.Currency}
		if err := t.put(rv, reviewPK(pay.PartnerID), reviewSK(now, m.ID, pay.PaymentID)); err != nil {
			return Outcome{}, held, err
		}
	}
	if err := t.commit(ctx, Written{Member: m, Entry: &entry}); err != nil {
		if errors.Is(err, errDuplicate) {
			return Outcome{Duplicate: true}, held, nil
		}
		return Outcome{}, held, err
	}
	return Outcome{Member: m, Entry: entry, Enrolled: enrolled}, held, nil
}

// released is what bookReleasesOn booked: the release entries and the lots
// they changed (with their keys).
type released struct {
	entries []ledger.Entry
	lots    []*ledger.Entry
	keys    map[*ledger.Entry]string
}

// write adds the releases to t.
func (r *released) write(t *txn) error {
	for i := range r.entries {
		if err := t.entry(&r.entries[i]); err != nil {
			return err
		}
	}
	for _, l := range r.lots {
		if err := t.lot(l, r.keys[l]); err != nil {
			return err
		}
	}
	return nil
}

// lot returns the released lot with key sk, or stored when none is.
func (r *released) lot(sk string, stored *ledger.Entry) *ledger.Entry {
	for _, l := range r.lots {
		if r.keys[l] == sk {
			return l
		}
	}
	return stored
}

// has reports whether l is one of the released lots.
func (r *released) has(l *ledger.Entry) bool {
	for _, x := range r.lots {
		if x == l {
			return true
		}
	}
	return false
}

// merge adds to the available lots loaded (with keys) those released just
// now: still pending in the table, the query did not return them. The lot at
// skip is left out.
func (r *released) merge(lots []*ledger.Entry, keys map[*ledger.Entry]string, skip string) []*ledger.Entry {
	for _, l := range r.lots {
		if k := r.keys[l]; k != skip && l.State == ledger.LotAvailable && l.Remaining > 0 {
			keys[l] = k
			lots = append(lots, l)
		}
	}
	return lots
}

// bookReleasesOn books onto m, before what a payment does, the releases of
// its pending lots whose time has come (see ledger.Member.ReleaseAt), for
// the payment's transaction to write. Nothing is read when none is due.
func (s *Store) bookReleasesOn(ctx context.Context, m *ledger.Member, p *program.Program, now time.Time) (released, error) {
	if !m.ReleaseDue(now) {
		return released{}, nil
	}
	pl, lots, keys, err := s.releasesDue(ctx, m, p, now)
	if err != nil {
		return released{}, err
	}
	var r released
	r.keys = keys
	pl.Apply(m, nil, func(l *ledger.Entry) { r.lots = append(r.lots, l) })
	r.entries = pl.Entries
	nextRelease(m, pl, lots, now)
	return r, nil
}

// hintedMember returns the member from the hints when they know it (or know
// it is absent), and reads it otherwise; an absorbed id resolves to its
// survivor (Member), which a hint of the absorbed item does not give.
func (s *Store) hintedMember(ctx context.Context, partner, member string, h *Hints) (ledger.Member, error) {
	if hm, known := h.get(memberPK(partner, member)); known && (hm == nil || hm.MergedInto == "") {
		if hm == nil {
			return ledger.Member{}, fmt.Errorf("%s/%s: %w", partner, member, ErrMemberNotFound)
		}
		return *hm, nil // a copy: the rules engine never mutates the state it is given
	}
	return s.Member(ctx, partner, member)
}
