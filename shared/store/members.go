package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/accrue/accrue/shared/ledger"
)

// Errors of member operations (decided in package ledger).
var (
	ErrMemberExists = errors.New("member already enrolled")
)

// Enroll creates a member.
func (s *Store) Enroll(ctx context.Context, partner, member string, tags []string) (ledger.Member, error) {
	if _, err := s.Program(ctx, partner); err != nil {
		return ledger.Member{}, err
	}
	m := ledger.NewMember(partner, member, tags, s.now())
	// The member (only if absent) and the check that its id was never
	// erased, in one transaction.
	t := s.newTxn()
	if err := t.putMember(&m, 0, true); err != nil {
		return m, err
	}
	t.roles[0] = roleDedup // the member item is the enrolment's own record
	t.notErased(partner, member)
	err := t.commit(ctx, Written{Member: m})
	switch {
	case errors.Is(err, errDuplicate):
		return m, fmt.Errorf("%s/%s: %w", partner, member, ErrMemberExists)
	case errors.Is(err, ErrMemberErased):
		return m, fmt.Errorf("%s/%s: %w", partner, member, ErrMemberErased)
	case err != nil:
		return m, fmt.Errorf("enroll %s/%s: %w", partner, member, err)
	}
	return m, nil
}

// Page is a page of a list and the cursor of the next one ("" on the last).
type Page[T any] struct {
	Items []T
	Next  string
}

// Ledger lists a member's entries newest first (entries.go: read from the
// table, consistently).
func (s *Store) Ledger(ctx context.Context, partner, member string, limit int32, cursor string) (Page[ledger.Entry], error) {
	var page Page[ledger.Entry]
	pk := memberPK(partner, member)
	var before int64
	if cursor != "" {
		seq, err := parseLedgerCursor(cursor, pk)
		if err != nil {
			return page, err
		}
		before = seq
	}
	es, more, err := s.ledgerPage(ctx, pk, before, max(int(limit), 1))
	if err != nil {
		return page, fmt.Errorf("ledger of %s/%s: %w", partner, member, err)
	}
	page.Items = es
	if more && len(es) > 0 {
		page.Next = ledgerCursor(pk, es[len(es)-1].Seq)
	}
	return page, nil
}

// Activity credits the fixed points of a named non-payment action
// (ledger.Activity decides).
func (s *Store) Activity(ctx context.Context, partner, member, name string) (ledger.Member, ledger.Entry, error) {
	p, err := s.Program(ctx, partner)
	if err != nil {
		return ledger.Member{}, ledger.Entry{}, err
	}
	var booked ledger.Entry
	m, err := s.UpdateLedger(ctx, partner, member, func(tx *LedgerTx) error {
		e, err := ledger.Activity(&tx.Member, p, name, tx.Now)
		if err != nil {
			return err
		}
		booked = *tx.booked(e)
		return nil
	})
	return m, booked, err
}

// Adjust books a manual adjustment (ledger.Adjust decides) with its audit
// record, in one transaction.
func (s *Store) Adjust(ctx context.Context, partner, member string, a ledger.Adjustment) (ledger.Member, ledger.Entry, error) {
	p, err := s.Program(ctx, partner)
	if err != nil {
		return ledger.Member{}, ledger.Entry{}, err
	}
	var booked ledger.Entry
	m, err := s.UpdateLedger(ctx, partner, member, func(tx *LedgerTx) error {
		var lots []*ledger.Entry
		if a.Points < 0 {
			var err error
			if lots, err = tx.AvailableLots(); err != nil {
				return err
			}
		}
		e, takes, err := ledger.Adjust(&tx.Member, lots, p, a, tx.Now, tx.LotKey)
		if err != nil {
			return err
		}
		tx.changedTakes(lots, takes)
		booked = *tx.booked(e)
		return tx.t.audit(partner, AuditRecord{At: tx.Now.UTC(), Actor: a.Actor, Action: AuditAdjust, MemberID: tx.Member.ID,
			Points: a.Points, Reason: a.Reason, Entry: e.Seq})
	})
	return m, booked, err
}

// Lots returns the member's lots with points left, in any state, in key
// order (read consistently). Which of them expire when is the domain's
// decision (jobs.ExpiringBy).
func (s *Store) Lots(ctx context.Context, partner, member string) ([]*ledger.Entry, error) {
	lots, _, err := s.lots(ctx, partner, member, "", "")
	return lots, err
}
