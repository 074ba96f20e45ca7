package ddbsim

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	smithytime "github.com/aws/smithy-go/time"
)

// The cancellation reason codes DynamoDB uses, and its messages.
const (
	codeNone                = "None"
	codeTransactionConflict = "TransactionConflict"
	msgConflict             = "Transaction is ongoing for the item"
)

// Conflicts makes DynamoDB Local conflict the way DynamoDB does (package
// doc): while a TransactWriteItems attempt is in flight it holds every item
// it touches, and a single-item write holds its item. Make it with
// NewConflicts, add it to a client with Option. Safe for concurrent use.
type Conflicts struct {
	// Delay is extra time every write holds its items before it is sent on,
	// to widen the windows in which others conflict with it. Set it before
	// the client is used.
	Delay time.Duration

	tables map[string]*table

	mu     sync.Mutex
	txHeld map[string]bool // items held by a transaction in flight
	writes map[string]int  // items with single-item writes in flight (how many)

	transactions, txConflicts atomic.Int64
	singles, singleConflicts  atomic.Int64
	txGets, txGetConflicts    atomic.Int64
}

// ConflictStats are what a Conflicts saw since it was made or last Reset.
type ConflictStats struct {
	// Transactions counts TransactWriteItems attempts; TransactionConflicts
	// those cancelled with TransactionConflict. Their ratio is a
	// conflict rate.
	Transactions, TransactionConflicts int64
	// Writes counts single-item write attempts (PutItem, UpdateItem,
	// DeleteItem, and each BatchWriteItem call); WriteConflicts those failed
	// with TransactionConflictException.
	Writes, WriteConflicts int64
	// TransactGets counts TransactGetItems attempts; TransactGetConflicts
	// those cancelled with TransactionConflict.
	TransactGets, TransactGetConflicts int64
}

// NewConflicts returns a Conflicts for the tables defined by defs (it needs
// their key schemas to tell which item a PutItem writes). A call through it
// that names another table fails with ErrUnknownTable: it could not tell
// what the call conflicts with.
func NewConflicts(defs ...*dynamodb.CreateTableInput) (*Conflicts, error) {
	tables, err := parseTables(defs)
	if err != nil {
		return nil, fmt.Errorf("ddbsim: NewConflicts: %w", err)
	}
	return &Conflicts{tables: tables, txHeld: map[string]bool{}, writes: map[string]int{}}, nil
}

// Option adds the middleware to a client: dynamodb.New(opts, c.Option).
//
// It sits at the end of the Finalize step, where awstest.Faults sits too:
// after the retryer, so that each attempt is an in-flight window of its own
// (a retry after a throttle holds its items anew) and its error goes through
// the retryer exactly like the same error from DynamoDB: the SDK's standard
// retryer does not retry TransactionCanceledException (AWS: "AWS SDKs do not
// retry the request") nor TransactionConflictException (neither is in
// retry.DefaultRetryableErrorCodes or DefaultThrottleErrorCodes of
// aws-sdk-go-v2; only TransactionInProgressException is), so both reach the
// caller's own retry logic at once. It is after the signing, so the hold
// starts when the request leaves the client and ends when its response is
// back. A Meter on the same client reads the items before a write inside
// that window (one round of reads) and after it outside.
func (c *Conflicts) Option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		if err := addInputStash(s); err != nil {
			return err
		}
		if err := s.Finalize.Add(middleware.FinalizeMiddlewareFunc("ddbsim-conflicts", c.handle), middleware.After); err != nil {
			return fmt.Errorf("ddbsim: add conflicts: %w", err)
		}
		return nil
	})
}

// Stats returns the counts so far.
func (c *Conflicts) Stats() ConflictStats {
	return ConflictStats{
		Transactions: c.transactions.Load(), TransactionConflicts: c.txConflicts.Load(),
		Writes: c.singles.Load(), WriteConflicts: c.singleConflicts.Load(),
		TransactGets: c.txGets.Load(), TransactGetConflicts: c.txGetConflicts.Load(),
	}
}

