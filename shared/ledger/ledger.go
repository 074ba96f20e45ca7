// Package ledger holds the points domain: members and their balances, ledger
// entries and the lots they carry, and the pure bookkeeping that keeps the
// invariants of spec §2:
//
//  1. Available == Σ remaining of available lots − Debt (and Pending / Review
//     equal the remaining of pending / review lots).
//  2. Available never goes below zero through a redemption; only a refund
//     clawback creates Debt, which later available credits repay first.
//  3. The same payment event accrues exactly once (the store's job: the entry key
//     is derived from the payment, and its put is conditional).
//  4. Every balance change has exactly one ledger entry: each entry records the
//     delta it made to every balance, and the deltas of a member's entries sum to
//     the member's balances (Check).
//
// Ledger entries are append-only: kind, points, deltas and breakdown never change
// once written. An earn entry also carries its lot (points earned together, with an
// expiry): the lot's remaining amount and state are the only fields updated later,
// by redemptions, refunds, releases and expiry.
package ledger

import (
	"errors"
	"fmt"
	"time"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/rules"
)

// Status of a member.
type Status string

// Member statuses.
const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusErased    Status = "erased"
	// StatusMerged: the member was merged into another (MergedInto): its id
	// resolves to that member, and its own ledger ends with the merge.
	StatusMerged Status = "merged"
)

// Balances of a member, and the same shape as an entry's deltas.
type Balances struct {
	Available int64 `dynamodbav:"avail" json:"available"`
	Pending   int64 `dynamodbav:"pend" json:"pending"`
	// Review: points held for review by fraud limits, not yet available.
	Review int64 `dynamodbav:"rev" json:"review"`
	// Held: points reserved by open redemptions.
	Held int64 `dynamodbav:"held" json:"held"`
	// Debt: points clawed back by refunds after they were spent; repaid first by
	// later available credits. Available = Σ available lots − Debt.
	Debt     int64 `dynamodbav:"debt" json:"debt"`
	Lifetime int64 `dynamodbav:"life" json:"lifetime_earned"`
}

// Add adds d to b, balance by balance.
func (b *Balances) Add(d Balances) {
	b.Available += d.Available
	b.Pending += d.Pending
	b.Review += d.Review
	b.Held += d.Held
	b.Debt += d.Debt
	b.Lifetime += d.Lifetime
}

// IsZero reports whether no balance is set.
func (b Balances) IsZero() bool { return b == Balances{} }

// Member of a partner's program.
type Member struct {
	PartnerID string `dynamodbav:"partner"`
	ID        string `dynamodbav:"member"`
	Status    Status `dynamodbav:"status"`
	Balances
	// Rules is the state the rules engine reads and updates (tier, qualifying
	// points, streaks, counters).
	Rules rules.State `dynamodbav:"rs"`
	// Version increments on every write (optimistic concurrency).
	Version int64 `dynamodbav:"ver"`
	// Seq is the number of ledger entries; entry n has Seq n.
	Seq          int64     `dynamodbav:"seq"`
	CreatedAt    time.Time `dynamodbav:"created"`
	LastActivity time.Time `dynamodbav:"last_act"`
	// Activities: how many times each named activity was rewarded.
	Activities map[string]int64 `dynamodbav:"acts,omitempty"`
	// Due is the unix second at which a scheduled job next has work for the
	// member (a lot to expire or announce, a hold to release, a tier to
	// re-evaluate); 0 when none. Writers only move it earlier (LowerDue); the
	// member jobs set it exactly. The store indexes it.
	Due int64 `dynamodbav:"due,omitempty" json:"-"`
	// ReleaseAt is the earliest AvailableAt (unix nanoseconds) of the
	// member's pending lots; 0 when none. No job visits a member for a
	// release: a pending lot whose time has come counts as available, and
	// the member's next write books its release (see ReleaseDue).
	ReleaseAt int64 `dynamodbav:"rel,omitempty" json:"-"`
	// ActiveDays are the local days (yyyy-mm-dd, program time zone) of the
	// member's latest activity, oldest first (MarkActive): the stats roll-up
	// counts the member active on a day when the day appears here.
	ActiveDays []string `dynamodbav:"adays,omitempty" json:"-"`
	// SentDay and SentOnDay: the points the member transferred to others on
	// SentDay (yyyy-mm-dd, program time zone), for the program's daily
	// transfer limit (Transfer).
	SentDay   string `dynamodbav:"xday,omitempty" json:"-"`
	SentOnDay int64  `dynamodbav:"xsent,omitempty" json:"-"`
	// MergedInto: the member this one was merged into (status merged); the
	// id resolves to that member from then on (see Merge).
	MergedInto string `dynamodbav:"mto,omitempty" json:"-"`
	// Absorbed: the ids merged into this member, directly or through a
	// member it absorbed (at most MaxAbsorbed): their partitions hold the
	// history of its points (deduplication, refunds, the tier window).
	Absorbed []string `dynamodbav:"absorbed,omitempty" json:"-"`
	// ImportRef names the bulk import and the line of its file that created
	// the member ("{import id}/{line}"); empty for a member enrolled otherwise.
	ImportRef string `dynamodbav:"imp,omitempty" json:"-"`
}

