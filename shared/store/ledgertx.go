package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
)

// LedgerTx is one change of a member's points, committed as one
// TransactWriteItems: the member (conditional on its version), the new ledger
// entries, the lots it changed (each conditional on its version) and any other
// item the operation needs (a redemption, a stock counter, an audit record).
type LedgerTx struct {
	s      *Store
	ctx    context.Context
	Now    time.Time
	Member ledger.Member

	prevVersion int64
	lots        []*ledger.Entry
	lotKeys     map[*ledger.Entry]string
	loaded      bool
	changed     map[*ledger.Entry]bool
	entries     []*ledger.Entry
	items       []types.TransactWriteItem
	// due: the member's exact next due time set by SetDue (the member jobs);
	// nil: commit lowers Due for what the transaction wrote.
	due *time.Time
	// redemption: the redemption this transaction writes, if any (for the
	// response stored with it, see idempotency.go).
	redemption *ledger.Redemption
}

// noteRedemption remembers a redemption the transaction writes.
func (tx *LedgerTx) noteRedemption(v any) {
	if r, ok := v.(ledger.Redemption); ok {
		tx.redemption = &r
	}
}

// AvailableLots returns the member's lots with available points (loaded on first
// use, read consistently).
func (tx *LedgerTx) AvailableLots() ([]*ledger.Entry, error) {
	if tx.loaded {
		return tx.lots, nil
	}
	lots, keys, err := tx.s.lots(tx.ctx, tx.Member.PartnerID, tx.Member.ID, "ls", string(ledger.LotAvailable))
	if err != nil {
		return nil, err
	}
	tx.lots, tx.lotKeys, tx.loaded = lots, keys, true
	return lots, nil
}

// LotKey is the key of a lot returned by AvailableLots (or Lot).
func (tx *LedgerTx) LotKey(l *ledger.Entry) string { return tx.lotKeys[l] }

// Lot loads one lot by key (to restore a cancelled hold's points).
func (tx *LedgerTx) Lot(sk string) (*ledger.Entry, error) {
	for l, k := range tx.lotKeys {
		if k == sk {
			return l, nil
		}
	}
	var e ledger.Entry
	found, err := tx.s.getItem(tx.ctx, memberPK(tx.Member.PartnerID, tx.Member.ID), sk, &e)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("lot %s of %s/%s: %w", sk, tx.Member.PartnerID, tx.Member.ID, ErrNotFound)
	}
	tx.lotKeys[&e] = sk
	return &e, nil
}

// Changed marks a lot as changed: it is written back, conditional on its version.
func (tx *LedgerTx) Changed(l *ledger.Entry) { tx.changed[l] = true }

// Book appends a new ledger entry (its Delta already set) to the member.
func (tx *LedgerTx) Book(e *ledger.Entry) {
	e.At = tx.Now.UTC()
	tx.Member.Apply(e)
	tx.entries = append(tx.entries, e)
}

// Put adds a new item (put only if absent).
func (tx *LedgerTx) Put(v any, pk, sk string) error {
	it, err := item(v, pk, sk)
	if err != nil {
		return err
	}
	tx.noteRedemption(v)
	tx.items = append(tx.items, types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(tx.s.table), Item: it, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}})
	return nil
}

// Replace rewrites an existing item whose "ver" attribute was prevVersion.
func (tx *LedgerTx) Replace(v any, pk, sk string, prevVersion int64) error {
	it, err := item(v, pk, sk)
	if err != nil {
		return err
	}
	tx.noteRedemption(v)
	tx.items = append(tx.items, types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(tx.s.table), Item: it, ConditionExpression: aws.String("ver = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(prevVersion)},
	}})
	return nil
}

// Raw adds a prepared transaction item (counters, deletes).
func (tx *LedgerTx) Raw(it types.TransactWriteItem) { tx.items = append(tx.items, it) }

// ErrNotFound: the addressed item does not exist.
var ErrNotFound = errors.New("not found")

