package ledger

import (
	"errors"
	"fmt"
	"time"

	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// Point transfers between two members of one partner (family pooling,
// gifting): the sender's available points, taken earliest-expiry first,
// become one new available lot of the receiver. Each member gets one
// "transfer" entry: the sender's takes the points (never below zero:
// invariant 2), the receiver's credits them with its lot (repaying the
// receiver's debt first, as every available credit does); each names the
// other member and its entry.
//
// The receiver's lot expires when the earliest of the lots the points came
// from expires (never, when none of them expires). So a transfer never
// extends the life of a point: two members passing points back and forth
// cannot keep them from expiring, as a fresh rolling expiry would let them;
// and one entry carries one lot, as every entry does. The price: points from
// later-expiring lots expire sooner at the receiver (transfer fewer points at
// once to keep them apart).
//
// A transfer is activity of both members (inactivity expiry counts from
// it), but neither earned anything: lifetime and qualifying points do not
// change (no tier can be bought with someone else's points).

// Errors of transfers.
var (
	// ErrTransfersDisabled: the program does not allow transfers.
	ErrTransfersDisabled = errors.New("the program does not allow point transfers")
	// ErrTransferLimit: the transfer is below the program's minimum, above
	// its maximum, over the sender's daily limit, or spread over more lots
	// than one transaction holds.
	ErrTransferLimit = errors.New("the transfer is outside the program's transfer limits")
	// ErrSameMember: a member cannot transfer points to itself.
	ErrSameMember = errors.New("a member cannot transfer points to itself")
)

// ErasedCounterpart replaces the counterpart of a transfer entry once that
// member's data was erased (GDPR).
const ErasedCounterpart = "[erased]"

// Transfer breakdown rules: the sender's and the receiver's line.
const (
	TransferOut = "out"
	TransferIn  = "in"
)

// TransferRequest asks to move Points from one member to another.
type TransferRequest struct {
	Points int64
	// Reason: optional free text (kept in both entries and the audit trail).
	Reason string
	// Actor: the API key id that asked.
	Actor string
	// MaxLots bounds the sender's lots one transfer may take points from
	// (what is left of a transaction's items); 0: no bound.
	MaxLots int
}

// Transferred is what a transfer booked: the sender's entry, the
// receiver's entry (with its lot), and the sender's lots the points came
// from (their Remaining already lowered).
type Transferred struct {
	Out, In Entry
	Takes   []LotTake
}

// Transfer moves req.Points of from's available points (lots: its available
// lots; keyOf names them) to to, under the program's transfer settings, and
// books one entry on each member. It changes nothing on error:
// ErrSameMember, ErrTransfersDisabled, ErrMemberInactive (either member),
// ErrTransferLimit (min, max, daily limit, too many lots),
// ErrInsufficientPoints.
func Transfer(from, to *Member, lots []*Entry, p *program.Program, req TransferRequest, now time.Time, keyOf func(*Entry) string) (Transferred, error) {
	n := req.Points
	switch {
	case from.PartnerID != to.PartnerID:
		return Transferred{}, fmt.Errorf("transfer from %s/%s to %s/%s: members of two partners", from.PartnerID, from.ID, to.PartnerID, to.ID)
	case from.ID == to.ID:
		return Transferred{}, fmt.Errorf("%s/%s: %w", from.PartnerID, from.ID, ErrSameMember)
	case !p.Transfers.Enabled:
		return Transferred{}, ErrTransfersDisabled
	}
	if err := RequireActive(from); err != nil {
		return Transferred{}, err
	}
	if err := RequireActive(to); err != nil {
		return Transferred{}, err
	}
	cfg := p.Transfers
	switch {
	case n <= 0:
		return Transferred{}, fmt.Errorf("%w: %d points: a transfer moves at least 1 point", ErrTransferLimit, n)
	case n < cfg.MinPoints:
		return Transferred{}, fmt.Errorf("%w: %d points, the minimum is %d", ErrTransferLimit, n, cfg.MinPoints)
	case cfg.MaxPoints > 0 && n > cfg.MaxPoints:
		return Transferred{}, fmt.Errorf("%w: %d points, the maximum is %d", ErrTransferLimit, n, cfg.MaxPoints)
	}
	day := LocalDay(now, p.Location())
	sent := int64(0)
	if from.SentDay == day {
		sent = from.SentOnDay
	}
	if cfg.MemberDaily > 0 && sent+n > cfg.MemberDaily {
		return Transferred{}, fmt.Errorf("%w: %d points sent on %s already, %d more would exceed the daily %d",
			ErrTransferLimit, sent, day, n, cfg.MemberDaily)
	}
	sorted := append([]*Entry(nil), lots...)
	SortByExpiry(sorted)
	first, used := lotsFor(sorted, n)
	if req.MaxLots > 0 && used > req.MaxLots {
		return Transferred{}, fmt.Errorf("%w: the points are spread over %d lots, at most %d in one transfer: transfer fewer points",
			ErrTransferLimit, used, req.MaxLots)
	}
	var expires *time.Time
	if first != nil && first.ExpiresAt != nil {
		at := first.ExpiresAt.UTC()
		expires = &at
	}
	takes, d, err := Spend(from, lots, n, keyOf)
	if err != nil {
		return Transferred{}, err
	}
	now = now.UTC()
	out := Entry{Kind: KindTransfer, At: now, Points: -n, Delta: d, Reason: req.Reason, Actor: req.Actor, Counterpart: to.ID,
		Breakdown: []rules.Line{{Kind: rules.KindTransfer, Rule: TransferOut, Points: -n, Detail: req.Reason}}}
	from.SentDay, from.SentOnDay = day, sent+n
	from.LastActivity = now
	from.Apply(&out)

	din, lot := to.Credit(n, LotAvailable)
	din.Lifetime = 0 // received, not earned
	if lot.State != LotNone {
		lot.ExpiresAt = expires
	}
	lines := []rules.Line{{Kind: rules.KindTransfer, Rule: TransferIn, Points: n, Detail: req.Reason}}
	if repaid := n - lot.Remaining; repaid > 0 {
		lines = append(lines, rules.Line{Kind: rules.KindDebt, Rule: "repay", Detail: fmt.Sprintf("%d of the received points repaid debt", repaid)})
	}
	in := Entry{Kind: KindTransfer, At: now, Points: n, Delta: din, Lot: lot, Breakdown: lines, Reason: req.Reason, Actor: req.Actor,
		Counterpart: from.ID, CounterpartSeq: out.Seq}
	to.LastActivity = now
	to.Apply(&in)
	out.CounterpartSeq = in.Seq
	return Transferred{Out: out, In: in, Takes: takes}, nil
}

// lotsFor returns the first lot of sorted (lots in spending order) that n
// points are taken from, and how many lots they are taken from.
func lotsFor(sorted []*Entry, n int64) (first *Entry, used int) {
	for _, l := range sorted {
		if n <= 0 {
			break
		}
		if l.State != LotAvailable || l.Remaining <= 0 {
			continue
		}
		if first == nil {
			first = l
		}
		used++
		n -= l.Remaining
	}
	return first, used
}
