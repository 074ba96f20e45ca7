package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
)

// maxOtherLots bounds the lots one refund may draw on besides the payment's own
// (a transaction holds at most 100 items). Past it, the rest becomes debt.
const maxOtherLots = 90

// Refund reverses the points of the refunded payment, proportionally to the
// refunded amount (see ledger.Reverse). A refund whose payment has not been
// applied yet fails with ErrOriginalNotFound, a transient error: the queue
// delivers it again later, so it is not lost.
func (s *Store) Refund(ctx context.Context, pay payment.Payment) (Outcome, error) {
	prog, err := s.Program(ctx, pay.PartnerID)
	if err != nil {
		return Outcome{}, err
	}
	var out Outcome
	err = s.retry(ctx, "refund "+pay.PaymentID, func() error {
		var err error
		out, err = s.refundOnce(ctx, prog, pay)
		return err
	})
	return out, err
}

// refundOnce loads the refund's own entry (applied before?), the member, the
// payment's entry and, when the payment's own lot cannot cover the reversal,
// the member's other available lots; decides (ledger.Reverse) and commits one
// transaction: the member, the refund's entry under its deduplication key,
// every lot it changed (each conditional on its version) and, for a payment
// held for review, its review item.
func (s *Store) refundOnce(ctx context.Context, prog *program.Program, pay payment.Payment) (Outcome, error) {
	now := s.now()
	pk := memberPK(pay.PartnerID, pay.MemberID)
	refundSK := paymentSK(pay.PaymentID, pay.Type)
	// A refund already applied would now look like an over-refund: check first.
	var seen ledger.Entry
	if found, err := s.getItem(ctx, pk, refundSK, &seen); err != nil {
		return Outcome{}, err
	} else if found {
		return Outcome{Duplicate: true}, nil
	}
	m, err := s.Member(ctx, pay.PartnerID, pay.MemberID)
	if errors.Is(err, ErrMemberNotFound) {
		// An erased member's payments never come back: permanent. Otherwise
		// the payment may still arrive: transient.
		if erased, eerr := s.Erased(ctx, pay.PartnerID, pay.MemberID); eerr != nil {
			return Outcome{}, eerr
		} else if erased {
			return Outcome{}, fmt.Errorf("refund %s of %s/%s: %w", pay.PaymentID, pay.PartnerID, pay.MemberID, ErrMemberErased)
		}
		return Outcome{}, fmt.Errorf("refund %s of %s: %w", pay.PaymentID, pay.RefundOf, ErrOriginalNotFound)
	}
	if err != nil {
		return Outcome{}, err
	}
	origSK := paymentSK(pay.RefundOf, payment.TypeSucceeded)
	var stored ledger.Entry
	if found, err := s.getItem(ctx, pk, origSK, &stored); err != nil {
		return Outcome{}, err
	} else if !found {
		return Outcome{}, fmt.Errorf("refund %s of %s: %w", pay.PaymentID, pay.RefundOf, ErrOriginalNotFound)
	}
	prevVersion := m.Version
	rel, err := s.bookReleasesOn(ctx, &m, prog, now)
	if err != nil {
		return Outcome{}, err
	}
	orig := rel.lot(origSK, &stored) // the payment's own lot, released just now or as stored
	var others []*ledger.Entry
	keys := map[*ledger.Entry]string{}
	if orig.State != ledger.LotReview && ledger.ReversalNeeded(orig, pay.AmountMinor) > orig.Remaining {
		others, keys, err = s.availableLots(ctx, pay.PartnerID, pay.MemberID, origSK)
		if err != nil {
			return Outcome{}, err
		}
		others = rel.merge(others, keys, origSK)
	}
	heldAt, wasHeld := orig.At, orig.State == ledger.LotReview
	rev, err := ledger.Reverse(&m, orig, others, pay, now)
	if err != nil {
		return Outcome{}, err
	}
	m.Version++
	t := s.newTxn()
	if err := t.putMember(&m, prevVersion, false); err != nil {
		return Outcome{}, err
	}
	if err := rel.write(t); err != nil {
		return Outcome{}, err
	}
	if err := t.dedupEntry(&rev.Entry, refundSK); err != nil {
		return Outcome{}, err
	}
	keys[rev.Original] = origSK
	for _, e := range append([]*ledger.Entry{rev.Original}, rev.Others...) {
		if rel.has(e) {
			continue // written with the releases, as the refund left it
		}
		if err := t.lot(e, keys[e]); err != nil {
			return Outcome{}, err
		}
	}
	if wasHeld {
		// The review queue shows what is really waiting: the points left in
		// the held lot, or nothing once the payment is refunded in full.
		t.reviewAfterRefund(pay.PartnerID, reviewSK(heldAt, m.ID, pay.RefundOf), rev.Original)
	}
	if err := t.commit(ctx, Written{Member: m, Entry: &rev.Entry}); err != nil {
		if errors.Is(err, errDuplicate) {
			return Outcome{Duplicate: true}, nil
		}
		return Outcome{}, err
	}
	return Outcome{Member: m, Entry: rev.Entry}, nil
}

// availableLots returns up to maxOtherLots of the member's available lots,
// earliest expiry first, other than the one at skipSK.
func (s *Store) availableLots(ctx context.Context, partner, member, skipSK string) ([]*ledger.Entry, map[*ledger.Entry]string, error) {
	all, keys, err := s.lots(ctx, partner, member, "ls", string(ledger.LotAvailable))
	if err != nil {
		return nil, nil, err
	}
	ledger.SortByExpiry(all) // the cut keeps the earliest expiring, which Reverse uses first
	lots := make([]*ledger.Entry, 0, len(all))
	for _, l := range all {
		if keys[l] != skipSK && len(lots) < maxOtherLots {
			lots = append(lots, l)
		}
	}
	return lots, keys, nil
}
