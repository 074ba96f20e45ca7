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
//
// Across a member merge: an absorbed id resolves to its survivor (Member), a
// member's payments are in its own partition or in those of the ids it
// absorbed, and so is a refund applied before the merge (a duplicate now).
// The payment's points are where the merge moved them (Lot.MovedTo: the
// survivor's entry carrying the lot). A payment's entry in an absorbed
// partition keeps its refund totals: it is written there, with the absorbed
// member item's version incremented (touchMember), so that an erasure of
// that partition, fenced on the version, sees the change.
func (s *Store) refundOnce(ctx context.Context, prog *program.Program, pay payment.Payment) (Outcome, error) {
	now := s.now()
	partner := pay.PartnerID
	refundSK := paymentSK(pay.PaymentID, pay.Type)
	// A refund already applied would now look like an over-refund: check first.
	if dup, err := s.exists(ctx, partner, pay.MemberID, refundSK); err != nil || dup {
		return Outcome{Duplicate: dup}, err
	}
	m, err := s.Member(ctx, partner, pay.MemberID)
	if errors.Is(err, ErrMemberNotFound) {
		// An erased member's payments never come back: permanent. Otherwise
		// the payment may still arrive: transient.
		if erased, eerr := s.Erased(ctx, partner, pay.MemberID); eerr != nil {
			return Outcome{}, eerr
		} else if erased {
			return Outcome{}, fmt.Errorf("refund %s of %s/%s: %w", pay.PaymentID, partner, pay.MemberID, ErrMemberErased)
		}
		return Outcome{}, fmt.Errorf("refund %s of %s: %w", pay.PaymentID, pay.RefundOf, ErrOriginalNotFound)
	}
	if err != nil {
		return Outcome{}, err
	}
	parts := append([]string{m.ID}, m.Absorbed...)
	for _, id := range parts {
		if id == pay.MemberID {
			continue // checked first
		}
		if dup, err := s.exists(ctx, partner, id, refundSK); err != nil || dup {
			return Outcome{Duplicate: dup}, err
		}
	}
	origSK := paymentSK(pay.RefundOf, payment.TypeSucceeded)
	var stored ledger.Entry
	found := false
	for _, id := range parts {
		if found, err = s.getItem(ctx, memberPK(partner, id), origSK, &stored); err != nil {
			return Outcome{}, err
		} else if found {
			break
		}
	}
	if !found {
		return Outcome{}, fmt.Errorf("refund %s of %s: %w", pay.PaymentID, pay.RefundOf, ErrOriginalNotFound)
	}
	prevVersion := m.Version
	rel, err := s.bookReleasesOn(ctx, &m, prog, now)
	if err != nil {
		return Outcome{}, err
	}
	orig, own, ownSK := &stored, &stored, origSK
	if stored.MemberID == m.ID {
		orig = rel.lot(origSK, &stored) // the payment's own lot, released just now or as stored
		own = orig
	} else if moved, sk, err := s.movedLot(ctx, m, &stored); err != nil {
		return Outcome{}, err
	} else if moved != nil {
		own, ownSK = rel.lot(sk, moved), sk
	}
	var others []*ledger.Entry
	keys := map[*ledger.Entry]string{}
	if own.State != ledger.LotReview && ledger.ReversalNeeded(orig, pay.AmountMinor) > own.Remaining {
		others, keys, err = s.availableLots(ctx, partner, m.ID, ownSK)
		if err != nil {
			return Outcome{}, err
		}
		others = rel.merge(others, keys, ownSK)
	}
	heldAt, wasHeld := orig.At, own.State == ledger.LotReview
	rev, err := ledger.ReverseFrom(&m, orig, own, others, pay, now)
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
	t.absorbedDedup(&m, refundSK)
	keys[rev.Lot] = ownSK
	changed := append([]*ledger.Entry{rev.Lot}, rev.Others...)
	if orig != own {
		keys[orig] = origSK
		changed = append(changed, orig)
	}
	for _, e := range changed {
		if rel.has(e) {
			continue // written with the releases, as the refund left it
		}
		if err := t.lot(e, keys[e]); err != nil {
			return Outcome{}, err
		}
	}
	if orig.MemberID != m.ID {
		t.touchMember(partner, orig.MemberID)
	}
	if wasHeld {
		// The review queue shows what is really waiting: the points left in
		// the held lot, or nothing once the payment is refunded in full.
		t.reviewAfterRefund(partner, reviewSK(heldAt, m.ID, pay.RefundOf), rev.Original)
	}
	if err := t.commit(ctx, Written{Member: m, Entry: &rev.Entry}); err != nil {
		if errors.Is(err, errDuplicate) {
			return Outcome{Duplicate: true}, nil
		}
		return Outcome{}, err
	}
	return Outcome{Member: m, Entry: rev.Entry}, nil
}

// exists reports whether member's partition holds the item sk.
func (s *Store) exists(ctx context.Context, partner, member, sk string) (bool, error) {
	var seen ledger.Entry
	return s.getItem(ctx, memberPK(partner, member), sk, &seen)
}

// movedLot follows where merges moved the lot of e, an entry of a member m
// absorbed: the entry of m carrying it now, and its key; nil when the lot was
// used up before it reached m (nothing of it is left to reverse).
func (s *Store) movedLot(ctx context.Context, m ledger.Member, e *ledger.Entry) (*ledger.Entry, string, error) {
	for hops := 0; e.MovedTo != nil; hops++ {
		if hops > ledger.MaxAbsorbed {
			return nil, "", fmt.Errorf("lot of %s/%s entry %d: more than %d moves to follow", e.PartnerID, e.MemberID, e.Seq, ledger.MaxAbsorbed)
		}
		to, sk := e.MovedTo, entrySK(e.MovedTo.EntrySeq)
		var next ledger.Entry
		found, err := s.getItem(ctx, memberPK(m.PartnerID, to.MemberID), sk, &next)
		if err != nil {
			return nil, "", err
		}
		if !found {
			return nil, "", fmt.Errorf("lot of %s/%s entry %d moved to %s entry %d: %w", e.PartnerID, e.MemberID, e.Seq, to.MemberID, to.EntrySeq, ErrNotFound)
		}
		if next.MemberID == m.ID {
			return &next, sk, nil
		}
		e = &next
	}
	return nil, "", nil
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
