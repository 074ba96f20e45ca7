// Package rules is the rules engine: a pure function from (program, member state,
// payment, time) to the points to credit, with a breakdown of every rule that
// contributed. It does no I/O; the store loads State and Budgets and persists the
// State and spends the Result returns, in one transaction.
//
// # Evaluate
//
// Evaluate handles payment.TypeSucceeded events (refunds are reversed by the
// ledger). It is deterministic, reads no clock, never panics and never writes into
// its inputs. The only thing it looks up is the program's timezone
// (program.Location, cached per zone; an empty or unknown zone is UTC); package
// program embeds the zone database (time/tzdata), so Lambda needs none.
//
// # Arithmetic and rounding
//
// No floating point is used. Rates and multipliers are exact rationals (math/big),
// points are integers. The exact parts of a payment — the base, the tier's extra
// and every multiplier campaign's extra, in that order — are added up and rounded
// ONCE, per Program.Rounding: "" or "floor" (also any unknown value), "round_half_up"
// (halves go up) or "ceil". The rounded total is spread over those lines by
// cumulative rounding (line i = R(sum of parts 0..i) − R(sum of parts 0..i−1)), so
// the lines sum exactly to the rounded total: two parts of 0.5 give 1 point under
// floor, shown as earn 0 + tier 1. Fixed bonuses, limits and caps are then plain
// integers. A payment never earns more than MaxPaymentPoints (a bound far above any
// real program that keeps every sum inside int64).
//
// # Lines
//
// The breakdown lists, in this order: earn (whenever an earning rule matched, even
// with 0 points, so "why 0 points" has an answer), tier, campaigns (program order),
// streaks and frequency bonuses (program order), and at most one cap line. Other
// lines appear only with non-zero points. Lines always sum to Result.Points >= 0.
//
// # Base earn
//
// The first earning rule (list order) whose categories and currencies contain the
// payment's (empty = all), whose MinAmountMinor the amount reaches and, with
// RecurringOnly, whose payment carries Recurring, applies alone. Its rate is that
// of the band with the highest MinMinor the amount reaches (the whole amount earns
// at it), else the rule's rate; base = amount × points / per_minor, exactly. A rate
// with points <= 0 or per_minor <= 0 earns 0 (a rule of 0 points is how a program
// excludes a category: later rules are not tried). No rule → no earn line, but
// campaign bonuses, streaks and frequency still apply.
//
// # Tiers
//
// The member's tier is State.Tier, or the first tier when that is empty or no longer
// in the program (State.Tier is then rewritten only on an upgrade). Its multiplier m
// (unset = 1) adds base × (m − 1): negative below 1, never taking the total below 0.
// The payment that crosses a threshold earns at the tier the member had before it.
// After the payment, Qualifying grows by Points unless the accrual is held (held
// points count toward tiers only once approved), and if the highest tier whose
// threshold Qualifying reaches is above the member's tier, the member moves up at
// once (TierChanged). Evaluate never downgrades.
//
// # Campaigns
//
// A campaign applies when StartsAt <= payment time < EndsAt (a zero StartsAt or
// EndsAt leaves that side open), its categories contain the payment's, its tiers the
// member's tier (before any upgrade by this payment), and the member carries one of
// its tags (each list empty = all). A multiplier above 1 adds base × (mult − 1) as an
// exact part of the rounding (multipliers of 1 or less are ignored: a promotion
// never takes points away); a bonus adds fixed points (a campaign with both gets one
// line with both). The campaign's integer line is then cut, in this order, by
// PerMemberMaxTimes (times the member already received points from it), by
// PerMemberMaxPoints minus the points already received, and by the budget left
// (Budget − Budgets.CampaignSpent[id]); the detail names the limit that cut it. A
// repeated campaign id is ignored (ids are unique in a valid program).
//
// # Streaks
//
// For each streak rule whose categories match, a payment with Recurring updates the
// streak StreakKey(rule, subscription). Periods are "YYYY-MM", "YYYY-Qn", "YYYY-Www"
// (ISO 8601 week: 2026 has 53 weeks, so 2026-W53 is followed by 2027-W01) or "YYYY";
// the next period of the same kind continues a streak across year ends. The payment
// is on time when its date in the program timezone is on or before DueDate. A period
// equal to or older than the last one changes nothing (whether on time or not); a
// late one resets the count to 0 and becomes the last period; an on-time one is
// count+1 right after the last period, else (first, after a gap, or a different
// period kind than before) count 1. Each time the count reaches a multiple of
// Periods, the rule's bonus is a "streak" line. An unreadable period or due date, or
// an empty subscription id, leaves streaks alone.
//
// # Frequency
//
// For each frequency rule whose categories match, the payment's time joins the
// rule's window in State.Frequency; times older than Days × 24h before the payment
// time leave it (the window [t − Days×24h, t] includes its start). When it holds
// Payments times, the bonus is a "frequency" line and the window empties: one bonus
// per window, and the next window starts from the next payment.
//
// # Caps
//
// After all of the above, the total T is limited by each configured cap (> 0):
// member daily minus State.DayPoints, member monthly minus State.MonthPoints, and
// program monthly minus Budgets.ProgramSpent (0 spent when Budgets.ProgramMonth is
// not the current month). Day and month are those of now (the accrual time) in the
// program timezone: PeriodKeys; the member counters restart when they change. If
// the smallest remainder (never below 0) is under T, one negative "cap" line names
// the cap that binds (on a tie, the first of member_daily, member_monthly,
// program_monthly). Counters count credited points, held ones included.
//
// A cap's cut is taken from the campaign lines first, the last campaign first, and
// only the rest from the other lines; campaign uses (State.Campaigns) and spends
// (Result.CampaignSpend, only for campaigns with a budget) record the points the
// campaign really credited, so a capped member consumes no budget and no per-member
// limit for points they did not get. A campaign use counts as one time only when it
// credited > 0 points. Held accruals still spend budgets (the points are reserved);
// the review flow gives them back if it rejects the event.
//
// ProgramSpend is Points whenever the program has a monthly budget, to be added to
// the counter of the month Result.State.Month (equal to Budgets.ProgramMonth when
// the store read the current month's counter).
//
// # Fraud limits
//
// An accrual is held for review, still counted in the day/month counters and
// budgets, when: the member already had MaxEventsPerHour accruals in the hour before
// now (an event exactly one hour old no longer counts) → "max_events_per_hour";
// DayPoints before it plus Points exceeds MaxPointsPerDay → "max_points_per_day";
// the amount reaches LargePaymentMinor of its currency → "large_payment". Reasons
// come in that order. State.RecentEvents keeps the accrual times (now, unix
// seconds) of the last hour, at most MaxEventsPerHour of them, and stays empty when
// that limit is off.
//
// # Keeping the state small
//
// The state lives in the member's item, so every Evaluate prunes it: streaks of
// rules no longer in the program, with an unreadable last period, or stale (more
// than a year after the end of the period that would have continued them), and
// past MaxStreaks entries those with the oldest last period; frequency windows of
// rules no longer in the program, times outside the window ending at this payment
// (for every rule), at most Payments−1 times per window; campaign uses of campaigns
// no longer in the program or that ended more than CampaignUseRetention (30 days)
// before now. Removing a campaign from the program therefore resets its per-member
// limits. Empty collections are stored as nil.
package rules
