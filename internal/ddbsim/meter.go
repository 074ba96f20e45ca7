package ddbsim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// PartitionWriteLimit is AWS's documented ceiling of one partition, 1,000
// write units per second ("Best practices for designing and using partition
// keys effectively"). It caps one item, and every partition key value of a
// table with a local secondary index (DynamoDB keeps such an item collection
// in one partition and adaptive capacity does not split it). A partition key
// value without an LSI (a GSI's, or a table's without one) can be split by
// its sort key under load, so for one of many items the cap is a floor.
const PartitionWriteLimit = 1000

// Reader reads items for the Meter. It must be a client without the Meter
// on it (awstest.Client(t)): the Meter's own reads are not part of what it
// measures. (Should a metered client be passed anyway, the Meter passes its
// own reads through unmetered rather than deadlocking on its item locks.)
type Reader interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// PartitionKey names one partition key value in one key space.
type PartitionKey struct {
	// Index is "" for the table's key space, which holds the table's items
	// and their local secondary index entries (an LSI shares the table's
	// partition key, and DynamoDB keeps an item collection with its LSI
	// entries in one partition), or the name of a global secondary index.
	Index string
	// Value is the partition key value (KeyString).
	Value string
}

// KeyWRU is one bar of the partition key histogram.
type KeyWRU struct {
	Key PartitionKey
	WRU int64
}

// IndexFigures are the writes one secondary index received.
type IndexFigures struct {
	WRU int64
	// Index item writes by kind: a put of an item entering the index (or of
	// the new key after a key change), a delete of an item leaving it (or
	// of the old key), an update of projected attributes under the same key.
	Puts, Deletes, Updates int64
}

// OpFigures are the figures of one operation (PutItem, TransactWriteItems,
// Query, ...).
type OpFigures struct {
	// Calls counts calls (not attempts) that reached DynamoDB Local, and
	// calls that a Conflicts middleware cancelled before they got there.
	Calls int64
	// WRU: billed write units of the successful calls, table and indexes.
	WRU int64
	// HalfRRU: billed read units of the successful reads, in halves.
	HalfRRU int64
	// Rejected counts failed conditional writes and cancelled transactions;
	// RejectedWRU what AWS bills for them (package doc).
	Rejected, RejectedWRU int64
	// Errors counts calls that failed otherwise (nothing billed).
	Errors int64
}

// Report is what a Meter counted since it was made or last Reset. Figures
// are integers: WRU in write units, reads in half read units.
type Report struct {
	// TotalWRU is every write unit billed for successful writes: TableWRU
	// plus the WRU of every index.
	TotalWRU int64
	TableWRU int64
	// Indexes, by index name (local and global).
	Indexes map[string]IndexFigures
	// HalfRRU is every read unit billed, in halves (an eventually
	// consistent read of up to 4 KB is 1, a strongly consistent one 2, a
	// transactional one 4).
	HalfRRU int64
	// Rejected and RejectedWRU: failed conditional writes and cancelled
	// transactions, and what AWS bills for them; not in TotalWRU.
	Rejected, RejectedWRU int64
	// Ops, by operation name.
	Ops map[string]OpFigures
	// Partitions is the histogram of the successful writes' WRU by the
	// partition key they land on (table and every index);
	// RejectedPartitions the same of the rejected ones.
	Partitions, RejectedPartitions map[PartitionKey]int64
}

// WRU is the write units that landed on partition key k.
func (r Report) WRU(k PartitionKey) int64 { return r.Partitions[k] }

// HottestKey returns the partition key of one key space (index "" for the
// table, or a global secondary index's name) that received the most write
// units, and how many. Ties go to the smallest key, so the answer does not
// depend on map order.
func (r Report) HottestKey(index string) (PartitionKey, int64) {
	for _, b := range r.Ranked() {
		if b.Key.Index == index {
			return b.Key, b.WRU
		}
	}
	return PartitionKey{Index: index}, 0
}

// Hottest returns the partition key, of any key space, that received the
// most write units: the one that caps the whole workload's rate at
// PartitionWriteLimit.
func (r Report) Hottest() (PartitionKey, int64) {
	if rk := r.Ranked(); len(rk) > 0 {
		return rk[0].Key, rk[0].WRU
	}
	return PartitionKey{}, 0
}

