package store

// The one way the store changes things: load, decide (a pure function of the
// domain: ledger, rules, jobs), commit what was decided as one
// TransactWriteItems whose every item is conditional on what was read, and on
// a conflict (a condition failed, or DynamoDB's TransactionConflict) load and
// decide again (retry). A txn names, for each item whose failed condition
// means something other than "someone changed what I read", what it means:
// the deduplication record of an event (the event was applied before), the
// erasure mark of a new member's id, the Idempotency-Key claim.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithytime "github.com/aws/smithy-go/time"

	"github.com/accrue/accrue/shared/ledger"
)

var (
	// errConflict: an optimistic-concurrency check failed; re-read and retry.
	errConflict = errors.New("concurrent change")
	// errDuplicate: the deduplication record exists: applied before.
	errDuplicate = errors.New("entry exists")
)

// txRole says what a failed condition on one item of a transaction means.
type txRole int

const (
	// roleFenced (the default): a version or existence check; its failure is
	// a concurrent change (errConflict): re-read and retry.
	roleFenced txRole = iota
	// roleDedup: the deduplication record of an event; its failure means the
	// event was applied before (errDuplicate).
	roleDedup
	// roleErased: the check that a new member's id was never erased; its
	// failure is ErrMemberErased.
	roleErased
	// roleIdem: the Idempotency-Key claim this request holds; its failure
	// means the claim was taken over (errIdemLost).
	roleIdem
)

// maxTxItems is DynamoDB's limit on the items of one transaction.
const maxTxItems = 100

// txn is one transaction being built.
type txn struct {
	s     *Store
	items []types.TransactWriteItem
	roles map[int]txRole
}

func (s *Store) newTxn() *txn { return &txn{s: s, roles: map[int]txRole{}} }

func (t *txn) add(role txRole, it types.TransactWriteItem) {
	if role != roleFenced {
		t.roles[len(t.items)] = role
	}
	t.items = append(t.items, it)
}

func (t *txn) empty() bool { return len(t.items) == 0 }

// putMember writes the member on condition that nobody changed it since it
// was read at prevVersion (or that it still does not exist, for a new one).
func (t *txn) putMember(m *ledger.Member, prevVersion int64, isNew bool) error {
	it, err := memberItem(m)
	if err != nil {
		return err
	}
	p := &types.Put{TableName: aws.String(t.s.table), Item: it}
	if isNew {
		p.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		p.ConditionExpression, p.ExpressionAttributeValues = versionIs(prevVersion)
	}
	t.add(roleFenced, types.TransactWriteItem{Put: p})
	return nil
}

// dedupEntry writes the entry of an event under its deduplication key, on
// condition that the key is new: its failure means the event was applied
// before (errDuplicate).
func (t *txn) dedupEntry(e *ledger.Entry, sk string) error { return t.newEntry(e, sk, roleDedup) }

// absorbedDedup checks, for an event on member m, the deduplication key sk in
// the partition of every id m absorbed (a merge): an event applied to an
// absorbed member before the merge, delivered again since, fails it as a
// duplicate (roleDedup). Those partitions take no new entries after the
// merge; the check in the transaction makes the answer exact all the same.
func (t *txn) absorbedDedup(m *ledger.Member, sk string) {
	for _, id := range m.Absorbed {
		t.add(roleDedup, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String(t.s.table), Key: key(memberPK(m.PartnerID, id), sk),
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}})
	}
}

// entry writes a new ledger entry (its key is new: a concurrent writer that
// took the same sequence number conflicts).
func (t *txn) entry(e *ledger.Entry) error { return t.newEntry(e, entrySK(e.Seq), roleFenced) }

func (t *txn) newEntry(e *ledger.Entry, sk string, role txRole) error {
	it, err := entryItem(e, sk)
	if err != nil {
		return err
	}
	t.add(role, types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(t.s.table), Item: it, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}})
	return nil
}

// lot rewrites an existing entry whose lot (or refund totals) changed, on
// condition that its version is still the one read; it increments it.
func (t *txn) lot(e *ledger.Entry, sk string) error {
	prev := e.Version
	e.Version++
	it, err := entryItem(e, sk)
	if err != nil {
		return err
	}
	p := &types.Put{TableName: aws.String(t.s.table), Item: it}
	p.ConditionExpression, p.ExpressionAttributeValues = versionIs(prev)
	t.add(roleFenced, types.TransactWriteItem{Put: p})
	return nil
}

// newRedemption writes a new redemption.
func (t *txn) newRedemption(r ledger.Redemption) error {
	return t.putNew(r, memberPK(r.PartnerID, r.MemberID), redemptionSK(r.ID))
}

// redemption rewrites a redemption read at version r.Version; it increments it.
func (t *txn) redemption(r *ledger.Redemption) error {
	prev := r.Version
	r.Version++
	return t.replace(*r, memberPK(r.PartnerID, r.MemberID), redemptionSK(r.ID), prev)
}

