// Package rollup is the stats roll-up job: it writes, per partner and per day,
// the figures GET /v1/stats returns (store.DayStats under
// P#{partner}#STATS | {yyyy-mm-dd}). An EventBridge schedule runs it
// (functions/rollup, Job.Handle); it reads ledger entries from the day index
// only, so its cost grows with the entries of the days it rolls up, not with
// the number of members.
//
// # Days
//
// A day is a calendar day in the program's time zone (program.Location) at
// roll-up time; an entry belongs to the day its time (Entry.At) falls in,
// start inclusive, end exclusive: an entry at 23:59:59.999 local time is the
// day's, one at 00:00:00 the next day's. Days are 23 or 25 hours long across
// a DST change. A partner's first day is the day its registry entry was
// created (store.PartnerRecord.CreatedAt; PutProgram creates it with the
// partner, before any entry can exist).
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
//     released by the stale-holds job) is not activity: the index cannot tell
//     the member's cancel from the job's release.
//
// The flows account for every point: each entry's Δ(Available+Pending+Held)
// equals its issued − reversed − redeemed − expired − debited (checked per
// entry and per day: an entry that breaks it is a bug in the code that booked
// it, and stops the partner's roll-up with ErrUnbalanced, which alarms), so
//
//	outstanding(D) − outstanding(D−1) = issued − reversed − redeemed − expired − debited
//
// exactly, and outstanding(D) is computed as outstanding(D−1) plus the day's
// net. Likewise debt(D) − debt(D−1) = Σ Delta.Debt of the day.
//
// # Closing days: exact, idempotent, resumable
//
// Per partner, a roll-up state (store.RollupState) records the last closed
// day, the instant its window ends ("through") and the outstanding points and
// debt at that instant. A run closes the days after it in order: day D+1
// covers the entries in [through, end of D+1), and closes once its end plus
// the grace period (DefaultGrace, 15 minutes) has passed — time for ledger
// transactions that took their time to commit and for the day index (a
// global secondary index, eventually consistent) to catch up. Each closed day
// is written with the state's advance in one transaction conditional on the
// state version the computation started from: two runs at once, or the same
// run twice, close each day once with the same figures; a run stopped at any
// point (its deadline, a crash) leaves the state at its last closed day and
// the next run goes on from there. Days without entries are closed like any
// other (zero flows, outstanding carried forward). Because every window starts
// where the previous one ended, every entry is counted in exactly one day even
// if the program's time zone changes (the first day after the change is then
// shorter or longer).
//
// After closing what it can, a run writes the figures so far (final = false,
// as_of = the instant they were computed at) of the days after the last closed
// one up to now: today, and yesterday during its grace period. Those writes are
// conditional too (the state unchanged, the item not final, no figures of a
// later instant), so a slow run never overwrites newer figures.
//
// A day's entries are read from the day index: the UTC days its window
// overlaps (two for most time zones, sometimes three) × store.DayBuckets
// buckets, queried in parallel per bucket, every page, and filtered to the
// window by their time. Distinct members are counted per bucket (a member's
// entries are all in one bucket).
//
// # Limits
//
//   - An entry that reaches the day index only after its day closed (its
//     transaction committed more than the grace period after its time) is in
//     no day's figures; with the ledger's transaction times this does not
//     happen in practice.
//   - A GDPR erase copies a member's entries to an anonymous member and then
//     deletes the originals: if it runs while a day holding those entries is
//     being read, that day may count some of them twice or not at all (erase
//     is rare, and closed days are read minutes after midnight).
//   - Partners that existed before the partner registry (store.PartnerRecord
//     Preexisting) start at the day they were registered, from zero: entries
//     written before the day index existed are not in it.
package rollup