// Ranked returns the histogram, the most written key first.
func (r Report) Ranked() []KeyWRU {
	out := make([]KeyWRU, 0, len(r.Partitions))
	for k, n := range r.Partitions {
		out = append(out, KeyWRU{k, n})
	}
	slices.SortFunc(out, func(a, b KeyWRU) int {
		if c := cmp.Compare(b.WRU, a.WRU); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Key.Index, b.Key.Index); c != 0 {
			return c
		}
		return cmp.Compare(a.Key.Value, b.Key.Value)
	})
	return out
}

func (r *Report) clone() Report {
	c := *r
	c.Indexes = maps.Clone(r.Indexes)
	c.Ops = maps.Clone(r.Ops)
	c.Partitions = maps.Clone(r.Partitions)
	c.RejectedPartitions = maps.Clone(r.RejectedPartitions)
	return c
}

func newReport() Report {
	return Report{
		Indexes: map[string]IndexFigures{}, Ops: map[string]OpFigures{},
		Partitions: map[PartitionKey]int64{}, RejectedPartitions: map[PartitionKey]int64{},
	}
}

// lockStripes: item locks are striped (a fixed set of mutexes chosen by a
// hash of the item), which needs no bookkeeping of which items are locked.
const lockStripes = 1024

// maxKeptErrors bounds the errors a Meter keeps to report.
const maxKeptErrors = 10

// Meter bills, by AWS's rules (package doc), what DynamoDB Local actually
// writes through a client, and counts reads. Make it with NewMeter, add it to
// a client with Option, read it with Report. Safe for concurrent use.
//
// The Meter never changes a call's outcome: when it cannot bill a call (a
// table it has no definition of, a failed read of its own) it passes the
// call through and keeps the error for Err.
type Meter struct {
	raw    Reader
	tables map[string]*table
	locks  [lockStripes]sync.Mutex

	mu      sync.Mutex
	r       Report
	errs    []error
	errsLen int
	// sizes: each item's size when the Meter last read it (0: absent), to
	// bill a call a Conflicts cancelled without reading its items again.
	sizes map[string]int
}

// NewMeter returns a Meter of the tables defined by defs (the inputs that
// created them, e.g. store.CreateTableInput(name)), reading items with raw.
func NewMeter(raw Reader, defs ...*dynamodb.CreateTableInput) (*Meter, error) {
	if raw == nil {
		return nil, errors.New("ddbsim: NewMeter: nil Reader")
	}
	tables, err := parseTables(defs)
	if err != nil {
		return nil, fmt.Errorf("ddbsim: NewMeter: %w", err)
	}
	return &Meter{raw: raw, tables: tables, r: newReport(), sizes: map[string]int{}}, nil
}

// Option adds the Meter to a client: dynamodb.New(raw.Options(), m.Option).
//
// It sits in two places of the stack. At the start of the Deserialize step,
// inside the retryer and after every Finalize middleware (Conflicts,
// awstest.Faults): there it sees the attempts that really go to DynamoDB
// Local, and at the first one it locks the items and reads them as they are
// before. At the end of the Initialize step, outside the retryer: there it
// sees the outcome of the whole call, reads the items after it and bills
// the difference once, whatever attempts it took (a throttled attempt is
// not billed on AWS either), or bills a call a Conflicts cancelled before it
// got to DynamoDB Local.
func (m *Meter) Option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		if err := addInputStash(s); err != nil {
			return err
		}
		if err := s.Initialize.Add(middleware.InitializeMiddlewareFunc("ddbsim-meter-call", m.handleCall), middleware.After); err != nil {
			return fmt.Errorf("ddbsim: add meter: %w", err)
		}
		if err := s.Deserialize.Add(middleware.DeserializeMiddlewareFunc("ddbsim-meter-attempt", m.handleAttempt), middleware.Before); err != nil {
			return fmt.Errorf("ddbsim: add meter: %w", err)
		}
		return nil
	})
}