// stock changes a reward's redeemed count (and its stock when limited) by
// delta on condition that the reward still exists and its stock stays >= 0.
func (t *txn) stock(partner string, r ledger.Reward, delta int64) {
	u := &types.Update{
		TableName: aws.String(t.s.table), Key: key(partnerPK(partner), rewardSK(r.ID)),
		UpdateExpression:          aws.String("ADD redeemed :d"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": num(-delta)},
	}
	if r.Stock != nil {
		u.UpdateExpression = aws.String("ADD redeemed :d, stock :s")
		u.ConditionExpression = aws.String("attribute_exists(pk) AND stock >= :min")
		u.ExpressionAttributeValues[":s"] = num(delta)
		u.ExpressionAttributeValues[":min"] = num(max(-delta, 0))
	}
	t.add(roleFenced, types.TransactWriteItem{Update: u})
}

// notErased checks that member's id was never erased (roleErased).
func (t *txn) notErased(partner, member string) {
	t.add(roleErased, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String(t.s.table), Key: key(erasedPK(partner, member), skErased),
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}})
}

// touchMember increments the version of member's item (which must exist)
// and changes nothing else: a write in an absorbed member's partition (a
// refund's update of a payment's entry) shows in the version that an erasure
// of that partition is fenced on.
func (t *txn) touchMember(partner, member string) {
	t.add(roleFenced, types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(t.s.table), Key: key(memberPK(partner, member), skMember),
		UpdateExpression:          aws.String("ADD ver :one"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1)},
	}})
}

// delete deletes an item, if it is there.
func (t *txn) delete(pk, sk string) {
	t.add(roleFenced, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(t.s.table), Key: key(pk, sk)}})
}

// deleteExisting deletes an item on condition that it exists.
func (t *txn) deleteExisting(pk, sk string) {
	t.add(roleFenced, types.TransactWriteItem{Delete: &types.Delete{
		TableName: aws.String(t.s.table), Key: key(pk, sk), ConditionExpression: aws.String("attribute_exists(pk)"),
	}})
}

// putNew adds a new item (put only if absent).
func (t *txn) putNew(v any, pk, sk string) error {
	it, err := item(v, pk, sk)
	if err != nil {
		return err
	}
	t.add(roleFenced, types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(t.s.table), Item: it, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}})
	return nil
}

// put writes an item whatever is there.
func (t *txn) put(v any, pk, sk string) error {
	it, err := item(v, pk, sk)
	if err != nil {
		return err
	}
	t.add(roleFenced, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(t.s.table), Item: it}})
	return nil
}

// replace rewrites an existing item whose "ver" attribute was prevVersion.
func (t *txn) replace(v any, pk, sk string, prevVersion int64) error {
	it, err := item(v, pk, sk)
	if err != nil {
		return err
	}
	p := &types.Put{TableName: aws.String(t.s.table), Item: it}
	p.ConditionExpression, p.ExpressionAttributeValues = versionIs(prevVersion)
	t.add(roleFenced, types.TransactWriteItem{Put: p})
	return nil
}

// deleteMember deletes a member item read at version prev.
func (t *txn) deleteMember(partner, member string, prev int64) {
	cond, vals := versionIs(prev)
	t.add(roleFenced, types.TransactWriteItem{Delete: &types.Delete{
		TableName: aws.String(t.s.table), Key: key(memberPK(partner, member), skMember),
		ConditionExpression: cond, ExpressionAttributeValues: vals,
	}})
}

// deleteEraseMarker deletes the marker of a member's erasure in progress, on
// condition that it still names the anonymous id anon.
func (t *txn) deleteEraseMarker(partner, member, anon string) {
	t.add(roleFenced, types.TransactWriteItem{Delete: &types.Delete{
		TableName: aws.String(t.s.table), Key: key(memberPK(partner, member), skErase),
		ConditionExpression:       aws.String("anon = :a"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": &types.AttributeValueMemberS{Value: anon}},
	}})
}

// reviewAfterRefund is the change a refund makes to the review item (at sk)
// of the held payment whose lot is now held: its points become what is left
// in the lot (and its refunded amount the refunds so far), or, when nothing
// is left, the item is deleted. Conditional on the item's existence: a
// decision that deleted it meanwhile also changed the lot, so the refund
// re-reads and retries.
func (t *txn) reviewAfterRefund(partner, sk string, held *ledger.Entry) {
	if held.State != ledger.LotReview || held.Remaining == 0 {
		t.deleteExisting(reviewPK(partner), sk)
		return
	}
	t.add(roleFenced, types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(t.s.table), Key: key(reviewPK(partner), sk),
		UpdateExpression:          aws.String("SET pts = :p, rfm = :r"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": num(held.Remaining), ":r": num(held.RefundedMinor)},
	}})
}

