package store

import (
	"context"
	"fmt"

	"github.com/accrue/accrue/shared/ledger"
)

// Entries returns all of a member's ledger entries, oldest first (read
// consistently from the table: entries.go).
func (s *Store) Entries(ctx context.Context, partner, member string) ([]ledger.Entry, error) {
	return s.memberEntries(ctx, partner, member)
}

// Audit checks the spec §2 invariants of one member against its stored ledger
// (see ledger.Check). Tests run it after every scenario; operators can too.
// An absorbed member is checked itself (its ledger ends with the merge that
// emptied it), not its survivor.
func (s *Store) Audit(ctx context.Context, partner, member string) error {
	m, err := s.rawMember(ctx, partner, member)
	if err != nil {
		return err
	}
	es, err := s.Entries(ctx, partner, member)
	if err != nil {
		return err
	}
	if err := ledger.Check(m, es); err != nil {
		return fmt.Errorf("audit %s/%s: %w", partner, member, err)
	}
	return nil
}