// UpdateLedger runs fn on the member and commits what it booked in one
// transaction; on a concurrent change it runs fn again on fresh data. fn must
// be free of side effects other than on tx. A business error from fn is
// returned as is, with nothing written.
func (s *Store) UpdateLedger(ctx context.Context, partner, member string, fn func(*LedgerTx) error) (ledger.Member, error) {
	for attempt := 0; ; attempt++ {
		m, err := s.Member(ctx, partner, member)
		if err != nil {
			return m, err
		}
		tx := &LedgerTx{
			s: s, ctx: ctx, Now: s.now(), Member: m, prevVersion: m.Version,
			lotKeys: map[*ledger.Entry]string{}, changed: map[*ledger.Entry]bool{},
		}
		if err := fn(tx); err != nil {
			return m, err
		}
		err = tx.commit()
		if err == nil {
			return tx.Member, nil
		}
		if !errors.Is(err, errConflict) && !errors.Is(err, errDuplicate) {
			return m, err // errIdemLost among them: the claim is gone, nothing was written
		}
		if err := s.backoff(ctx, attempt); err != nil {
			return m, fmt.Errorf("update ledger of %s/%s: %w", partner, member, err)
		}
	}
}

func (tx *LedgerTx) commit() error {
	dueBefore := tx.Member.Due
	if err := tx.scheduleDue(); err != nil {
		return err
	}
	if len(tx.entries) == 0 && len(tx.items) == 0 && len(tx.changed) == 0 && tx.Member.Due == dueBefore {
		return nil
	}
	tx.Member.Version = tx.prevVersion + 1
	mput, err := tx.s.putMember(&tx.Member, tx.prevVersion, false)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{mput}
	for _, e := range tx.entries {
		it, err := tx.s.putNewEntry(e, entrySK(e.Seq))
		if err != nil {
			return err
		}
		items = append(items, it)
	}
	for l := range tx.changed {
		l.Version++
		it, err := tx.s.putEntryUpdate(l, tx.lotKeys[l])
		if err != nil {
			return err
		}
		items = append(items, it)
	}
	items = append(items, tx.items...)
	w := Written{Member: tx.Member, Redemption: tx.redemption}
	if n := len(tx.entries); n > 0 {
		e := *tx.entries[n-1]
		w.Entry = &e
	}
	items, roles, claim, resp, err := tx.s.withIdem(tx.ctx, items, nil, w)
	if err != nil {
		return err
	}
	if len(items) > 100 {
		return fmt.Errorf("operation touches %d items, more than a transaction holds", len(items))
	}
	if err := tx.s.transact(tx.ctx, items, roles); err != nil {
		return err
	}
	stored(claim, resp)
	return nil
}

// lots returns the member's entries whose lot is in state (attr "ls"), or
// all with points left (attr ""), and their keys, in key order.
func (s *Store) lots(ctx context.Context, partner, member, attr, state string) ([]*ledger.Entry, map[*ledger.Entry]string, error) {
	keyCond := expression.Key(AttrPK).Equal(expression.Value(memberPK(partner, member)))
	filt := expression.Name("rem").GreaterThan(expression.Value(0))
	if attr != "" {
		filt = expression.Name(attr).Equal(expression.Value(state)).And(filt)
	}
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).WithFilter(filt).Build()
	if err != nil {
		return nil, nil, fmt.Errorf("build lots query: %w", err)
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var lots []*ledger.Entry
	keys := map[*ledger.Entry]string{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("query lots of %s/%s: %w", partner, member, err)
		}
		for _, it := range page.Items {
			var e ledger.Entry
			if err := attributevalue.UnmarshalMap(it, &e); err != nil {
				return nil, nil, fmt.Errorf("unmarshal lot: %w", err)
			}
			sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
			if sk == nil {
				continue
			}
			lots = append(lots, &e)
			keys[&e] = sk.Value
		}
	}
	// Key order: which lot goes first is the domain's decision (ledger.Spend,
	// ledger.Reverse and the jobs' planners order lots themselves).
	return lots, keys, nil
}
