package domainevents

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/store"
)

// AttrWarned is the attribute of a ledger entry that records the expiry
// announced for its lot in a points.expiring event (set by the expiry job).
const AttrWarned = "warned"

// ErrCorrupt: a stream record that should carry an event cannot be read.
var ErrCorrupt = errors.New("unreadable stream record")

// Stream event names.
const (
	eventInsert = "INSERT"
	eventModify = "MODIFY"
	eventRemove = "REMOVE"
)

// FromRecord maps one stream record to the domain events it stands for (none
// for most records). An error (ErrCorrupt) means the record should have been
// readable and was not; the caller must not drop it silently.
func FromRecord(rec events.DynamoDBEventRecord) ([]Event, error) {
	switch rec.EventName {
	case eventInsert, eventModify:
	case eventRemove:
		return nil, nil
	default:
		return nil, fmt.Errorf("%w: event name %q", ErrCorrupt, rec.EventName)
	}
	keys := rec.Change.Keys
	if keys == nil {
		keys = rec.Change.NewImage
	}
	pk, ok1 := stringAttr(keys, store.AttrPK)
	sk, ok2 := stringAttr(keys, store.AttrSK)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: no pk/sk in keys", ErrCorrupt)
	}
	key := store.ParseKey(pk, sk)
	if key.Kind == store.ItemOther || key.Kind == store.ItemEraseMarker || key.Kind == store.ItemAuditCopy {
		return nil, nil
	}
	newImg, err := SDKImage(rec.Change.NewImage)
	if err != nil {
		return nil, fmt.Errorf("%w: %s|%s new image: %w", ErrCorrupt, pk, sk, err)
	}
	oldImg, err := SDKImage(rec.Change.OldImage)
	if err != nil {
		return nil, fmt.Errorf("%w: %s|%s old image: %w", ErrCorrupt, pk, sk, err)
	}
	if newImg == nil {
		return nil, fmt.Errorf("%w: %s %s|%s without a new image (the stream must be %s)", ErrCorrupt, rec.EventName, pk, sk, store.StreamViewType)
	}
	if rec.EventName == eventModify && oldImg == nil {
		return nil, fmt.Errorf("%w: MODIFY %s|%s without an old image (the stream must be %s)", ErrCorrupt, pk, sk, store.StreamViewType)
	}
	c := change{insert: rec.EventName == eventInsert, pk: pk, sk: sk, key: key, newImg: newImg, oldImg: oldImg, at: rec.Change.ApproximateCreationDateTime.UTC()}
	var evs []Event
	switch key.Kind {
	case store.ItemPaymentEntry, store.ItemEntry:
		evs, err = c.entry()
	case store.ItemMember:
		evs, err = c.member()
	case store.ItemRedemption:
		evs, err = c.redemption()
	case store.ItemReview:
		evs, err = c.review()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s|%s: %w", ErrCorrupt, rec.EventName, pk, sk, err)
	}
	return evs, nil
}

func anonymous(member string) bool { return strings.HasPrefix(member, store.AnonPrefix) }

type change struct {
	insert         bool
	pk, sk         string
	key            store.ItemKey
	newImg, oldImg map[string]types.AttributeValue
	at             time.Time // the record's approximate creation time
}

func (c *change) ids(partner, member string) (string, string) {
	if partner == "" {
		partner = c.key.Partner
	}
	if member == "" {
		member = c.key.Member
	}
	return partner, member
}

func (c *change) event(typ, partner, member, cause string, at time.Time) Event {
	if at.IsZero() {
		at = c.at
	}
	return Event{ID: eventID(partner, member, typ, cause), Type: typ, DataSchema: DataSchema(typ), PartnerID: partner, MemberID: member, Time: at.UTC()}
}

