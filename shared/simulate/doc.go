// Package simulate is the what-if engine behind POST /v1/program/simulate (spec
// §4): it replays payments — one member's history, or payments given in the
// request, possibly of several members — under the partner's current program and
// under a proposed one, and reports the points each payment would earn, per-member
// and total points, and the change in points liability. It is pure: no I/O, no
// clock, nothing written; the API loads the history and the member states and
// passes them in.
//
// # Replay order
//
// Payments are replayed in one order shared by both programs: by payment Time,
// then payment id, then type (payment.succeeded before payment.refunded), then
// member id, then position in the input. Input order therefore does not matter,
// and each member's payments are replayed in time order. A refund whose payment
// comes later in that order is applied right after its payment (the real system
// retries such a refund until its payment is there, spec §3).
//
// # Two independent replays
//
// Each program is replayed on its own: every member starts from Request.Start
// (or an empty rules.State — a fresh member) and carries its state (tier,
// qualifying points, streaks, frequency windows, campaign uses, day and month
// counters, fraud window) from one payment to the next, exactly as the store
// would. The program-wide budgets start at 0 spent and grow as the replay goes:
// the program monthly budget per month (Result.ProgramSpend added to the month of
// Result.State.Month) and each budgeted campaign's spend (Result.CampaignSpend),
// so caps and budgets run out where they would have. The accrual time of a
// payment (rules.Evaluate's now) is Request.Now(payment), by default the
// payment's own Time.
//
// Nothing else the live system does over time happens during a replay: no pending
// release, no expiry, no scheduled tier re-evaluation (so no downgrade and no
// rolling qualifying window), no review approvals. Held payments stay held; their
// points count in the totals (they are accrued, pending review) and PaymentResult
// says they are held.
//
// # Refunds
//
// A payment.refunded reverses, in each replay, what the ledger would reverse
// (ledger.Reverse, through ledger.ReversalNeeded): floor(points × refunded_total /
// amount) − points already reversed, where points are what the refunded payment
// earned in that replay and refunded_total the cumulative refunds of it so far.
// Unless the payment was held, the member's qualifying points go down by as much
// (never below 0; tiers never go down). Budgets and the day and month counters
// are not given back, as in the store. A refund changes nothing and is listed in
// Result.Skipped, with a reason, when the refunded payment is not among the
// member's payments in the input (ReasonUnknownPayment), has another currency
// (ReasonCurrency) or when the refunds would exceed its amount
// (ReasonExceedsPayment) — the cases the ledger refuses.
//
// # Duplicates
//
// Payments with the same member id, payment id and type (the store's
// deduplication key) count once: the first in input order is replayed, the
// others are listed in Result.Duplicates.
//
// # Totals and liability
//
// A payment's points are what it credits (>= 0) or, for a refund, minus what it
// reverses. Member and overall totals sum them (saturating at the int64 range,
// far beyond any real program). Liability is the total points × the program's
// point_value.minor, computed exactly and rounded once to whole minor units of
// its currency, half to even (money.HalfEven, the rounding of reported money;
// Money, saturating like the totals). LiabilityDelta = proposed liability −
// current liability, the difference of the two rounded figures (so the three
// add up), when both point values have the same currency; otherwise it is nil
// and LiabilityNote says why. With a nil Current program every "current" figure is 0 and the current
// liability is 0 in the proposed currency.
//
// No float64 is used: rates and point values are exact rationals (math/big).
// Output is deterministic: the same request gives the same Result.
package simulate