// Report returns a copy of the figures so far.
func (m *Meter) Report() Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.r.clone()
}

// Reset zeroes the figures (between the phases of a benchmark). Errors
// stay: they say the figures cannot be trusted.
func (m *Meter) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.r = newReport()
}

// Err returns the errors that kept the Meter from billing a call (nil when
// every call was billed). A benchmark should fail on it.
func (m *Meter) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := errors.Join(m.errs...)
	if n := m.errsLen - len(m.errs); n > 0 {
		err = fmt.Errorf("%w\n(and %d more)", err, n)
	}
	return err
}

func (m *Meter) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errsLen++
	if len(m.errs) < maxKeptErrors {
		m.errs = append(m.errs, err)
	}
}

var writeOps = map[string]bool{"PutItem": true, "UpdateItem": true, "DeleteItem": true, "TransactWriteItems": true, "BatchWriteItem": true}
var readOps = map[string]bool{"GetItem": true, "BatchGetItem": true, "TransactGetItems": true, "Query": true}

// partiQLOps write too, but in a language the Meter does not parse.
var partiQLOps = map[string]bool{"ExecuteStatement": true, "BatchExecuteStatement": true, "ExecuteTransaction": true}

type internalKey struct{}

// internal marks the context of the Meter's own reads.
func internal(ctx context.Context) context.Context {
	// Without cancel: the caller's deadline may pass between its write and
	// the Meter's read after it, and the bill must still be made.
	return context.WithValue(context.WithoutCancel(ctx), internalKey{}, true)
}

// callKey: the stack value through which the two parts of the Meter share
// what they know of one write call.
type callKey struct{}

// call is one write call as the Meter follows it. The attempts run one
// after the other on the call's goroutine, so it needs no lock.
type call struct {
	// reached: an attempt got past every Finalize middleware (a Conflicts
	// did not cancel it).
	reached bool
	// ts, before and unlock: the items, as they were before the first
	// attempt that reached DynamoDB Local, locked until the call is over.
	ts     []target
	before []map[string]types.AttributeValue
	unlock func()
}

// handleCall is the outer part: it bills reads on their outcome, and writes
// once the call is over, reading the items after it (outside the window in
// which a Conflicts holds them: the Meter widens that window as little as it
// can).
func (m *Meter) handleCall(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	op := middleware.GetOperationName(ctx)
	switch {
	case ctx.Value(internalKey{}) != nil:
		return next.HandleInitialize(ctx, in)
	case partiQLOps[op]:
		m.fail(fmt.Errorf("ddbsim: meter: %s is not metered", op))
		return next.HandleInitialize(ctx, in)
	case readOps[op]:
		out, md, err := next.HandleInitialize(ctx, in)
		m.billRead(ctx, op, in.Parameters, out.Result, err)
		return out, md, err
	case !writeOps[op]:
		return next.HandleInitialize(ctx, in)
	}
	c := &call{}
	out, md, err := next.HandleInitialize(middleware.WithStackValue(ctx, callKey{}, c), in)
	switch {
	case c.unlock != nil:
		after, aerr := m.readAll(ctx, c.ts)
		c.unlock()
		if aerr != nil {
			m.fail(fmt.Errorf("ddbsim: meter: %s: read after: %w", op, aerr))
			break
		}
		m.billWrite(op, c.ts, c.before, after, out.Result, err)
	case !c.reached && isConflict(err):
		m.billUnreached(ctx, op, in.Parameters)
	}
	return out, md, err
}

// handleAttempt is the inner part: at the first attempt of a write that
// reaches DynamoDB Local it locks the items against other metered writes
// and reads them as they are before the write.
func (m *Meter) handleAttempt(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	c, _ := middleware.GetStackValue(ctx, callKey{}).(*call)
	if c == nil || c.reached {
		return next.HandleDeserialize(ctx, in)
	}
	c.reached = true
	op := middleware.GetOperationName(ctx)
	ts, err := m.targets(inputOf(ctx))
	switch {
	case err != nil:
		m.fail(fmt.Errorf("ddbsim: meter: %s: %w", op, err))
	case ts != nil: // nil: a key attribute is missing, DynamoDB Local rejects the call
		unlock := m.lock(ts)
		before, err := m.readAll(ctx, ts)
		if err != nil {
			unlock()
			m.fail(fmt.Errorf("ddbsim: meter: %s: read before: %w", op, err))
			break
		}
		c.ts, c.before, c.unlock = ts, before, unlock
	}
	return next.HandleDeserialize(ctx, in)
}

