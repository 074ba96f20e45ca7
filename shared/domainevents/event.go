// Package domainevents turns committed changes of Accrue's table into the
// domain events of spec §6 and publishes them to EventBridge.
//
// # Where events come from
//
// Events are derived from the table's DynamoDB stream (NEW_AND_OLD_IMAGES,
// store.StreamViewType), not written to an outbox: an accrual stays a two-item
// transaction (spec §7), an event exists only for a write that committed, and
// publishing is retried by the Lambda stream event source (bisect on error,
// ReportBatchItemFailures) for as long as the stream keeps the record (24 h),
// with an on-failure destination as the last resort. FromRecord is the pure
// mapping of one stream record; Publisher.HandleStream is the Lambda handler.
//
// # Catalogue
//
// Every event names its partner and member, its stable id, its time and the
// URI of its schema (dataschema); points are positive magnitudes. Each type's
// JSON — the EventBridge detail, and the data of CloudEvent — is exactly what
// its JSON Schema in shared/eventschema describes (schemas/events/<type>/
// v<N>.json, the version SchemaVersion names): MarshalJSON writes each type's
// own fields, the required ones always (an empty from_tier, a zero points),
// and the tests check every event they produce against its schema.
//
//   - points.earned: INSERT of a ledger entry (PAY#… or E#…) of kind earn or
//     bonus with points > 0 whose lot is not held for review (state "available"
//     or "pending", with available_at); of kind release that moved points out
//     of review (an approved hold; a pending→available release is not an event:
//     the points were announced when earned); of kind adjust with points > 0.
//     Fields: entry_seq, kind, points, state, available_at, expires_at,
//     breakdown (kind, rule, points of each line), payment (id, amount_minor,
//     currency) when the entry came from a payment.
//   - member.flagged: INSERT of a review item (P#{partner}#REVIEW): an accrual
//     held by a fraud limit. Fields: points, reasons, payment, held_at. A held
//     accrual publishes member.flagged instead of points.earned; if the hold is
//     approved, points.earned (kind release) follows; if rejected, nothing (the
//     points were never announced).
//   - points.redeemed: exactly once per redemption, from its RED# item: INSERT
//     with status captured (immediate redemption) or MODIFY from held to
//     captured. Fields: redemption_id, points, reward_id, as, value (the money
//     value of a bill credit, rounded down: money paid out). Holds,
//     cancellations and expired holds are not events.
//   - points.expired: INSERT of an expire entry. Fields: entry_seq, kind,
//     points, breakdown (a line per lot and its reason), value (what the points
//     were worth, rounded half to even: a reported figure, recorded on the
//     entry by the expiry job — ledger.Entry.Value).
//   - points.expiring: MODIFY of a ledger entry whose "warned" attribute (the
//     expiry announced for its lot, set by the expiry job) appears or changes.
//     Fields: entry_seq (the lot's entry), kind, points (the lot's remaining),
//     state, expires_at (the announced expiry), value (what those points are
//     worth, recorded with the announcement: ledger.Lot.WarnedValue).
//   - tier.changed: INSERT or MODIFY of a member item whose rs.tier differs
//     from before ("" for a new member; the store leaves a member below the
//     first upgrade at ""). Fields: from_tier, to_tier, qualifying.
//   - member.merged (not in spec §6; added because a partner whose two
//     customer ids became one member must learn that the absorbed id now
//     answers as the survivor): INSERT of the survivor's closing merge entry
//     (kind merge, its first line's rule "in"). member_id is the survivor.
//     Fields: absorbed_member_id, entry_seq (that entry; the survivor's
//     ledger has the moved lots before it). The absorbed member's entries,
//     the survivor's lot entries and the absorbed lots emptied are no event
//     (no point was earned, expired or spent), nor is the absorbed member
//     item's change; a tier the merge raised is tier.changed, as always.
//   - points.reversed (not in spec §6; added because a partner that showed
//     "you earned 100 points" must be able to take them back): INSERT of a
//     reverse entry that took announced points (a refund: lifetime points
//     drop; the rejection of a hold is not one) or of an adjust entry with
//     points < 0. Fields: entry_seq, kind, points, breakdown, payment (the
//     refund's id, amount, currency and refund_of).
//
// Types lists them. Nothing else is an event: REMOVE records, program, budget,
// reward, key, audit, stats and rejected-event items, and every item of an
// anonymised member (id prefixed store.AnonPrefix: GDPR erasure copies items
// to it, and an erased member has no one to notify).
//
// Values are computed where the change is decided, with the program of that
// moment, and stored with the item (a redemption's value, an expire entry's,
// a warned lot's), never by the mapper: a record delivered again, or mapped
// after a program change, yields the same event.
//
// time is the stored time of the change where the item has one (the entry's
// time, the redemption's settlement, the hold's time), else the stream
// record's approximate creation time (tier changes, expiry warnings); both are
// the same on every delivery of a record.
//
// # Ids
//
// EventBridge gives every PutEvents entry its own id, new on every put. The
// stable id is detail.id: "evt_" + 32 hex digits of sha256 over partner,
// member, type and the cause (the entry's seq and time; the redemption id;
// the member's creation time and version; the lot, its time and the announced
// expiry; the review item's key). A stream record delivered again yields the
// same id, and an event may be published more than once (a retried batch
// re-sends what preceded the failure in it): consumers deduplicate on
// detail.id.
package domainevents

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/accrue/accrue/shared/eventschema"
	"github.com/accrue/accrue/shared/ledger"
)

