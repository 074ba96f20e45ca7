// Package ddbsim adds to DynamoDB Local, for tests and benchmarks, two things
// it lacks and AWS's DynamoDB has: capacity billed by AWS's rules (Meter),
// and transaction conflicts (Conflicts). Both are SDK middlewares added to a
// *dynamodb.Client through dynamodb.Options.APIOptions, around the real
// emulator; neither fakes DynamoDB. Import it from _test.go files only.
//
//	raw := awstest.Client(t)
//	def := store.CreateTableInput(table)
//	meter, _ := ddbsim.NewMeter(raw, def)
//	conflicts, _ := ddbsim.NewConflicts(def)
//	client := dynamodb.New(raw.Options(), meter.Option, conflicts.Option)
//
// Both read the table's definition (its keys, indexes and projections) from
// the CreateTableInput that creates it, at run time: change the schema and
// the figures follow.
//
// # Meter: the billing rules
//
// AWS's documentation, as implemented (the DynamoDB Developer Guide: "DynamoDB
// item sizes and formats", "Managing settings on DynamoDB provisioned capacity
// tables", "Working with items", "Local secondary indexes", "Global secondary
// indexes", "Amazon DynamoDB Transactions: How it works"). Where it is silent
// or ambiguous, the reading chosen is said.
//
//   - Item size: ItemSize, AWS's formula (attribute names plus values; a
//     number 1 byte per two significant digits plus 1; list and map 3 bytes
//     plus 1 per element).
//   - The Meter reads each item a write touches with a strongly consistent
//     GetItem through the raw client before and after the call (not counted),
//     with the item locked against other metered writes meanwhile, so it
//     bills what was actually written, not what the request said. A call is
//     billed once, on its outcome, whatever attempts the SDK's retryer made
//     (AWS does not bill a throttled attempt). Writes of the same items by
//     another client (not metered) between the two reads would be billed
//     to the metered call: meter every writer of a table.
//   - A standard write (PutItem, UpdateItem, DeleteItem, each item of a
//     BatchWriteItem) costs ceil(size / 1 KB) WRU, at least 1, where size is
//     the larger of the item before and after (a delete of a missing item:
//     1). Items a BatchWriteItem returns unprocessed are not billed.
//   - A write in a TransactWriteItems costs 2× that ("two underlying ...
//     writes of every item in the transaction: one to prepare the transaction
//     and one to commit"). A ConditionCheck costs 2 × ceil(size of the checked
//     item / 1 KB), at least 2: the guide's "every item in the transaction"
//     includes it, and it is billed as write capacity, not read (measured on
//     AWS: github.com/paritysuite/dynamodb-conformance pull 67, "A standalone
//     ConditionCheck costs 2 WCU, billed as write rather than read"). It
//     writes no index.
//   - Secondary indexes, local and global alike: an index item is the table's
//     key attributes, the index's key attributes and the projected attributes
//     (ALL: the whole item; KEYS_ONLY: none more; INCLUDE: the listed ones the
//     item has). An item is in an index when it has all the index's key
//     attributes (indexes are sparse). From the index items before (old) and
//     after (new) a write:
//     neither: 0;
//     new only (an item enters the index): 1 put;
//     old only (it leaves): 1 delete;
//     an index key value changed: a delete of old plus a put of new;
//     same keys, old and new index items equal (nothing projected changed): 0;
//     same keys, something projected changed: 1 update.
//     Each costs ceil(size of its index item / 1 KB), an update the larger of
//     old and new. The guide states the update rule for GSIs only; the Meter
//     applies it to LSIs too (an LSI entry holds a copy of the projected
//     attributes, so it must be rewritten when they change, and left alone
//     when they do not). Index writes are not doubled in a transaction: the
//     guide doubles "every item in the transaction", and index entries are
//     not items of the transaction; this is the reading of the project's
//     figures ("a steady accrual costs 6 WRU on AWS (4 table + 1 ledger
//     LSI + 1 day GSI)").
//   - A conditional write whose condition fails changes nothing but is
//     billed ("DynamoDB still consumes write capacity units"): ceil(size /
//     1 KB), at least 1, of the item there. The guide says the "size of the
//     item" in one place and the "size of the new item" in another; the
//     Meter takes the larger of the two (a PutItem's new item and the item it
//     did not replace).
//   - A cancelled transaction: the guide says nothing of what it bills, and
//     its response carries no ConsumedCapacity (paritysuite/dynamodb-conformance
//     pull 67), so only CloudWatch would tell. The Meter bills the prepare
//     phase it did: each item once, as a failed conditional write of it.
//     Writes a Conflicts middleware cancels before they reach DynamoDB Local
//     are billed the same way, on the items' sizes as the Meter last read
//     them. These, and failed conditional writes, are counted apart
//     (Report.Rejected, RejectedWRU, RejectedPartitions), never in TotalWRU
//     or Partitions.
//   - Reads, in half read units: per started 4 KB, at least 1 block, a
//     strongly consistent read 2, an eventually consistent read 1, a
//     transactional read (TransactGetItems) 4. A GetItem of a missing item is
//     1 block. BatchGetItem: each key as its own GetItem. Query: the sizes of
//     the items it evaluated, summed, then rounded up once (an index query
//     sums the index items). The whole item is billed whatever a projection
//     returns, and a filter does not lower the bill: for a projected read the
//     Meter reads the whole item again, for a filtered or projected Query it
//     runs the query again (same start and limit) without them; both
//     uncounted. Not billed: the extra base-table fetches of an LSI query
//     that asks for unprojected attributes; Scan.
//   - PartiQL calls (ExecuteStatement, BatchExecuteStatement,
//     ExecuteTransaction) are not metered: the Meter reports them through Err
//     so that a benchmark cannot undercount silently.
//   - Key histogram: every WRU of a successful write is added to the
//     partition key it lands on (Report.Partitions): the table's key space
//     (Index "") for table writes and LSI writes (an LSI shares the table's
//     partition key and its item collection's partition), a GSI's own key
//     space for its writes (a key change bills the delete to the old key and
//     the put to the new one). Report.Hottest names the key that caps the
//     workload: PartitionWriteLimit ÷ (its WRU ÷ operations) operations/s.
//
// The Meter's read before a write (one round of GetItems, in parallel)
// happens while the call is in flight, so it widens the window in which a
// Conflicts on the same client sees the call: measure a conflict rate with
// Conflicts alone.
//
// # Conflicts: what conflicts
//
// The guide ("Transaction conflict handling in DynamoDB") lists:
//
//   - "A PutItem, UpdateItem, or DeleteItem request for an item conflicts
//     with an ongoing TransactWriteItems request that includes the same
//     item": the write fails with TransactionConflictException.
//   - "An item within a TransactWriteItems request is part of another
//     ongoing TransactWriteItems request": the transaction fails with
//     TransactionCanceledException whose CancellationReasons (one per item, in
//     request order) are TransactionConflict for the held items and None
//     for the others.
//   - "An item within a TransactGetItems request is part of an ongoing
//     TransactWriteItems, BatchWriteItem, PutItem, UpdateItem, or DeleteItem
//     request": the same TransactionCanceledException.
//
// Conflicts does all three. A TransactWriteItems holds its items from when
// its attempt leaves the client until its response is back; a single-item
// write (and each item of a BatchWriteItem) holds its item as long, without
// excluding other single-item writes. The guide does not list a
// TransactWriteItems conflicting with an ongoing single-item write (only a
// TransactGetItems); Conflicts cancels it too, as the project asked: the
// transaction cannot prepare an item whose write is under way, and a test
// that passes under more conflicts than AWS raises passes under AWS's. A
// BatchWriteItem of an item a transaction holds fails as a whole with
// TransactionConflictException (the guide does not say; its individual
// writes are serializable with transactions). DynamoDB Local itself "does
// not throw TransactionConflictExceptions" (the guide's "DynamoDB local
// usage notes"), which is why this exists.
//
// Where it sits, and what the SDK does with its errors: see
// Conflicts.Option. Pause puts one call in flight for as long as a test
// needs; Conflicts.Delay widens every window.
package ddbsim