// Reset zeroes the counts (between the phases of a benchmark). Items held
// by calls in flight stay held.
func (c *Conflicts) Reset() {
	for _, n := range []*atomic.Int64{&c.transactions, &c.txConflicts, &c.singles, &c.singleConflicts, &c.txGets, &c.txGetConflicts} {
		n.Store(0)
	}
}

func (c *Conflicts) handle(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	switch x := inputOf(ctx).(type) {
	case *dynamodb.TransactWriteItemsInput:
		return c.transaction(ctx, x, in, next)
	case *dynamodb.TransactGetItemsInput:
		return c.transactGet(ctx, x, in, next)
	case *dynamodb.PutItemInput:
		return c.single(ctx, []itemRef{{x.TableName, x.Item}}, in, next)
	case *dynamodb.UpdateItemInput:
		return c.single(ctx, []itemRef{{x.TableName, x.Key}}, in, next)
	case *dynamodb.DeleteItemInput:
		return c.single(ctx, []itemRef{{x.TableName, x.Key}}, in, next)
	case *dynamodb.BatchWriteItemInput:
		var refs []itemRef
		for name, wrs := range x.RequestItems {
			for _, wr := range wrs {
				switch {
				case wr.PutRequest != nil:
					refs = append(refs, itemRef{aws.String(name), wr.PutRequest.Item})
				case wr.DeleteRequest != nil:
					refs = append(refs, itemRef{aws.String(name), wr.DeleteRequest.Key})
				}
			}
		}
		return c.single(ctx, refs, in, next)
	}
	return next.HandleFinalize(ctx, in)
}

// itemRef is an item (or key) of a call and the table it names.
type itemRef struct {
	table *string
	item  map[string]types.AttributeValue
}

// ids returns the items' ids; "" for one without its key attributes (the
// call goes on, and DynamoDB Local rejects it).
func (c *Conflicts) ids(refs []itemRef) ([]string, error) {
	ids := make([]string, len(refs))
	for i, r := range refs {
		t, err := lookup(c.tables, r.table)
		if err != nil {
			return nil, fmt.Errorf("ddbsim: conflicts: %w", err)
		}
		if key, ok := t.keyOf(r.item); ok {
			ids[i] = t.id(key)
		}
	}
	return ids, nil
}

func transactRefs(x *dynamodb.TransactWriteItemsInput) []itemRef {
	refs := make([]itemRef, len(x.TransactItems))
	for i, ti := range x.TransactItems {
		switch {
		case ti.Put != nil:
			refs[i] = itemRef{ti.Put.TableName, ti.Put.Item}
		case ti.Update != nil:
			refs[i] = itemRef{ti.Update.TableName, ti.Update.Key}
		case ti.Delete != nil:
			refs[i] = itemRef{ti.Delete.TableName, ti.Delete.Key}
		case ti.ConditionCheck != nil:
			refs[i] = itemRef{ti.ConditionCheck.TableName, ti.ConditionCheck.Key}
		}
	}
	return refs
}

func (c *Conflicts) transaction(ctx context.Context, x *dynamodb.TransactWriteItemsInput, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	ids, err := c.ids(transactRefs(x))
	if err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, err
	}
	c.transactions.Add(1)
	c.mu.Lock()
	conflicts, conflict := c.heldAt(ids)
	if !conflict {
		for _, id := range ids {
			if id != "" {
				c.txHeld[id] = true
			}
		}
	}
	c.mu.Unlock()
	if conflict {
		c.txConflicts.Add(1)
		return middleware.FinalizeOutput{}, middleware.Metadata{}, asServiceError(cancelledByConflict(conflicts))
	}
	defer func() {
		c.mu.Lock()
		for _, id := range ids {
			delete(c.txHeld, id)
		}
		c.mu.Unlock()
	}()
	if err := c.hold(ctx); err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, err
	}
	return next.HandleFinalize(ctx, in)
}