// Event types.
const (
	TypePointsEarned   = "points.earned"
	TypePointsRedeemed = "points.redeemed"
	TypePointsExpired  = "points.expired"
	TypePointsExpiring = "points.expiring"
	TypeTierChanged    = "tier.changed"
	TypeMemberFlagged  = "member.flagged"
	TypePointsReversed = "points.reversed"
	TypeMemberMerged   = "member.merged"
)

// schemaVersions: the version of each type's schema (shared/eventschema)
// that FromRecord emits; its keys are every type it can emit.
var schemaVersions = map[string]int{
	TypePointsEarned:   1,
	TypePointsRedeemed: 1,
	TypePointsExpired:  1,
	TypePointsExpiring: 1,
	TypeTierChanged:    1,
	TypeMemberFlagged:  1,
	TypePointsReversed: 1,
	TypeMemberMerged:   1,
}

// Types lists every event type FromRecord can emit, sorted.
func Types() []string {
	out := make([]string, 0, len(schemaVersions))
	for t := range schemaVersions {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// SchemaVersion is the version of typ's schema the events of typ follow (0
// for a type FromRecord does not emit).
func SchemaVersion(typ string) int { return schemaVersions[typ] }

// DataSchema is the schema URI events of typ carry ("" for a type FromRecord
// does not emit).
func DataSchema(typ string) string {
	v, ok := schemaVersions[typ]
	if !ok {
		return ""
	}
	return eventschema.URI(typ, v)
}

// Source of every event on the bus.
const Source = eventschema.Source

// Event is a domain event: its JSON (MarshalJSON, the fields of its type) is
// the EventBridge entry's Detail and the data of its CloudEvent. The field
// tags name the JSON fields, and decode any type's JSON.
type Event struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// DataSchema is the URI of the schema the event follows (DataSchema(Type)).
	DataSchema string    `json:"dataschema"`
	PartnerID  string    `json:"partner_id"`
	MemberID   string    `json:"member_id"`
	Time       time.Time `json:"time"`

	// EntrySeq: the ledger entry that made the change (or carries the lot).
	EntrySeq int64 `json:"entry_seq,omitempty"`
	// Kind of that entry (earn, bonus, release, adjust, reverse, expire,
	// transfer, merge).
	Kind string `json:"kind,omitempty"`
	// Points earned, redeemed, expired, expiring, reversed or held (positive).
	Points int64 `json:"points,omitempty"`
	// State of earned points: "available" or "pending" (until AvailableAt).
	State       string     `json:"state,omitempty"`
	AvailableAt *time.Time `json:"available_at,omitempty"`
	// ExpiresAt: when earned points expire; of points.expiring, the expiry
	// announced.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Breakdown []Line     `json:"breakdown,omitempty"`
	Payment   *Payment   `json:"payment,omitempty"`

	// Redemption (points.redeemed).
	RedemptionID string `json:"redemption_id,omitempty"`
	RewardID     string `json:"reward_id,omitempty"`
	As           string `json:"as,omitempty"`
	// Value: the money value of a bill credit (points.redeemed), of the
	// points that expired (points.expired) or are expiring (points.expiring).
	Value *ledger.Money `json:"value,omitempty"`

	// Tier change (tier.changed).
	FromTier   string `json:"from_tier,omitempty"`
	ToTier     string `json:"to_tier,omitempty"`
	Qualifying *int64 `json:"qualifying,omitempty"`

	// Hold (member.flagged).
	Reasons []string   `json:"reasons,omitempty"`
	HeldAt  *time.Time `json:"held_at,omitempty"`

	// Merge (member.merged): the id merged into the member.
	AbsorbedMemberID string `json:"absorbed_member_id,omitempty"`
}

// Line summarises a breakdown line: which rule contributed how many points
// (the free-text detail is left out: it may hold an admin's reason).
type Line struct {
	Kind   string `json:"kind"`
	Rule   string `json:"rule,omitempty"`
	Points int64  `json:"points"`
}

// Payment an event came from.
type Payment struct {
	ID          string `json:"id,omitempty"`
	AmountMinor int64  `json:"amount_minor,omitempty"`
	Currency    string `json:"currency,omitempty"`
	RefundOf    string `json:"refund_of,omitempty"`
}

// Detail is the event as EventBridge's Detail (JSON).
func (e Event) Detail() (string, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("marshal event %s: %w", e.ID, err)
	}
	return string(b), nil
}