// ReleaseDue reports whether a pending lot of m has come to its release
// time at now: its release is then booked by the next write of the member,
// and any read of the member's balances applies it first.
func (m *Member) ReleaseDue(now time.Time) bool {
	return m.ReleaseAt != 0 && m.ReleaseAt <= now.UnixNano()
}

// LowerRelease moves ReleaseAt to t when t is earlier (or none is set).
func (m *Member) LowerRelease(t time.Time) {
	if t.IsZero() {
		return
	}
	if n := t.UnixNano(); m.ReleaseAt == 0 || n < m.ReleaseAt {
		m.ReleaseAt = n
	}
}

// LowerDue moves m.Due to t (rounded up to the second) when t is earlier, or
// when nothing is due. A zero t changes nothing.
func (m *Member) LowerDue(t time.Time) {
	if t.IsZero() {
		return
	}
	d := DueSecond(t)
	if m.Due == 0 || d < m.Due {
		m.Due = d
	}
}

// DueSecond is t as a due second: rounded up, so that a job running at that
// second is at or after t.
func DueSecond(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// NewMember enrolls a member.
func NewMember(partnerID, memberID string, tags []string, now time.Time) Member {
	return Member{
		PartnerID: partnerID, ID: memberID, Status: StatusActive,
		Rules:     rules.State{Tags: tags},
		CreatedAt: now.UTC(), LastActivity: now.UTC(),
	}
}

// Kind of ledger entry.
type Kind string

// Entry kinds (spec §2).
const (
	KindEarn    Kind = "earn"
	KindBonus   Kind = "bonus"
	KindRedeem  Kind = "redeem"
	KindRelease Kind = "release"
	KindExpire  Kind = "expire"
	KindReverse Kind = "reverse"
	KindAdjust  Kind = "adjust"
	// KindTransfer: points sent to another member (negative) or received
	// from one (positive, with a lot of its own).
	KindTransfer Kind = "transfer"
	// KindMerge: a member merge (Merge): on the absorbed member, the entry
	// that empties it; on the survivor, one entry per lot it received and
	// one for the rest (debt, lifetime points).
	KindMerge Kind = "merge"
	// KindImport: an opening balance brought by a bulk import (import.go).
	KindImport Kind = "import"
)

// LotKinds are the kinds of the entries that can carry a lot of their own
// (and so be announced as expiring, points.expiring's kind). A new kind that
// makes lots belongs here: the event catalogue's test holds the schema to it.
func LotKinds() []Kind {
	return []Kind{KindEarn, KindBonus, KindAdjust, KindTransfer, KindMerge, KindImport}
}

// LotState says which balance a lot's remaining points count in.
type LotState string

// Lot states.
const (
	LotNone      LotState = ""
	LotAvailable LotState = "available"
	LotPending   LotState = "pending"
	LotReview    LotState = "review"
)

// Lot is the part of an earn entry that tracks its points until spent or expired.
type Lot struct {
	State     LotState   `dynamodbav:"ls,omitempty" json:"state,omitempty"`
	Remaining int64      `dynamodbav:"rem,omitempty" json:"remaining,omitempty"`
	ExpiresAt *time.Time `dynamodbav:"exp,omitempty" json:"expires_at,omitempty"`
	// AvailableAt: when a pending lot becomes available.
	AvailableAt *time.Time `dynamodbav:"avl,omitempty" json:"available_at,omitempty"`
	// WarnedFor: the expiry announced for this lot by the last points.expiring
	// event (its date or the member's inactivity deadline); nil = never.
	WarnedFor *time.Time `dynamodbav:"warned,omitempty" json:"-"`
	// WarnedValue: what the remaining points were worth when that
	// announcement was made (ReportedValue), the event's value; nil on lots
	// announced before Accrue recorded it.
	WarnedValue *Money `dynamodbav:"wval,omitempty" json:"-"`
	// MovedTo: where a merge moved the lot's points (the survivor and the
	// entry that carries them now); the lot itself is then empty.
	MovedTo *LotMove `dynamodbav:"mvto,omitempty" json:"moved_to,omitempty"`
}

// LotMove names the entry of another member that carries a lot's points
// since a merge.
type LotMove struct {
	MemberID string `dynamodbav:"m" json:"member_id"`
	EntrySeq int64  `dynamodbav:"s" json:"entry_seq"`
}

// PaymentRef is what an entry made from a payment event remembers of it.
type PaymentRef struct {
	EventID     string    `dynamodbav:"eid,omitempty" json:"event_id,omitempty"`
	PaymentID   string    `dynamodbav:"pid,omitempty" json:"payment_id,omitempty"`
	AmountMinor int64     `dynamodbav:"amt,omitempty" json:"amount_minor,omitempty"`
	Currency    string    `dynamodbav:"cur,omitempty" json:"currency,omitempty"`
	Category    string    `dynamodbav:"cat,omitempty" json:"category,omitempty"`
	PaidAt      time.Time `dynamodbav:"paid,omitempty" json:"paid_at,omitempty"`
	RefundOf    string    `dynamodbav:"rof,omitempty" json:"refund_of,omitempty"`
	// Recurring is kept so that a simulation can replay streaks from history.
	Recurring *payment.Recurring `dynamodbav:"rec,omitempty" json:"recurring,omitempty"`
}

// Entry is one ledger entry.
type Entry struct {
	PartnerID string `dynamodbav:"partner"`
	MemberID  string `dynamodbav:"member"`
	// Seq orders a member's entries (1, 2, ...).
	Seq  int64     `dynamodbav:"seq"`
	Kind Kind      `dynamodbav:"kind"`
	At   time.Time `dynamodbav:"at"`
	// Points is the entry's signed amount: what it added to (or took from) the
	// member's points. Breakdown lines sum to it.
	Points    int64        `dynamodbav:"pts"`
	Breakdown []rules.Line `dynamodbav:"bd,omitempty"`
	// Delta: exactly what this entry changed in the member's balances.
	Delta       Balances `dynamodbav:"d"`
	HoldReasons []string `dynamodbav:"hold,omitempty"`
	// Reason and Actor (API key id) of manual adjustments, review decisions and
	// transfers.
	Reason string `dynamodbav:"reason,omitempty"`
	Actor  string `dynamodbav:"actor,omitempty"`
	// Redemption this entry belongs to (hold, capture, cancel).
	RedemptionID string `dynamodbav:"rid,omitempty"`
	// Counterpart and CounterpartSeq: the other member of a transfer and
	// its entry of the transfer (Counterpart is ErasedCounterpart once that
	// member's data was erased).
	Counterpart    string `dynamodbav:"cp,omitempty"`
	CounterpartSeq int64  `dynamodbav:"cps,omitempty"`
	PaymentRef
	Lot
	// Value of an expire entry: what its points were worth when they expired
	// (ReportedValue), published with points.expired; nil on other kinds.
	Value *Money `dynamodbav:"val,omitempty"`
	// RefundedMinor and Reversed: cumulative refunds against this payment and the
	// points they reversed (only on the earn entry of a payment).
	RefundedMinor int64 `dynamodbav:"rfm,omitempty"`
	Reversed      int64 `dynamodbav:"rvp,omitempty"`
	// Version of the mutable lot fields (optimistic concurrency).
	Version int64 `dynamodbav:"ver"`
}

// Apply books an entry onto the member: appends it to the member's sequence and
// adds its delta to the balances. The entry must already carry its Delta.
func (m *Member) Apply(e *Entry) {
	m.Seq++
	e.Seq = m.Seq
	e.PartnerID, e.MemberID = m.PartnerID, m.ID
	m.Balances.Add(e.Delta)
}

// ErrNegativeAvailable is returned when an operation would take available below
// zero (spec §2 invariant 2).
var ErrNegativeAvailable = errors.New("available balance would go below zero")

// Credit computes the delta and lot of newly earned points that land in state.
// Available credits repay debt first: the lot keeps only what is left after the
// repayment, and available rises by the full amount (it was −Debt before).
func (m *Member) Credit(points int64, state LotState) (Balances, Lot) {
	var d Balances
	lot := Lot{State: state, Remaining: points}
	switch state {
	case LotAvailable:
		repay := min(m.Debt, points)
		d.Debt = -repay
		d.Available = points
		lot.Remaining = points - repay
	case LotPending:
		d.Pending = points
	case LotReview:
		d.Review = points
	}
	if state != LotReview {
		d.Lifetime = points
	}
	if lot.Remaining == 0 {
		lot.State = LotNone
	}
	return d, lot
}

// take removes up to n points from a lot and returns how many it took and the
// balance delta that goes with it.
func (l *Lot) take(n int64) (int64, Balances) {
	t := min(n, l.Remaining)
	if t <= 0 {
		return 0, Balances{}
	}
	l.Remaining -= t
	var d Balances
	switch l.State {
	case LotAvailable:
		d.Available = -t
	case LotPending:
		d.Pending = -t
	case LotReview:
		d.Review = -t
	}
	if l.Remaining == 0 {
		l.State = LotNone
	}
	return t, d
}

// Check verifies invariants 1 and 4 for a member and all of its entries (lots
// included). It is used by tests and by the operator's audit.
func Check(m Member, entries []Entry) error {
	var lots, sum Balances
	seen := make(map[int64]bool, len(entries))
	for _, e := range entries {
		if seen[e.Seq] {
			return fmt.Errorf("entry seq %d appears twice", e.Seq)
		}
		seen[e.Seq] = true
		sum.Add(e.Delta)
		switch e.State {
		case LotAvailable:
			lots.Available += e.Remaining
		case LotPending:
			lots.Pending += e.Remaining
		case LotReview:
			lots.Review += e.Remaining
		}
		if e.Remaining < 0 {
			return fmt.Errorf("entry %d: lot remaining %d < 0", e.Seq, e.Remaining)
		}
	}
	if int64(len(entries)) != m.Seq {
		return fmt.Errorf("member seq %d but %d entries", m.Seq, len(entries))
	}
	if sum != m.Balances {
		return fmt.Errorf("entries' deltas sum to %+v, member balances are %+v", sum, m.Balances)
	}
	if m.Available != lots.Available-m.Debt {
		return fmt.Errorf("available %d != available lots %d − debt %d", m.Available, lots.Available, m.Debt)
	}
	if m.Pending != lots.Pending || m.Review != lots.Review {
		return fmt.Errorf("pending/review %d/%d != lots %d/%d", m.Pending, m.Review, lots.Pending, lots.Review)
	}
	if m.Debt < 0 || (m.Debt > 0 && lots.Available > 0) {
		return fmt.Errorf("debt %d with %d available lot points (debt must be repaid first)", m.Debt, lots.Available)
	}
	return nil
}