// isConflict: the error of a call rejected because another one held an item.
func isConflict(err error) bool {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == codeTransactionConflict {
				return true
			}
		}
	}
	var conflict *types.TransactionConflictException
	return errors.As(err, &conflict)
}

type targetKind int

const (
	kindWrite targetKind = iota // put, update or delete: billed on the sizes before and after
	kindCheck                   // a transaction's ConditionCheck
)

// target is one item a write call touches.
type target struct {
	t    *table
	key  map[string]types.AttributeValue
	id   string
	kind targetKind
	// put: the new item of a Put (a failed conditional put is billed on the
	// larger of it and the item it did not replace).
	put map[string]types.AttributeValue
}

// targets lists the items a write call touches; nil (and no error) when a
// key attribute is missing.
func (m *Meter) targets(input any) ([]target, error) {
	var ts []target
	add := func(tableName *string, item map[string]types.AttributeValue, isPut bool, kind targetKind) (bool, error) {
		t, err := lookup(m.tables, tableName)
		if err != nil {
			return false, err
		}
		key, ok := t.keyOf(item)
		if !ok {
			return false, nil
		}
		tg := target{t: t, key: key, id: t.id(key), kind: kind}
		if isPut {
			tg.put = item
		}
		ts = append(ts, tg)
		return true, nil
	}
	var ok bool
	var err error
	switch x := input.(type) {
	case *dynamodb.PutItemInput:
		ok, err = add(x.TableName, x.Item, true, kindWrite)
	case *dynamodb.UpdateItemInput:
		ok, err = add(x.TableName, x.Key, false, kindWrite)
	case *dynamodb.DeleteItemInput:
		ok, err = add(x.TableName, x.Key, false, kindWrite)
	case *dynamodb.TransactWriteItemsInput:
		for _, ti := range x.TransactItems {
			switch {
			case ti.Put != nil:
				ok, err = add(ti.Put.TableName, ti.Put.Item, true, kindWrite)
			case ti.Update != nil:
				ok, err = add(ti.Update.TableName, ti.Update.Key, false, kindWrite)
			case ti.Delete != nil:
				ok, err = add(ti.Delete.TableName, ti.Delete.Key, false, kindWrite)
			case ti.ConditionCheck != nil:
				ok, err = add(ti.ConditionCheck.TableName, ti.ConditionCheck.Key, false, kindCheck)
			}
			if !ok || err != nil {
				break
			}
		}
	case *dynamodb.BatchWriteItemInput:
		for _, name := range slices.Sorted(maps.Keys(x.RequestItems)) {
			for _, wr := range x.RequestItems[name] {
				switch {
				case wr.PutRequest != nil:
					ok, err = add(aws.String(name), wr.PutRequest.Item, true, kindWrite)
				case wr.DeleteRequest != nil:
					ok, err = add(aws.String(name), wr.DeleteRequest.Key, false, kindWrite)
				}
				if !ok || err != nil {
					break
				}
			}
			if !ok || err != nil {
				break
			}
		}
	default:
		return nil, fmt.Errorf("unexpected input %T", input)
	}
	if err != nil || !ok {
		return nil, err
	}
	return ts, nil
}

