package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
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
	err = s.retry(ctx, "accrue "+pay.PaymentID, func() error {
		var err error
		out, err = s.accrueOnce(ctx, prog, pay, h)
		switch {
		case err == nil && !out.Duplicate:
			h.set(pk, &out.Member)
		default:
			h.forget(pk) // a duplicate or a conflict: the hint is stale
		}
		return err
	})
	return out, err
}

// accrueOnce loads the member (a hint, or a read) and the budgets, decides
// (rules.Evaluate, ledger.Accrue) and commits one transaction: the member
// conditional on its version (or on its absence, a new one, with its id's
// erasure mark checked), the payment's entry under its deduplication key,
// the review item of a held accrual, and the budget counters it draws on.
func (s *Store) accrueOnce(ctx context.Context, prog *program.Program, pay payment.Payment, h *Hints) (Outcome, error) {
	now := s.now()
	m, err := s.hintedMember(ctx, pay.PartnerID, pay.MemberID, h)
	enrolled := false
	switch {
	case errors.Is(err, ErrMemberNotFound) && prog.AutoEnroll:
		m, enrolled = ledger.NewMember(pay.PartnerID, pay.MemberID, nil, now), true
	case err != nil:
		return Outcome{}, err
	}
	if err := ledger.RequireActive(&m); err != nil {
		return Outcome{}, err
	}
	budgets, err := s.budgets(ctx, prog, pay, now)
	if err != nil {
		return Outcome{}, err
	}
	res := rules.Evaluate(prog, m.Rules, budgets, pay, now)
	prevVersion := m.Version
	entry := ledger.Accrue(&m, prog, pay, res, now)
	lowerDue(&m, prog, &entry)
	ledger.MarkActive(&m, prog.Location(), &entry)
	m.Version++

	t := s.newTxn()
	if err := t.putMember(&m, prevVersion, enrolled); err != nil {
		return Outcome{}, err
	}
	if err := t.dedupEntry(&entry, paymentSK(pay.PaymentID, pay.Type)); err != nil {
		return Outcome{}, err
	}
	if enrolled {
		t.notErased(pay.PartnerID, pay.MemberID) // an erased id never comes back to life by itself
	}
	if res.Held {
		rv := ReviewItem{MemberID: m.ID, PaymentID: pay.PaymentID, EventID: pay.EventID, Points: entry.Points,
			Reasons: res.HoldReasons, HeldAt: now.UTC(), AmountMinor: pay.AmountMinor, Currency: pay.Currency}
		if err := t.put(rv, reviewPK(pay.PartnerID), reviewSK(now, m.ID, pay.PaymentID)); err != nil {
			return Outcome{}, err
		}
	}
	if res.ProgramSpend > 0 {
		t.spend(partnerPK(pay.PartnerID), budgetSK(budgets.ProgramMonth), res.ProgramSpend, prog.Caps.ProgramMonthly)
	}
	for _, c := range prog.Campaigns {
		if n := res.CampaignSpend[c.ID]; n > 0 && c.Budget > 0 {
			t.spend(partnerPK(pay.PartnerID), campaignSK(c.ID), n, c.Budget)
		}
	}
	if err := t.commit(ctx, Written{Member: m, Entry: &entry}); err != nil {
		if errors.Is(err, errDuplicate) {
			return Outcome{Duplicate: true}, nil
		}
		return Outcome{}, err
	}
	return Outcome{Member: m, Entry: entry, Enrolled: enrolled}, nil
}

// hintedMember returns the member from the hints when they know it (or know
// it is absent), and reads it otherwise.
func (s *Store) hintedMember(ctx context.Context, partner, member string, h *Hints) (ledger.Member, error) {
	if hm, known := h.get(memberPK(partner, member)); known {
		if hm == nil {
			return ledger.Member{}, fmt.Errorf("%s/%s: %w", partner, member, ErrMemberNotFound)
		}
		return *hm, nil // a copy: the rules engine never mutates the state it is given
	}
	return s.Member(ctx, partner, member)
}

// budgets reads the program-wide counters the payment may draw on. Nothing is
// read when the program has no monthly budget and no budgeted campaign is open.
func (s *Store) budgets(ctx context.Context, prog *program.Program, pay payment.Payment, now time.Time) (rules.Budgets, error) {
	_, month := rules.PeriodKeys(prog, now)
	b := rules.Budgets{ProgramMonth: month}
	var c counter
	if prog.Caps.ProgramMonthly > 0 {
		if _, err := s.getItem(ctx, partnerPK(pay.PartnerID), budgetSK(b.ProgramMonth), &c); err != nil {
			return b, err
		}
		b.ProgramSpent = c.Spent
	}
	for _, camp := range prog.Campaigns {
		if camp.Budget <= 0 || pay.Time.Before(camp.StartsAt) || !pay.Time.Before(camp.EndsAt) {
			continue
		}
		c = counter{}
		if _, err := s.getItem(ctx, partnerPK(pay.PartnerID), campaignSK(camp.ID), &c); err != nil {
			return b, err
		}
		if b.CampaignSpent == nil {
			b.CampaignSpent = map[string]int64{}
		}
		b.CampaignSpent[camp.ID] = c.Spent
	}
	return b, nil
}

type counter struct {
	Spent int64 `dynamodbav:"spent"`
}