func (c *change) entry() ([]Event, error) {
	var e ledger.Entry
	if err := attributevalue.UnmarshalMap(c.newImg, &e); err != nil {
		return nil, err
	}
	if e.Kind == "" {
		return nil, errors.New("ledger entry without a kind")
	}
	partner, member := c.ids(e.PartnerID, e.MemberID)
	if anonymous(member) {
		return nil, nil
	}
	if !c.insert {
		return c.warned(&e, partner, member)
	}
	cause := fmt.Sprintf("entry/%d@%d", e.Seq, e.At.UnixNano())
	base := func(typ string, points int64) Event {
		ev := c.event(typ, partner, member, cause, e.At)
		ev.EntrySeq, ev.Kind, ev.Points, ev.Breakdown = e.Seq, string(e.Kind), points, lines(&e)
		ev.Payment = paymentOf(&e)
		return ev
	}
	switch e.Kind {
	case ledger.KindEarn, ledger.KindBonus, ledger.KindAdjust, ledger.KindRelease:
		switch {
		case e.Points < 0 && e.Kind == ledger.KindAdjust:
			return []Event{base(TypePointsReversed, -e.Points)}, nil
		case e.Points <= 0:
			return nil, nil
		case e.Kind == ledger.KindRelease && e.Delta.Review >= 0:
			return nil, nil // pending → available: announced when earned
		case e.State == ledger.LotReview:
			return nil, nil // held: member.flagged comes from the review item
		}
		ev := base(TypePointsEarned, e.Points)
		ev.State = string(ledger.LotAvailable)
		if e.Delta.Pending > 0 {
			ev.State = string(ledger.LotPending)
		}
		if e.Kind != ledger.KindRelease || e.State != ledger.LotNone {
			// A release entry carries no lot of its own (the held entry does).
			ev.ExpiresAt, ev.AvailableAt = e.ExpiresAt, e.AvailableAt
		}
		return []Event{ev}, nil
	case ledger.KindExpire:
		if e.Points >= 0 {
			return nil, nil
		}
		ev := base(TypePointsExpired, -e.Points)
		ev.Payment, ev.Value = nil, e.Value
		return []Event{ev}, nil
	case ledger.KindReverse:
		if e.Points >= 0 || e.Delta.Lifetime >= 0 {
			return nil, nil // nothing reversed, or a rejected hold (never announced)
		}
		return []Event{base(TypePointsReversed, -e.Points)}, nil
	case ledger.KindMerge:
		if len(e.Breakdown) == 0 || e.Breakdown[0].Rule != ledger.MergeIn || e.Counterpart == "" || e.Counterpart == ledger.ErasedCounterpart {
			return nil, nil // the absorbed member's entry, a moved lot
		}
		ev := c.event(TypeMemberMerged, partner, member, cause, e.At)
		ev.EntrySeq, ev.AbsorbedMemberID = e.Seq, e.Counterpart
		return []Event{ev}, nil
	case ledger.KindImport:
		// Opening balances of a bulk import: the partner's own points,
		// brought over, not earned now. A million members imported must not
		// send a million points.earned; the imported lots' later expiry,
		// warnings and release are announced like any lot's.
		return nil, nil
	}
	return nil, nil // redeem entries: points.redeemed comes from the redemption item
}

// warned: a MODIFY of an entry whose lot was announced as expiring.
func (c *change) warned(e *ledger.Entry, partner, member string) ([]Event, error) {
	nw, ok := c.newImg[AttrWarned]
	if !ok {
		return nil, nil
	}
	nv, err := warnedValue(nw)
	if err != nil {
		return nil, err
	}
	if ow, ok := c.oldImg[AttrWarned]; ok {
		if ov, err := warnedValue(ow); err == nil && ov == nv {
			return nil, nil
		}
	}
	if e.Remaining <= 0 || (e.State != ledger.LotAvailable && e.State != ledger.LotPending) {
		return nil, nil
	}
	exp := e.ExpiresAt
	if t, err := time.Parse(time.RFC3339Nano, nv); err == nil {
		t = t.UTC()
		exp = &t
	}
	ev := c.event(TypePointsExpiring, partner, member, fmt.Sprintf("lot/%s@%d/warned/%s", c.sk, e.At.UnixNano(), nv), time.Time{})
	ev.EntrySeq, ev.Kind, ev.Points, ev.ExpiresAt = e.Seq, string(e.Kind), e.Remaining, exp
	ev.State, ev.Value = string(e.State), e.WarnedValue
	return []Event{ev}, nil
}

// warnedValue reads the warned attribute: the announced expiry (a time string,
// as attributevalue marshals time.Time), or a flag / number.
func warnedValue(av types.AttributeValue) (string, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return v.Value, nil
	case *types.AttributeValueMemberN:
		return v.Value, nil
	case *types.AttributeValueMemberBOOL:
		return strconv.FormatBool(v.Value), nil
	case *types.AttributeValueMemberNULL:
		return "", nil
	}
	return "", fmt.Errorf("attribute %s has type %T", AttrWarned, av)
}

