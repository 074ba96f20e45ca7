package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// An erased external id never comes back to life by itself (issue #9, item
// 2). Erase leaves, in the same transaction that removes the original member
// item, a mark keyed by a hash of the id:
//
//	P#{partner}#ERASED#{sha256(member id)} | ERASED    {erased_at}
//
// and every write that creates a member — an accrual that auto-enrolls, POST
// /v1/members, a bulk import (imports.go) — checks in its own transaction that no
// such mark exists. So a payment of an erased member, old (a redelivery of an
// event applied before the erase) or new, is rejected with member_erased, never
// accrued to a member created afresh: invariant 3 survives the erase, because
// no event of that id applies again. The mark holds no personal data but the
// hash of the id, which only confirms a known id was erased; it carries no link
// to the anonymous member. Each mark is its own partition, so the check on a
// new member's first accrual never meets another member's writes.
//
// The choice: a person who comes back after an erasure is enrolled under a
// new external id (the partner's own). There is no way to reuse the old one.

// ErrMemberErased: the member id was erased (GDPR); nothing can be done with
// it again. Permanent.
var ErrMemberErased = errors.New("member id was erased")

type erasedMark struct {
	ErasedAt time.Time `dynamodbav:"erased_at"`
}

// Erased reports whether member's id was erased.
func (s *Store) Erased(ctx context.Context, partner, member string) (bool, error) {
	var mk erasedMark
	found, err := s.getItem(ctx, erasedPK(partner, member), skErased, &mk)
	if err != nil {
		return false, fmt.Errorf("erasure mark of %s: %w", partner, err)
	}
	return found, nil
}
