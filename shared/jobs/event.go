package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/money"
	"github.com/accrue/accrue/shared/program"
)

// Event types of the jobs (spec §6).
const (
	TypePointsExpired  = "points.expired"
	TypePointsExpiring = "points.expiring"
	TypeTierChanged    = "tier.changed"
)

// Event is a domain event for the partner's EventBridge bus (its JSON names
// are those of shared/domainevents.Event). ID is stable: the same change
// always yields the same id, so a consumer can drop duplicates.
type Event struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	PartnerID string    `json:"partner_id"`
	MemberID  string    `json:"member_id"`
	Time      time.Time `json:"time"`
	// EntrySeq is the ledger entry that made the change (points.expired).
	EntrySeq int64 `json:"entry_seq,omitempty"`
	// Points expired or about to expire (positive).
	Points int64 `json:"points,omitempty"`
	// Value of Points at the program's point value (when it has one).
	Value *ledger.Money `json:"value,omitempty"`
	// ExpiresAt: the expiry announced (points.expiring).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Reason of the expiry announced: "expiry" or "inactivity".
	Reason string `json:"reason,omitempty"`
	// Lots expired, earliest first (points.expired).
	Lots []EventLot `json:"lots,omitempty"`
	// Tier change (tier.changed) and the qualifying points it was based on.
	FromTier   string `json:"from_tier,omitempty"`
	ToTier     string `json:"to_tier,omitempty"`
	Qualifying *int64 `json:"qualifying,omitempty"`

	// entry is 1 + the index in Plan.Entries of the entry that caused the
	// event (0: none); Apply sets EntrySeq and ID from its sequence number.
	entry int
}

// EventLot is one lot of a points.expired event.
type EventLot struct {
	// EntrySeq of the earn entry that carries the lot.
	EntrySeq  int64     `json:"entry_seq"`
	Points    int64     `json:"points"`
	ExpiresAt time.Time `json:"expires_at"`
	// Reason: "expiry" (the lot's date) or "inactivity".
	Reason string `json:"reason"`
}

// Expiry reasons.
const (
	ReasonExpiry     = "expiry"
	ReasonInactivity = "inactivity"
)

// Ids. An event's id is "evt_" + 32 hex digits of sha256 over partner,
// member, type and its cause, in exactly the scheme and with exactly the
// causes shared/domainevents uses when it derives the same events from the
// table's stream, so that the two sources agree on every id and a consumer
// deduplicates across them:
//
//   - points.expired: "entry/{seq}@{at}", the expire entry's sequence number
//     and time (unix nanoseconds);
//   - points.expiring: "lot/{lot key}@{at}/warned/{expiry}", the lot's item
//     key and its entry's time, and the announced expiry as the "warned"
//     attribute stores it (RFC 3339 with nanoseconds, UTC);
//   - tier.changed: "member/{created}/ver/{version}", the member's creation
//     time and the version the change is written at (the store increments
//     Version by one per transaction).

// eventID hashes what caused an event into its id.
func eventID(partner, member, typ, cause string) string {
	h := sha256.New()
	for _, s := range []string{partner, member, typ, cause} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "evt_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// setEntry names the entry that caused the event.
func (e *Event) setEntry(seq int64, at time.Time) {
	e.EntrySeq = seq
	e.ID = eventID(e.PartnerID, e.MemberID, e.Type, fmt.Sprintf("entry/%d@%d", seq, at.UnixNano()))
}

// expiringID is the id of the points.expiring event of one lot.
func expiringID(m *ledger.Member, lotKey string, lot *ledger.Entry, expiresAt time.Time) string {
	return eventID(m.PartnerID, m.ID, TypePointsExpiring,
		fmt.Sprintf("lot/%s@%d/warned/%s", lotKey, lot.At.UnixNano(), expiresAt.UTC().Format(time.RFC3339Nano)))
}

// tierID is the id of a tier change written at the member's next version.
func tierID(m *ledger.Member) string {
	return eventID(m.PartnerID, m.ID, TypeTierChanged, fmt.Sprintf("member/%d/ver/%d", m.CreatedAt.UnixNano(), m.Version+1))
}

// value is the money value of points at the program's point value, in whole
// minor units rounded as reported values are (money.HalfEven, like the
// liability they leave); nil when the program sets none or the value is
// beyond the int64 range.
func value(p *program.Program, points int64) *ledger.Money {
	if p == nil || p.PointValue.Currency == "" || !p.PointValue.Minor.IsSet() {
		return nil
	}
	n, err := p.PointValue.Value(points, money.HalfEven)
	if err != nil {
		return nil
	}
	return &ledger.Money{AmountMinor: n, Currency: p.PointValue.Currency}
}

// publishes reports whether events are published for m: an erased member has
// no one to notify.
func publishes(m *ledger.Member) bool { return m.Status != ledger.StatusErased }
