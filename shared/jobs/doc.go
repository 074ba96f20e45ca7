// Package jobs holds the pure decisions of the scheduled jobs (spec §1, §5):
// release pending points, expire points (by date and by inactivity, with
// warnings), re-evaluate tiers and release stale redemption holds. Each
// function looks at one member and returns a Plan; it does no I/O, reads no
// clock (now is a parameter) and never writes into its inputs. The caller (the
// job's Lambda, shared/memberjobs, through the store) books the plan in one
// transaction. Plans carry no events: see "Events" below.
//
// # Plans
//
// A Plan lists the ledger entries to book (each with its Delta, in order), the
// new value of every lot it changes, the redemptions it settles, the member's
// new tier state and the lots to announce as expiring. Plan.Apply hands it to
// a ledger transaction:
//
//	pl := jobs.Expire(&tx.Member, lots, p, tx.Now, warned)
//	pl.Apply(&tx.Member, tx.Book, tx.Changed)
//
// Apply writes the lot values into the lots that were passed in, sets the
// member's tier state and books the entries; the caller writes back the holds
// and records the warnings.
//
// Every plan keeps the invariants of spec §2 (ledger.Check holds after
// applying it) and is idempotent: planning again on the result, at the same
// time, gives an empty plan. A plan changes at most MaxChanges items (new
// entries, lots, redemptions, warned lots) so that it fits one
// TransactWriteItems with the member item; when there is more to do, Plan.More
// is set and the caller commits, then plans again.
//
// # Times
//
// Instants are compared exactly and boundaries are inclusive: a lot whose
// AvailableAt is now is released, one whose expiry is now expires, a hold whose
// ExpiresAt is now is released; one second earlier nothing happens. Day counts
// (inactivity, warning lead, qualifying window) are calendar days in the
// program's time zone (time.AddDate on the local wall clock: across a DST change
// a day is 23 or 25 hours; 2028-02-29 + 365 days is 2029-02-28). A lot's own
// expiry date (ExpiresAt) was fixed when it was earned (program.LotExpiry) and
// is not recomputed from the current program.
//
// # Release of pending points (ReleasePending)
//
// Every pending lot whose AvailableAt has come (or that has none) becomes
// available, unless it has already expired: an expired pending lot is left for
// Expire, so that the outcome does not depend on the order the jobs run in.
// Released points repay the member's debt first, as ledger.Member.Credit does
// for any available credit; the debt is repaid from the released lots
// earliest-expiry first, and each lot keeps what is left. One "release" entry
// per plan: pending −n, available +n, debt −repaid, lifetime unchanged (it was
// counted when earned), one breakdown line per lot (and a 0-point line naming
// the repayment). AvailableAt is cleared on release (it marks a lot still
// waiting).
//
// # Expiry (Expire)
//
// A lot's effective expiry is the earlier of its ExpiresAt and, when the
// program has expiry.inactivity_days, the member's inactivity deadline:
// LastActivity (CreatedAt when unset) + inactivity_days. Available AND pending
// lots expire at their effective expiry (points never outlive their date, even
// if the refund window is still open); lots in review do not — they wait for
// the admin's decision, and once approved expire on the next run if their date
// has passed. Expired lots lose all their remaining points, earliest expiry
// first, in one "expire" entry per plan (available −a, pending −p; lifetime and
// qualifying points unchanged) with a line per lot whose rule is "expiry" or
// "inactivity". Expiry never creates or changes debt: with debt there are no
// available lot points (spec §2), and pending points are not offset by it.
// Points reserved by an open hold are not in any lot and do not expire; if the
// hold is released after their lot's date, the next run expires them.
//
// Warnings: with expiry.warn_days, a lot whose effective expiry E is in the
// future and at most warn_days calendar days away is announced once for E.
// Plan.Warnings lists each such lot with E and its reason ("expiry" or
// "inactivity"); the caller marks the lot (ledger.Lot.WarnedFor = E, the
// "warned" attribute shared/domainevents turns into points.expiring) and says
// through Warned which lots are marked already. A lot announced for an
// inactivity deadline is announced again if new activity moves the deadline
// and the new one comes near.
//
// # Tiers (QualifyingInWindow, EvaluateTier)
//
// Qualifying points are those accrual counts (rules.Evaluate and the review
// approval): the points of earn entries not held for review, the points of
// review approvals (release entries that moved points out of review), minus the
// reversals of those payments — each entry's Delta.Lifetime — and the
// qualifying points a bulk import brought (import entries with a PaidAt: the
// time they were earned before the import, ledger.Entry.EarnedAt, which is
// when they count from and leave the window). Activity bonuses
// and manual adjustments do not qualify (accrual does not count them either).
// QualifyingInWindow sums them over the entries made in [now −
// qualifying_window_days, now], both ends included; a refund counts in the
// window of the payment it reverses (a refund today of a payment earned before
// the window does not lower today's sum). Without a window, all entries up to
// now count.
//
// EvaluateTier sets the member's tier to the one the window sum qualifies for
// (the first tier below every threshold) — a downgrade, a confirmation or an
// upgrade: upgrades normally happen at accrual, but a program change (a lower
// threshold) is picked up here too. An empty or unknown tier counts as the
// first tier and is left as it is while that is still the answer. It also sets
// rules.State.Qualifying to the window sum. Neither is a balance of
// ledger.Balances: no entry is booked (as for an upgrade at accrual).
// Plan.Tier says From, To and whether the tier Changed.
//
// # Stale holds (ReleaseStaleHolds)
//
// A redemption still held whose ExpiresAt has come is released exactly like a
// cancel (store.Cancel): status "expired", its points go back to the lots they
// came from, repaying debt first (from those lots, earliest expiry first); one
// "redeem" entry per hold (held −n, available +n, debt −repaid; breakdown rule
// "expire"). Giving a reward's stock back is the caller's (the redemption names
// its reward).
//
// # Order of the jobs
//
// Release, expiry and tier evaluation at one instant give the same result in
// any order (they touch disjoint lots, and none changes lifetime points). A
// stale hold released after its lots' date puts points back into expired lots:
// the next expiry run takes them.
//
// # Due times (due.go)
//
// LotDue, HoldDue and TierDue give the instants at which a lot, a hold or a
// qualifying entry next needs a job; NextDue, the earliest of them after now
// for a whole member. The store keeps each member's next due time in an
// index so that the jobs visit only the members that have work (see
// shared/memberjobs).
//
// # Events
//
// The jobs publish nothing themselves. Domain events are derived by
// shared/domainevents alone, from the table's stream, out of what a plan
// stores once its transaction has committed: the expire entry (points.expired,
// with a breakdown line per lot whose rule is the reason), the warned
// attribute of a lot (points.expiring) and the member's tier (tier.changed).
// A plan therefore only has to store those facts; ids and payloads are
// domainevents' (one event model, one id scheme).
//
// Erased members get their points expired and released like anyone (the
// liability stays right) but no warnings and no tier evaluation: Expire plans
// no Warnings for them, LotDue schedules no warning time, and EvaluateTier
// and TierDue leave them alone. That is a decision of the planners, not a
// filter on events (domainevents also drops the items of anonymised members).
package jobs