// The JSON of each type: exactly the fields of its schema, the required
// ones without omitempty.
type (
	wireHead struct {
		ID         string    `json:"id"`
		Type       string    `json:"type"`
		DataSchema string    `json:"dataschema"`
		PartnerID  string    `json:"partner_id"`
		MemberID   string    `json:"member_id"`
		Time       time.Time `json:"time"`
	}
	wireEarned struct {
		wireHead
		EntrySeq    int64      `json:"entry_seq"`
		Kind        string     `json:"kind"`
		Points      int64      `json:"points"`
		State       string     `json:"state"`
		AvailableAt *time.Time `json:"available_at,omitempty"`
		ExpiresAt   *time.Time `json:"expires_at,omitempty"`
		Breakdown   []Line     `json:"breakdown"`
		Payment     *Payment   `json:"payment,omitempty"`
	}
	wireRedeemed struct {
		wireHead
		RedemptionID string        `json:"redemption_id"`
		Points       int64         `json:"points"`
		RewardID     string        `json:"reward_id,omitempty"`
		As           string        `json:"as,omitempty"`
		Value        *ledger.Money `json:"value,omitempty"`
	}
	wireExpired struct {
		wireHead
		EntrySeq  int64         `json:"entry_seq"`
		Kind      string        `json:"kind"`
		Points    int64         `json:"points"`
		Breakdown []Line        `json:"breakdown"`
		Value     *ledger.Money `json:"value,omitempty"`
	}
	wireExpiring struct {
		wireHead
		EntrySeq  int64         `json:"entry_seq"`
		Kind      string        `json:"kind"`
		Points    int64         `json:"points"`
		State     string        `json:"state"`
		ExpiresAt *time.Time    `json:"expires_at"`
		Value     *ledger.Money `json:"value,omitempty"`
	}
	wireReversed struct {
		wireHead
		EntrySeq  int64    `json:"entry_seq"`
		Kind      string   `json:"kind"`
		Points    int64    `json:"points"`
		Breakdown []Line   `json:"breakdown"`
		Payment   *Payment `json:"payment,omitempty"`
	}
	wireTier struct {
		wireHead
		FromTier   string `json:"from_tier"`
		ToTier     string `json:"to_tier"`
		Qualifying int64  `json:"qualifying"`
	}
	wireFlagged struct {
		wireHead
		Points  int64      `json:"points"`
		Reasons []string   `json:"reasons"`
		HeldAt  *time.Time `json:"held_at"`
		Payment *Payment   `json:"payment"`
	}
	wireMerged struct {
		wireHead
		AbsorbedMemberID string `json:"absorbed_member_id"`
		EntrySeq         int64  `json:"entry_seq"`
	}
	// wirePayment: a payment's id, amount and currency are always there.
	wirePayment struct {
		ID          string `json:"id"`
		AmountMinor int64  `json:"amount_minor"`
		Currency    string `json:"currency"`
		RefundOf    string `json:"refund_of,omitempty"`
	}
)

// MarshalJSON writes the fields of e's type (see the package doc); an event
// of a type FromRecord does not emit is an error.
func (e Event) MarshalJSON() ([]byte, error) {
	h := wireHead{ID: e.ID, Type: e.Type, DataSchema: e.DataSchema, PartnerID: e.PartnerID, MemberID: e.MemberID, Time: e.Time}
	lines := e.Breakdown
	if lines == nil {
		lines = []Line{}
	}
	var v any
	switch e.Type {
	case TypePointsEarned:
		v = wireEarned{h, e.EntrySeq, e.Kind, e.Points, e.State, e.AvailableAt, e.ExpiresAt, lines, e.Payment}
	case TypePointsRedeemed:
		v = wireRedeemed{h, e.RedemptionID, e.Points, e.RewardID, e.As, e.Value}
	case TypePointsExpired:
		v = wireExpired{h, e.EntrySeq, e.Kind, e.Points, lines, e.Value}
	case TypePointsExpiring:
		v = wireExpiring{h, e.EntrySeq, e.Kind, e.Points, e.State, e.ExpiresAt, e.Value}
	case TypePointsReversed:
		v = wireReversed{h, e.EntrySeq, e.Kind, e.Points, lines, e.Payment}
	case TypeTierChanged:
		var q int64
		if e.Qualifying != nil {
			q = *e.Qualifying
		}
		v = wireTier{h, e.FromTier, e.ToTier, q}
	case TypeMemberFlagged:
		reasons := e.Reasons
		if reasons == nil {
			reasons = []string{}
		}
		v = wireFlagged{h, e.Points, reasons, e.HeldAt, e.Payment}
	case TypeMemberMerged:
		v = wireMerged{h, e.AbsorbedMemberID, e.EntrySeq}
	default:
		return nil, fmt.Errorf("event %s: type %q is not in the catalogue", e.ID, e.Type)
	}
	return json.Marshal(v)
}

// MarshalJSON writes a payment with its id, amount and currency always.
func (p Payment) MarshalJSON() ([]byte, error) {
	return json.Marshal(wirePayment(p))
}

// eventID hashes what caused an event into its id (the same scheme as the
// jobs package's).
func eventID(partner, member, typ, cause string) string {
	h := sha256.New()
	for _, s := range []string{partner, member, typ, cause} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "evt_" + hex.EncodeToString(h.Sum(nil)[:16])
}
