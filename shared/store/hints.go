package store

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
)

// Hints are member items read ahead for a batch of events: one BatchGetItem
// for a whole SQS batch instead of one GetItem per event. A hint is only a
// starting point: the accrual's write is still conditional on the member's
// version, so a stale hint costs a retry, never a wrong balance. After each
// successful accrual the hint is replaced by the member as written, so several
// events of one member in a batch need no read either.
type Hints struct {
	mu      sync.Mutex
	members map[string]*ledger.Member // by member pk; nil value = known absent
}

func (h *Hints) get(pk string) (m *ledger.Member, known bool) {
	if h == nil {
		return nil, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	m, known = h.members[pk]
	return m, known
}

func (h *Hints) set(pk string, m *ledger.Member) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.members[pk] = m
}

func (h *Hints) forget(pk string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.members, pk)
}

// Prefetch reads, in one consistent BatchGetItem, the members that the
// successful-payment events of a batch will accrue to.
func (s *Store) Prefetch(ctx context.Context, pays []payment.Payment) (*Hints, error) {
	h := &Hints{members: map[string]*ledger.Member{}}
	var keys []map[string]types.AttributeValue
	requested := map[string]bool{}
	for _, p := range pays {
		pk := memberPK(p.PartnerID, p.MemberID)
		if p.Type != payment.TypeSucceeded || requested[pk] {
			continue
		}
		requested[pk] = true
		keys = append(keys, key(pk, skMember))
	}
	for len(keys) > 0 {
		n := min(len(keys), 100)
		req := map[string]types.KeysAndAttributes{s.table: {Keys: keys[:n], ConsistentRead: aws.Bool(true)}}
		keys = keys[n:]
		for attempt := 0; len(req) > 0; attempt++ {
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("prefetch members: %w", err)
			}
			for _, it := range out.Responses[s.table] {
				var m ledger.Member
				if err := attributevalue.UnmarshalMap(it, &m); err != nil {
					return nil, fmt.Errorf("unmarshal member: %w", err)
				}
				h.members[memberPK(m.PartnerID, m.ID)] = &m
			}
			req = out.UnprocessedKeys
			if len(req) > 0 {
				if err := s.backoff(ctx, attempt); err != nil {
					return nil, fmt.Errorf("prefetch members: %w", err)
				}
			}
		}
	}
	for pk := range requested {
		if _, ok := h.members[pk]; !ok {
			h.members[pk] = nil // known absent
		}
	}
	return h, nil
}