func lines(e *ledger.Entry) []Line {
	if len(e.Breakdown) == 0 {
		return nil
	}
	out := make([]Line, len(e.Breakdown))
	for i, l := range e.Breakdown {
		out[i] = Line{Kind: string(l.Kind), Rule: l.Rule, Points: l.Points}
	}
	return out
}

func paymentOf(e *ledger.Entry) *Payment {
	if e.PaymentID == "" && e.AmountMinor == 0 {
		return nil
	}
	return &Payment{ID: e.PaymentID, AmountMinor: e.AmountMinor, Currency: e.Currency, RefundOf: e.RefundOf}
}

func (c *change) member() ([]Event, error) {
	var nm ledger.Member
	if err := attributevalue.UnmarshalMap(c.newImg, &nm); err != nil {
		return nil, err
	}
	partner, member := c.ids(nm.PartnerID, nm.ID)
	if anonymous(member) || nm.Status == ledger.StatusErased {
		return nil, nil
	}
	from := ""
	if !c.insert {
		var om ledger.Member
		if err := attributevalue.UnmarshalMap(c.oldImg, &om); err != nil {
			return nil, fmt.Errorf("old image: %w", err)
		}
		from = om.Rules.Tier
	}
	if nm.Rules.Tier == from {
		return nil, nil
	}
	if c.insert && nm.ImportRef != "" {
		return nil, nil // the tier a bulk import brought: not a change
	}
	ev := c.event(TypeTierChanged, partner, member, fmt.Sprintf("member/%d/ver/%d", nm.CreatedAt.UnixNano(), nm.Version), time.Time{})
	q := nm.Rules.Qualifying
	ev.FromTier, ev.ToTier, ev.Qualifying = from, nm.Rules.Tier, &q
	return []Event{ev}, nil
}

func (c *change) redemption() ([]Event, error) {
	var r ledger.Redemption
	if err := attributevalue.UnmarshalMap(c.newImg, &r); err != nil {
		return nil, err
	}
	partner, member := c.ids(r.PartnerID, r.MemberID)
	if anonymous(member) || r.Status != ledger.RedemptionCaptured {
		return nil, nil
	}
	if !c.insert {
		var o ledger.Redemption
		if err := attributevalue.UnmarshalMap(c.oldImg, &o); err != nil {
			return nil, fmt.Errorf("old image: %w", err)
		}
		if o.Status == ledger.RedemptionCaptured {
			return nil, nil
		}
	}
	if r.ID == "" {
		r.ID = c.key.RedemptionID
	}
	at := r.CreatedAt
	if r.SettledAt != nil {
		at = *r.SettledAt
	}
	ev := c.event(TypePointsRedeemed, partner, member, "redemption/"+r.ID, at)
	ev.Points, ev.RedemptionID, ev.RewardID, ev.As, ev.Value = r.Points, r.ID, r.RewardID, r.As, r.Value
	return []Event{ev}, nil
}

func (c *change) review() ([]Event, error) {
	if !c.insert {
		return nil, nil
	}
	var rv store.ReviewItem
	if err := attributevalue.UnmarshalMap(c.newImg, &rv); err != nil {
		return nil, err
	}
	partner, _ := c.ids("", "")
	if rv.MemberID == "" {
		return nil, errors.New("review item without a member")
	}
	if anonymous(rv.MemberID) {
		return nil, nil // re-keyed by an erasure
	}
	ev := c.event(TypeMemberFlagged, partner, rv.MemberID, "review/"+c.sk, rv.HeldAt)
	held := rv.HeldAt.UTC()
	ev.Points, ev.Reasons, ev.HeldAt = rv.Points, rv.Reasons, &held
	ev.Payment = &Payment{ID: rv.PaymentID, AmountMinor: rv.AmountMinor, Currency: rv.Currency}
	return []Event{ev}, nil
}

func stringAttr(m map[string]events.DynamoDBAttributeValue, k string) (string, bool) {
	v, ok := m[k]
	if !ok || v.DataType() != events.DataTypeString {
		return "", false
	}
	return v.String(), true
}