func versionIs(v int64) (*string, map[string]types.AttributeValue) {
	return aws.String("ver = :v"), map[string]types.AttributeValue{":v": num(v)}
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// commit runs the transaction. With an Idempotency-Key claim in ctx, the
// response rendered from w is stored in the same transaction (see
// idempotency.go). An empty transaction commits nothing.
func (t *txn) commit(ctx context.Context, w Written) error {
	if t.empty() {
		return nil
	}
	claim, resp, err := t.withIdem(ctx, w)
	if err != nil {
		return err
	}
	if len(t.items) > maxTxItems {
		return fmt.Errorf("operation touches %d items, more than a transaction holds", len(t.items))
	}
	if len(t.items) == 1 {
		// One item needs no transaction: a conditional write of it is as
		// atomic and costs half the write units.
		return t.s.writeOne(ctx, t.items[0], t.roles[0])
	}
	if err := t.s.transact(ctx, t.items, t.roles); err != nil {
		return err
	}
	stored(claim, resp)
	return nil
}

// writeOne writes a single conditional item; a failed condition means what
// its role says.
func (s *Store) writeOne(ctx context.Context, it types.TransactWriteItem, role txRole) error {
	var err error
	switch {
	case it.Put != nil:
		p := it.Put
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: p.TableName, Item: p.Item,
			ConditionExpression: p.ConditionExpression, ExpressionAttributeNames: p.ExpressionAttributeNames,
			ExpressionAttributeValues: p.ExpressionAttributeValues})
	case it.Update != nil:
		u := it.Update
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: u.TableName, Key: u.Key,
			UpdateExpression: u.UpdateExpression, ConditionExpression: u.ConditionExpression,
			ExpressionAttributeNames: u.ExpressionAttributeNames, ExpressionAttributeValues: u.ExpressionAttributeValues})
	case it.Delete != nil:
		d := it.Delete
		_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: d.TableName, Key: d.Key,
			ConditionExpression: d.ConditionExpression, ExpressionAttributeNames: d.ExpressionAttributeNames,
			ExpressionAttributeValues: d.ExpressionAttributeValues})
	default:
		return s.transact(ctx, []types.TransactWriteItem{it}, map[int]txRole{0: role})
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return cancelled(&types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{
			{Code: aws.String("ConditionalCheckFailed")}}}, map[int]txRole{0: role}, err)
	}
	// A transaction in flight holds the item: as a conflict inside a
	// transaction, re-read and retry.
	var tce *types.TransactionConflictException
	if errors.As(err, &tce) {
		return errConflict
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// transact runs a write transaction. roles names the items whose failed
// condition means something other than a concurrent change (by index). A
// failed condition or a transaction conflict otherwise is errConflict.
// Throttling is retried by the SDK's retryer.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem, roles map[int]txRole) error {
	in := &dynamodb.TransactWriteItemsInput{TransactItems: items}
	if s.capacity != nil {
		in.ReturnConsumedCapacity = types.ReturnConsumedCapacityIndexes
	}
	out, err := s.db.TransactWriteItems(ctx, in)
	if err == nil {
		if s.capacity != nil {
			s.capacity(out.ConsumedCapacity)
		}
		return nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return cancelled(tce, roles, err)
	}
	var tip *types.TransactionInProgressException
	if errors.As(err, &tip) {
		return errConflict
	}
	return fmt.Errorf("transact write: %w", err)
}

// cancelled turns a cancelled transaction's reasons into the error of the
// most telling failed item: a duplicate first (nothing else matters then),
// then an erased id, a lost claim, and any other failed condition or
// conflict as errConflict.
func cancelled(tce *types.TransactionCanceledException, roles map[int]txRole, err error) error {
	var dup, erased, lost, conflict bool
	for i, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed":
			switch roles[i] {
			case roleDedup:
				dup = true
			case roleErased:
				erased = true
			case roleIdem:
				lost = true
			default:
				conflict = true
			}
		case "TransactionConflict":
			conflict = true
		}
	}
	switch {
	case dup:
		return errDuplicate
	case erased:
		return ErrMemberErased
	case lost:
		return errIdemLost
	case conflict:
		return errConflict
	}
	return fmt.Errorf("transaction cancelled: %w", err)
}

// maxAttempts bounds optimistic-concurrency retries of one operation.
const maxAttempts = 60

// retry runs attempt (load, decide, commit) until it returns anything but
// errConflict, backing off between attempts (full jitter, capped); after
// maxAttempts, or when ctx is done, it gives up with ErrContention.
func (s *Store) retry(ctx context.Context, what string, attempt func() error) error {
	for n := 0; ; n++ {
		err := attempt()
		if !errors.Is(err, errConflict) {
			return err
		}
		if err := s.backoff(ctx, n); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}

// backoff sleeps before retry number attempt, or returns ErrContention when
// the attempts are used up or ctx is done.
func (s *Store) backoff(ctx context.Context, attempt int) error {
	if attempt+1 >= maxAttempts {
		return ErrContention
	}
	base := time.Millisecond << min(attempt, 7) // 1ms .. 128ms
	d := time.Duration(rand.Int64N(int64(base))) + time.Millisecond
	if err := smithytime.SleepWithContext(ctx, d); err != nil {
		return fmt.Errorf("%w: %w", ErrContention, err)
	}
	return nil
}