// lock locks the stripes of the targets' items in ascending order (so two
// calls never wait for each other) and returns the unlock.
func (m *Meter) lock(ts []target) func() {
	var stripes []int
	for _, tg := range ts {
		h := fnv.New32a()
		h.Write([]byte(tg.id))
		stripes = append(stripes, int(h.Sum32()%lockStripes))
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, s := range stripes {
		m.locks[s].Lock()
	}
	return func() {
		for i := len(stripes) - 1; i >= 0; i-- {
			m.locks[stripes[i]].Unlock()
		}
	}
}

// readAll reads the targets' items (nil where absent), strongly consistent,
// all at once: the reads before a write are in its in-flight window.
func (m *Meter) readAll(ctx context.Context, ts []target) ([]map[string]types.AttributeValue, error) {
	out := make([]map[string]types.AttributeValue, len(ts))
	errs := make([]error, len(ts))
	var wg sync.WaitGroup
	for i, tg := range ts {
		wg.Go(func() { out[i], errs[i] = m.get(ctx, tg.t, tg.key) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, tg := range ts {
		m.sizes[tg.id] = ItemSize(out[i])
	}
	return out, nil
}

func (m *Meter) get(ctx context.Context, t *table, key map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	res, err := m.raw.GetItem(internal(ctx), &dynamodb.GetItemInput{TableName: aws.String(t.name), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", t.id(key), err)
	}
	return res.Item, nil
}

// bill accumulates what one call is billed. Made without the lock, then
// added to the Report under it.
type bill struct {
	wru, tableWRU, halfRRU int64
	indexes                map[string]IndexFigures
	parts                  map[PartitionKey]int64
}

func newBill() *bill {
	return &bill{indexes: map[string]IndexFigures{}, parts: map[PartitionKey]int64{}}
}

func (b *bill) table(t *table, key map[string]types.AttributeValue, wru int64) {
	b.wru += wru
	b.tableWRU += wru
	b.parts[PartitionKey{Value: KeyString(key[t.key.pk])}] += wru
}

// index bills one index item write of wru units, landing on indexItem's
// partition key.
func (b *bill) index(ix *index, indexItem map[string]types.AttributeValue, wru int64, count func(*IndexFigures)) {
	b.wru += wru
	f := b.indexes[ix.name]
	f.WRU += wru
	count(&f)
	b.indexes[ix.name] = f
	space := ix.name
	if ix.local {
		space = ""
	}
	b.parts[PartitionKey{Index: space, Value: KeyString(indexItem[ix.key.pk])}] += wru
}

func countPut(f *IndexFigures)    { f.Puts++ }
func countDelete(f *IndexFigures) { f.Deletes++ }
func countUpdate(f *IndexFigures) { f.Updates++ }

// writeUnits bills the successful write of one item from before to after
// in each index of its table (package doc: index rules).
func (b *bill) indexWrites(t *table, before, after map[string]types.AttributeValue) {
	for i := range t.indexes {
		ix := &t.indexes[i]
		old, cur := t.project(ix, before), t.project(ix, after)
		switch {
		case old == nil && cur == nil:
		case old == nil:
			b.index(ix, cur, units(ItemSize(cur), writeUnitBytes), countPut)
		case cur == nil:
			b.index(ix, old, units(ItemSize(old), writeUnitBytes), countDelete)
		case !sameValue(old[ix.key.pk], cur[ix.key.pk]) || (ix.key.sk != "" && !sameValue(old[ix.key.sk], cur[ix.key.sk])):
			b.index(ix, old, units(ItemSize(old), writeUnitBytes), countDelete)
			b.index(ix, cur, units(ItemSize(cur), writeUnitBytes), countPut)
		case sameItem(old, cur):
			// Nothing the index holds changed: no index write.
		default:
			b.index(ix, cur, units(max(ItemSize(old), ItemSize(cur)), writeUnitBytes), countUpdate)
		}
	}
}

// rejected bills a target whose write was refused (a failed condition, a
// cancelled transaction): the size of the item there (size), or of the new
// item of a Put when larger; 1 unit when there is none.
func (b *bill) rejected(tg target, size int) {
	if tg.put != nil {
		size = max(size, ItemSize(tg.put))
	}
	b.table(tg.t, tg.key, units(size, writeUnitBytes))
}

func (m *Meter) billWrite(op string, ts []target, before, after []map[string]types.AttributeValue, result any, err error) {
	var ccf *types.ConditionalCheckFailedException
	var tce *types.TransactionCanceledException
	switch {
	case err == nil:
	case errors.As(err, &ccf) || errors.As(err, &tce):
		b := newBill()
		for i, tg := range ts {
			b.rejected(tg, ItemSize(before[i]))
		}
		m.addRejected(op, b)
		return
	default:
		m.addError(op)
		return
	}
	factor := int64(1)
	if op == "TransactWriteItems" {
		factor = 2 // prepare and commit (package doc)
	}
	unprocessed := unprocessedIDs(m.tables, result)
	b := newBill()
	for i, tg := range ts {
		if unprocessed[tg.id] {
			continue
		}
		if tg.kind == kindCheck {
			b.table(tg.t, tg.key, factor*units(ItemSize(before[i]), writeUnitBytes))
			continue
		}
		b.table(tg.t, tg.key, factor*units(max(ItemSize(before[i]), ItemSize(after[i])), writeUnitBytes))
		b.indexWrites(tg.t, before[i], after[i])
	}
	m.addBill(op, b)
}

// unprocessedIDs: the items a BatchWriteItem did not write (they are not
// billed; the caller sends them again).
func unprocessedIDs(tables map[string]*table, result any) map[string]bool {
	out, ok := result.(*dynamodb.BatchWriteItemOutput)
	if !ok || out == nil {
		return nil
	}
	ids := map[string]bool{}
	for name, wrs := range out.UnprocessedItems {
		t, ok := tables[name]
		if !ok {
			continue
		}
		for _, wr := range wrs {
			var item map[string]types.AttributeValue
			switch {
			case wr.PutRequest != nil:
				item = wr.PutRequest.Item
			case wr.DeleteRequest != nil:
				item = wr.DeleteRequest.Key
			}
			if key, ok := t.keyOf(item); ok {
				ids[t.id(key)] = true
			}
		}
	}
	return ids
}

// billUnreached bills a write call a Conflicts middleware cancelled before
// it reached DynamoDB Local, as a refused write of each of its items. Only
// the items' sizes matter: those the Meter saw last, and the others read
// now. (Under contention most calls are cancelled, and reading their items
// again would cost more than all the rest of the Meter.)
func (m *Meter) billUnreached(ctx context.Context, op string, input any) {
	ts, err := m.targets(input)
	if err != nil || ts == nil {
		return // a call the attempt would have reported, had it run
	}
	sizes := make([]int, len(ts))
	var unknown []target
	m.mu.Lock()
	for i, tg := range ts {
		size, ok := m.sizes[tg.id]
		if !ok {
			unknown = append(unknown, tg)
		}
		sizes[i] = size
	}
	m.mu.Unlock()
	if len(unknown) > 0 {
		if _, err := m.readAll(ctx, unknown); err != nil {
			m.fail(fmt.Errorf("ddbsim: meter: %s: read cancelled items: %w", op, err))
			return
		}
		m.mu.Lock()
		for i, tg := range ts {
			sizes[i] = m.sizes[tg.id]
		}
		m.mu.Unlock()
	}
	b := newBill()
	for i, tg := range ts {
		b.rejected(tg, sizes[i])
	}
	m.addRejected(op, b)
}

func (m *Meter) addBill(op string, b *bill) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.r.Ops[op]
	f.Calls++
	f.WRU += b.wru
	f.HalfRRU += b.halfRRU
	m.r.Ops[op] = f
	m.r.TotalWRU += b.wru
	m.r.TableWRU += b.tableWRU
	m.r.HalfRRU += b.halfRRU
	for name, x := range b.indexes {
		f := m.r.Indexes[name]
		f.WRU += x.WRU
		f.Puts += x.Puts
		f.Deletes += x.Deletes
		f.Updates += x.Updates
		m.r.Indexes[name] = f
	}
	for k, n := range b.parts {
		m.r.Partitions[k] += n
	}
}

func (m *Meter) addRejected(op string, b *bill) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.r.Ops[op]
	f.Calls++
	f.Rejected++
	f.RejectedWRU += b.wru
	m.r.Ops[op] = f
	m.r.Rejected++
	m.r.RejectedWRU += b.wru
	for k, n := range b.parts {
		m.r.RejectedPartitions[k] += n
	}
}

func (m *Meter) addError(op string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.r.Ops[op]
	f.Calls++
	f.Errors++
	m.r.Ops[op] = f
}
