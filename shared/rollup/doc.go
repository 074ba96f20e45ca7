// Package rollup is the stats roll-up: per partner and per day, the figures
// GET /v1/stats returns (store.DayStats under P#{partner}#STATS |
// {yyyy-mm-dd}). It has two parts:
//
//   - the stats consumer (Consumer, functions/stats): the handler of the
//     table's DynamoDB stream that sums each new ledger entry, and each
//     member's first activity of a day, into partial figures per partner,
//     local day and stream shard (store.Partial);
//   - the roll-up job (Job, functions/rollup, on an EventBridge schedule):
//     closes each day from its partial figures — a few per day and partner,
//     one per stream shard that carried its records, however many entries
//     the day had — and writes the figures so far of the days not closed.
//
// The cost of a day is one small write per stream batch and partner (the
// consumer) plus reads of the day's partials (the job): it follows the
// stream's batches, not the day's entries or the number of members. Ledger
// entries carry no index attribute for it.
//
// # Days
//
// A day is a calendar day in the program's time zone (program.Location); an
// entry belongs to the day its time (Entry.At) falls in, start inclusive,
// end exclusive: an entry at 23:59:59.999 local time is the day's, one at
// 00:00:00 the next day's. Days are 23 or 25 hours long across a DST change.
// The consumer puts an entry in its day with the program it reads (through
// the store's 30-second cache) when the record arrives. A partner's first
// day is the day its registry entry was created (store.PartnerRecord.
// CreatedAt; PutProgram creates it with the partner, before any entry can
// exist).
//
// # Figures of a day
//
// Sums over the day's ledger entries, whose Delta records exactly what each
// did to the member's balances (ledger.Balances):
//
//   - issued   = Σ Delta.Lifetime of the entries with Lifetime > 0: points
//     earned (payments, bonuses, activities), positive adjustments and review
//     approvals (points held for review count when approved, not when held).
//   - reversed = −Σ Delta.Lifetime of the entries with Lifetime < 0: points
//     taken back by refunds (a refund of points still held for review, and a
//     review rejection, change no lifetime points and count nowhere).
//   - redeemed = Σ −(Available+Held) of the redeem entries: a hold moves
//     points from available to held (0), a capture takes them from held, an
//     immediate capture from available, a cancel or an expired hold gives them
//     back (0 again): the points actually spent.
//   - expired  = Σ −(Available+Pending) of the expire entries.
//   - debited  = Σ −(Available+Pending+Held) of the manual debits (adjust
//     entries with negative points).
//   - imported = Σ Δ(Available+Pending) of the import entries: the opening
//     balances a bulk import brought (shared/ledger, import.go), outstanding
//     from the day of the import on. They were issued before the partner
//     came to Accrue, so they are not "issued" (nor are the imported lifetime
//     points: an import entry counts in no other figure).
//   - outstanding = the points members hold at the end of the day: Σ over
//     all of the partner's entries up to then of Δ(Available+Pending+Held).
//     Points held for review are not in it until approved. Debt is: a refund
//     clawback of points already spent takes Available below the lots
//     (Available = Σ available lots − Debt), so outstanding is net of what
//     members owe, and debt is reported beside it.
//   - debt = Σ Delta.Debt up to the end of the day: points members owe after
//     refund clawbacks, which their later credits repay first. The points
//     members can still use are outstanding + debt.
//   - liability_minor = outstanding × the program's point value, with the
//     point value of the program at roll-up time, in minor units of its
//     currency. The roll-up stores the exact decimal (Liability); GET
//     /v1/stats reports it rounded once to whole minor units, half to even
//     (ReportedLiability).
//   - active_members = distinct members with an earn or bonus entry or a
//     redemption (a redeem entry with points ≤ 0: a hold, an immediate or a
//     later capture) that day. The return of held points (a cancel or a hold
//     released by the stale-holds job) is not activity: the two are the same
//     entry.
//
// Transfers between members (transfer entries) move outstanding points from
// one member to another: each entry's Δ(Available+Pending+Held) is summed as
// transferred (internal, not reported), and a transfer's two entries, written
// in one transaction at one time, cancel out within the partner's day. A
// member merge (merge entries) is the same: the absorbed member's entry and
// the survivor's, written in one transaction at one time, move outstanding
// points (transferred, summing to 0) and lifetime points (±, counted neither
// as issued nor as reversed); debt the merge repays at once shows in debt.
//
// The flows account for every point: each entry's Δ(Available+Pending+Held)
// equals its issued − reversed − redeemed − expired − debited + transferred
// + imported (transferred is 0 over a day) (checked per
// entry by the consumer and per day by the job: an entry that breaks it is a
// bug in the code that booked it; the consumer logs it and counts it as
// Unbalanced, and the partner's roll-up stops at that day with
// ErrUnbalanced, which alarms), so
//
//	outstanding(D) − outstanding(D−1) = issued − reversed − redeemed − expired − debited + imported
//
// exactly, and outstanding(D) is computed as outstanding(D−1) plus the day's
// net. Likewise debt(D) − debt(D−1) = Σ Delta.Debt of the day.
//
// # Active members, incrementally
//
// Distinct members cannot be summed record by record, so the member item
// carries the answer: the transaction that books a member's first activity
// of a day adds the day to the member's ActiveDays (ledger.MarkActive, called
// where the store books entries; it keeps the last two days, so a write taken
// just before midnight that commits after one taken just after still finds
// its day). Every write of a member is conditional on its version, so the
// stream holds each of its images once and in order, and the consumer counts
// the member once on each day that appears in an image (INSERT or MODIFY)
// and was not in the one before (ledger.NewActiveDays).
//
// # The consumer: exact and idempotent per record
//
// Each stream shard is read by one invocation at a time (the mapping's
// parallelization factor is 1), and the consumer learns its shard from the
// batch (Lambda sends the shard id to a mapping with a tumbling window; the
// consumer keeps nothing in the window's state). For each partner with
// records in a batch it sums them by day (Changes, chunks) and writes, in one
// TransactWriteItems, an ADD to its partial of each day (P#{partner}#STATS#D#
// {day} | {shard}) and the shard's progress (P#{partner}#STATS#S | {shard}:
// the last sequence number applied, zero-padded to 40 digits so that strings
// compare as the numbers do), on condition that the progress is before the
// chunk's first record. Invariant: the records of (partner, shard) applied
// are exactly those up to the progress. A batch delivered again, whole or in
// part, fails the condition; the consumer reads the progress and applies only
// the records after it. So interrupted, duplicated and overlapping batches
// change nothing, whichever day a record's figures go to. The first record
// not applied (unreadable, or its partner's write failed) is reported as the
// batch item failure; the event source delivers the batch again from it.
// Partials have one writer (their shard's invocation), so nothing conflicts
// but the job's own writes to them.
//
// Entries are append-only: only their INSERT counts (a MODIFY changes lot
// fields). A GDPR erase copies a member's entries to the anonymous member and
// deletes the originals; the copies carry store.AttrMoved and the anonymous
// member's INSERT (status erased) counts no activity, so nothing is counted
// twice, whether the erase is finished at once or later.
//
// # Closing days: exact, idempotent, resumable
//
// Per partner, a roll-up state (store.RollupState) records the last closed
// day, the instant its window ends ("through") and the outstanding points and
// debt at that instant. A run closes the days after it in order: a day
// closes once its end plus the grace period (DefaultGrace, 15 minutes) has
// passed — time for ledger transactions that took their time and for the
// consumer, normally a second or so behind the table. To close day D a run:
//
//  1. seals D (P#{partner}#STATS#L | SEAL = D) before reading anything;
//  2. reads D's partials (consistently) and takes each once (Taken = its
//     figures at its last record, set only if not set: concurrent runs take
//     the same figures);
//  3. folds in the late partials (below);
//  4. writes D's final figures with the state's advance, and the folds, in
//     one transaction conditional on the state version the computation
//     started from.
//
// Two runs at once, or the same run twice, close each day once with the same
// figures; a run stopped at any point (its deadline, a crash) leaves the
// state at its last closed day and the next run goes on from there. Days
// without partials are closed like any other (zero flows, outstanding
// carried forward).
//
// Late records. The consumer, after each write, reads the seal; for every
// day it wrote at or before the sealed day it writes a late mark (P#{partner}
// #STATS#L | LATE#{day}#{shard}, with the partial's last record). A write
// either comes before the run's read of the partial (the take includes it),
// or after the seal (the consumer sees the seal and marks the partial):
// nothing falls between. At each close the run reads the late marks and adds
// what each marked partial received since it was taken (Figures − Taken) to
// the day it closes, and in the same transaction sets Taken to what it read
// and deletes the mark — on condition that the mark still holds the record
// it read (a later write re-marks it, and the run starts over). So a record
// the consumer applies after its day closed (it lagged or failed over
// midnight) is counted exactly once, in the first day closed after it, and
// outstanding stays exact; the closed day itself is never rewritten.
//
// After closing what it can, a run writes the figures so far (final = false,
// as_of = the instant they were computed at) of the days after the last
// closed one up to now: today, and yesterday during its grace period — their
// partials as they are, and for the first of them the late remainders it will
// fold in. Those writes are conditional too (the state unchanged, the item not
// final, no figures of a later instant), so a slow run never overwrites
// newer figures.
//
// # Limits
//
//   - A record the consumer applies after its day closed counts in the next
//     day closed, not its own (active members too); with the consumer's
//     normal lag this does not happen. The consumer alarms on its iterator
//     age (5 minutes).
//   - A record the event source gives up on (after the stream's 24 hours of
//     retries, to the events DLQ, alarmed) is in no figures.
//   - The program's time zone is read when the record arrives: if it changes
//     while records are in flight, some entries go to the day of the new
//     zone. Every entry is still counted exactly once.
//   - An activity committed more than a day after a later activity of the
//     same member (two writers' clocks that far apart) is not counted.
//   - Partials expire 35 days after their day (store.PartialTTL): a roll-up
//     stopped longer than that loses the days it has not closed.
//   - Upgrading from the day-index roll-up: the consumer starts at the
//     stream's oldest record (up to 24 hours back); the first day it closes
//     is its PartialsFrom, and late marks of earlier days (closed from the
//     day index) are dropped. Entries of that first day written before the
//     stream's oldest record (a deploy more than 24 hours into the day) are
//     missing from it.
//   - Partners that existed before the partner registry (store.PartnerRecord
//     Preexisting) start at the day they were registered, from zero.
package rollup