func (c *Conflicts) single(ctx context.Context, refs []itemRef, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	ids, err := c.ids(refs)
	if err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, err
	}
	c.singles.Add(1)
	c.mu.Lock()
	held := false
	for _, id := range ids {
		held = held || c.txHeld[id]
	}
	if !held {
		for _, id := range ids {
			if id != "" {
				c.writes[id]++
			}
		}
	}
	c.mu.Unlock()
	if held {
		c.singleConflicts.Add(1)
		return middleware.FinalizeOutput{}, middleware.Metadata{}, asServiceError(&types.TransactionConflictException{Message: aws.String(msgConflict)})
	}
	defer func() {
		c.mu.Lock()
		for _, id := range ids {
			if id == "" {
				continue
			}
			if c.writes[id]--; c.writes[id] == 0 {
				delete(c.writes, id)
			}
		}
		c.mu.Unlock()
	}()
	if err := c.hold(ctx); err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, err
	}
	return next.HandleFinalize(ctx, in)
}

// transactGet cancels a TransactGetItems of an item a write holds; it holds
// nothing itself (AWS lists no conflict of a write with an ongoing read).
func (c *Conflicts) transactGet(ctx context.Context, x *dynamodb.TransactGetItemsInput, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	refs := make([]itemRef, len(x.TransactItems))
	for i, ti := range x.TransactItems {
		if ti.Get != nil {
			refs[i] = itemRef{ti.Get.TableName, ti.Get.Key}
		}
	}
	ids, err := c.ids(refs)
	if err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, err
	}
	c.txGets.Add(1)
	c.mu.Lock()
	conflicts, conflict := c.heldAt(ids)
	c.mu.Unlock()
	if conflict {
		c.txGetConflicts.Add(1)
		return middleware.FinalizeOutput{}, middleware.Metadata{}, asServiceError(cancelledByConflict(conflicts))
	}
	return next.HandleFinalize(ctx, in)
}

// heldAt tells which of the items (ids) a transaction or a single-item
// write in flight holds, and whether any. c.mu must be held.
func (c *Conflicts) heldAt(ids []string) (held []bool, anyHeld bool) {
	held = make([]bool, len(ids))
	for i, id := range ids {
		if id != "" && (c.txHeld[id] || c.writes[id] > 0) {
			held[i], anyHeld = true, true
		}
	}
	return held, anyHeld
}

// cancelledByConflict is DynamoDB's error for a transaction some of whose
// items (conflicts[i]) another call holds: one reason per item, in the order
// of the request, TransactionConflict where held and None elsewhere, and the
// codes repeated in the message as DynamoDB does.
func cancelledByConflict(conflicts []bool) error {
	reasons := make([]types.CancellationReason, len(conflicts))
	codes := make([]string, len(conflicts))
	for i, held := range conflicts {
		codes[i] = codeNone
		reasons[i] = types.CancellationReason{Code: aws.String(codeNone)}
		if held {
			codes[i] = codeTransactionConflict
			reasons[i] = types.CancellationReason{Code: aws.String(codeTransactionConflict), Message: aws.String(msgConflict)}
		}
	}
	return &types.TransactionCanceledException{
		Message:             aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "]"),
		CancellationReasons: reasons,
	}
}

// hold keeps the items held for Delay, and until the test releases a call
// made with Pause.
func (c *Conflicts) hold(ctx context.Context) error {
	if c.Delay > 0 {
		if err := smithytime.SleepWithContext(ctx, c.Delay); err != nil {
			return fmt.Errorf("ddbsim: conflicts: delay: %w", err)
		}
	}
	p, _ := ctx.Value(pauseKey{}).(*pause)
	if p == nil {
		return nil
	}
	p.once.Do(func() { close(p.held) })
	select {
	case <-p.release:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ddbsim: conflicts: paused: %w", ctx.Err())
	}
}

type pauseKey struct{}

type pause struct {
	release <-chan struct{}
	held    chan struct{}
	once    sync.Once
}

// Pause returns a context for one call through a Conflicts: once the call
// holds its items, held is closed and the call waits, holding them, until
// release is closed (then it goes on to DynamoDB Local). Tests use it to put
// a call in flight for as long as they need, instead of racing on timing.
func Pause(ctx context.Context, release <-chan struct{}) (_ context.Context, held <-chan struct{}) {
	p := &pause{release: release, held: make(chan struct{})}
	return context.WithValue(ctx, pauseKey{}, p), p.held
}
