package domainevents_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/eventschema"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/rules"
	"github.com/accrue/accrue/shared/store"
)

const (
	partner = "acme"
	member  = "cust-42"
	mpk     = "P#acme#M#cust-42"
)

func entry(kind ledger.Kind, seq, points int64, d ledger.Balances, lot ledger.Lot) ledger.Entry {
	return ledger.Entry{PartnerID: partner, MemberID: member, Seq: seq, Kind: kind, At: t0, Points: points, Delta: d, Lot: lot, Version: 1,
		Breakdown: []rules.Line{{Kind: "earn", Rule: "base", Points: points, Detail: "free text"}}}
}

func withPayment(e ledger.Entry) ledger.Entry {
	e.PaymentRef = ledger.PaymentRef{EventID: "evt-1", PaymentID: "pay-1", AmountMinor: 12345, Currency: "EUR", PaidAt: t0}
	return e
}

func tp(t time.Time) *time.Time { return &t }

func TestFromRecord(t *testing.T) {
	exp := t0.AddDate(1, 0, 0)
	avl := t0.AddDate(0, 0, 14)
	earn := withPayment(entry(ledger.KindEarn, 1, 123, ledger.Balances{Available: 123, Lifetime: 123},
		ledger.Lot{State: ledger.LotAvailable, Remaining: 123, ExpiresAt: &exp}))
	pendingEarn := withPayment(entry(ledger.KindEarn, 1, 50, ledger.Balances{Pending: 50, Lifetime: 50},
		ledger.Lot{State: ledger.LotPending, Remaining: 50, ExpiresAt: &exp, AvailableAt: &avl}))
	held := withPayment(entry(ledger.KindEarn, 1, 900, ledger.Balances{Review: 900}, ledger.Lot{State: ledger.LotReview, Remaining: 900}))
	held.HoldReasons = []string{"large_payment"}
	zero := withPayment(entry(ledger.KindEarn, 1, 0, ledger.Balances{}, ledger.Lot{}))
	bonus := entry(ledger.KindBonus, 2, 10, ledger.Balances{Available: 10, Lifetime: 10}, ledger.Lot{State: ledger.LotAvailable, Remaining: 10})
	approved := withPayment(entry(ledger.KindRelease, 3, 900, ledger.Balances{Review: -900, Available: 900, Lifetime: 900}, ledger.Lot{}))
	pendingRelease := entry(ledger.KindRelease, 3, 50, ledger.Balances{Pending: -50, Available: 50}, ledger.Lot{})
	adjustUp := entry(ledger.KindAdjust, 4, 20, ledger.Balances{Available: 20, Lifetime: 20}, ledger.Lot{State: ledger.LotAvailable, Remaining: 20})
	adjustDown := entry(ledger.KindAdjust, 5, -20, ledger.Balances{Available: -20}, ledger.Lot{})
	redeem := entry(ledger.KindRedeem, 6, -100, ledger.Balances{Available: -100}, ledger.Lot{})
	redeem.RedemptionID = "rdm_1"
	expire := entry(ledger.KindExpire, 7, -30, ledger.Balances{Available: -30}, ledger.Lot{})
	expireValued := expire
	expireValued.Value = &ledger.Money{AmountMinor: 15, Currency: "EUR"}
	mergeIn := entry(ledger.KindMerge, 12, 0, ledger.Balances{Lifetime: 300}, ledger.Lot{})
	mergeIn.Breakdown = []rules.Line{{Kind: rules.KindMerge, Rule: ledger.MergeIn, Detail: "absorbed another member"}}
	mergeIn.Counterpart, mergeIn.CounterpartSeq = "cust-7", 4
	mergeLot := entry(ledger.KindMerge, 11, 120, ledger.Balances{Available: 120}, ledger.Lot{State: ledger.LotAvailable, Remaining: 120, ExpiresAt: &exp})
	mergeLot.Breakdown = []rules.Line{{Kind: rules.KindMerge, Rule: ledger.MergeLot, Points: 120}}
	mergeLot.Counterpart, mergeLot.CounterpartSeq = "cust-7", 1
	mergeOut := entry(ledger.KindMerge, 4, -120, ledger.Balances{Available: -120, Lifetime: -300}, ledger.Lot{})
	mergeOut.MemberID, mergeOut.Counterpart, mergeOut.CounterpartSeq = "cust-7", member, 12
	mergeOut.Breakdown = []rules.Line{{Kind: rules.KindMerge, Rule: ledger.MergeOut, Points: -120}}
	movedLot := earn
	movedLot.MemberID, movedLot.Lot = "cust-7", ledger.Lot{ExpiresAt: &exp, MovedTo: &ledger.LotMove{MemberID: member, EntrySeq: 11}}
	refund := entry(ledger.KindReverse, 8, -40, ledger.Balances{Available: -40, Lifetime: -40}, ledger.Lot{})
	refund.PaymentRef = ledger.PaymentRef{PaymentID: "ref-1", AmountMinor: 4000, Currency: "EUR", RefundOf: "pay-1"}
	rejected := entry(ledger.KindReverse, 9, -900, ledger.Balances{Review: -900}, ledger.Lot{})
	imported := entry(ledger.KindImport, 1, 500, ledger.Balances{Available: 500}, ledger.Lot{State: ledger.LotAvailable, Remaining: 500, ExpiresAt: &exp})
	importedLife := entry(ledger.KindImport, 2, 0, ledger.Balances{Lifetime: 9000}, ledger.Lot{})

	lot := earn
	lot.Version = 2
	valued := lot
	valued.WarnedFor, valued.WarnedValue = &exp, &ledger.Money{AmountMinor: 62, Currency: "EUR"}
	warnedAt := &types.AttributeValueMemberS{Value: exp.Format(time.RFC3339Nano)}
	later := exp.AddDate(0, 1, 0)
	warnedLater := &types.AttributeValueMemberS{Value: later.Format(time.RFC3339Nano)}

	mem := func(tier string, ver int64) ledger.Member {
		m := ledger.NewMember(partner, member, nil, t0)
		m.Rules.Tier, m.Rules.Qualifying, m.Version = tier, 1500, ver
		return m
	}
	importedMember := mem("gold", 1)
	importedMember.ImportRef = "imp_1/2"
	red := func(status string) ledger.Redemption {
		r := ledger.Redemption{ID: "rdm_1", PartnerID: partner, MemberID: member, Status: status, Points: 500, As: "bill_credit",
			Value: &ledger.Money{AmountMinor: 250, Currency: "EUR"}, CreatedAt: t0, Version: 1}
		if status == ledger.RedemptionCaptured {
			r.SettledAt = tp(t0.Add(time.Minute))
		}
		return r
	}
	review := store.ReviewItem{MemberID: member, PaymentID: "pay-9", EventID: "evt-9", Points: 900, Reasons: []string{"large_payment"},
		HeldAt: t0, AmountMinor: 900000, Currency: "EUR"}
	reviewSK := t0.Format("2006-01-02T15:04:05.000000000Z") + "#cust-42#pay-9"

	anon := earn
	anon.MemberID = store.AnonPrefix + "abc"

	pay := &domainevents.Payment{ID: "pay-1", AmountMinor: 12345, Currency: "EUR"}
	q := int64(1500)

	tests := []struct {
		name string
		rec  events.DynamoDBEventRecord
		want []domainevents.Event // IDs are checked separately
	}{
		{"earn", record("INSERT", mpk, "PAY#pay-1#S", nil, image(t, earn, mpk, "PAY#pay-1#S", nil)), []domainevents.Event{{
			Type: "points.earned", PartnerID: partner, MemberID: member, Time: t0, EntrySeq: 1, Kind: "earn", Points: 123,
			State: "available", ExpiresAt: &exp, Breakdown: []domainevents.Line{{Kind: "earn", Rule: "base", Points: 123}}, Payment: pay}}},
		{"pending earn", record("INSERT", mpk, "PAY#pay-1#S", nil, image(t, pendingEarn, mpk, "PAY#pay-1#S", nil)), []domainevents.Event{{
			Type: "points.earned", PartnerID: partner, MemberID: member, Time: t0, EntrySeq: 1, Kind: "earn", Points: 50,
			State: "pending", ExpiresAt: &exp, AvailableAt: &avl, Breakdown: []domainevents.Line{{Kind: "earn", Rule: "base", Points: 50}}, Payment: pay}}},
		{"held earn", record("INSERT", mpk, "PAY#pay-1#S", nil, image(t, held, mpk, "PAY#pay-1#S", nil)), nil},
		{"zero earn", record("INSERT", mpk, "PAY#pay-1#S", nil, image(t, zero, mpk, "PAY#pay-1#S", nil)), nil},
		{"bonus", record("INSERT", mpk, "E#0000000000000002", nil, image(t, bonus, mpk, "E#0000000000000002", nil)), []domainevents.Event{{
			Type: "points.earned", PartnerID: partner, MemberID: member, Time: t0, EntrySeq: 2, Kind: "bonus", Points: 10,
			State: "available", Breakdown: []domainevents.Line{{Kind: "earn", Rule: "base", Points: 10}}}}},
		{"approved hold", record("INSERT", mpk, "E#0000000000000003", nil, image(t, approved, mpk, "E#0000000000000003", nil)), []domainevents.Event{{
			Type: "points.earned", PartnerID: partner, MemberID: member, Time: t0, EntrySeq: 3, Kind: "release", Points: 900,
			State: "available", Breakdown: []domainevents.Line{{Kind: "earn", Rule: "base", Points: 900}}, Payment: pay}}},
		{"pending released", record("INSERT", mpk, "E#0000000000000003", nil, image(t, pendingRelease, mpk, "E#0000000000000003", nil)), nil},
		{"adjust up", record("INSERT", mpk, "E#0000000000000004", nil, image(t, adjustUp, mpk, "E#0000000000000004", nil)), []domainevents.Event{{
			Type: "points.earned", PartnerID: partner, MemberID: member, Time: t0, EntrySeq: 4, Kind: "adjust", Points: 20,
			State: "available", Breakdown: []domainevents.Line{{Kind: "earn", Rule: "base", Points: 20}}}}},
		{"adjust down", record("INSERT", mpk, "E#0000000000000005", nil, image(t, adjustDown, mpk, "E#0000000000000005", nil)), []domainevents.Event{{
			Type: "points.reversed", PartnerID: partner, MemberID: member, Time: t0, EntrySeq: 5, Kind: "adjust", Points: 20,
			Breakdown: []domainevents.Line{{Kind: "earn", Rule: "base", Points: -20}}}}},
		{"redeem entry", record("INSERT", mpk, "E#0000000000000006", nil, image(t, redeem, mpk, "E#0000000000000006", nil)), nil},
		{"expire", record("INSERT", mpk, "E#0000000000000007", nil, image(t, expire, mpk, "E#0000000000000007", nil)), []domainevents.Event{{
			Type: "points.expired", PartnerID: partner, MemberID: member, Time: t0, EntrySeq: 7, Kind: "expire", Points: 30,
			Breakdown: []domainevents.Line{{Kind: "earn", Rule: "base", Points: -30}}}}},
		{"expire with its value", record("INSERT", mpk, "E#0000000000000007", nil, image(t, expireValued, mpk, "E#0000000000000007", nil)), []domainevents.Event{{
			Type: "points.expired", PartnerID: partner, MemberID: member, Time: t0, EntrySeq: 7, Kind: "expire", Points: 30,
			Breakdown: []domainevents.Line{{Kind: "earn", Rule: "base", Points: -30}}, Value: &ledger.Money{AmountMinor: 15, Currency: "EUR"}}}},
		{"refund", record("INSERT", mpk, "PAY#ref-1#R", nil, image(t, refund, mpk, "PAY#ref-1#R", nil)), []domainevents.Event{{
			Type: "points.reversed", PartnerID: partner, MemberID: member, Time: t0, EntrySeq: 8, Kind: "reverse", Points: 40,
			Breakdown: []domainevents.Line{{Kind: "earn", Rule: "base", Points: -40}},
			Payment:   &domainevents.Payment{ID: "ref-1", AmountMinor: 4000, Currency: "EUR", RefundOf: "pay-1"}}}},
		{"rejected hold", record("INSERT", mpk, "E#0000000000000009", nil, image(t, rejected, mpk, "E#0000000000000009", nil)), nil},
		{"imported lot: no points.earned", record("INSERT", mpk, "E#0000000000000001", nil, image(t, imported, mpk, "E#0000000000000001", nil)), nil},
		{"imported lifetime", record("INSERT", mpk, "E#0000000000000002", nil, image(t, importedLife, mpk, "E#0000000000000002", nil)), nil},
		{"imported lot warned", record("MODIFY", mpk, "E#0000000000000001", image(t, imported, mpk, "E#0000000000000001", nil),
			image(t, imported, mpk, "E#0000000000000001", map[string]types.AttributeValue{"warned": warnedAt})), []domainevents.Event{{
			Type: "points.expiring", PartnerID: partner, MemberID: member, Time: t0.Truncate(time.Second), EntrySeq: 1, Kind: "import",
			Points: 500, State: "available", ExpiresAt: &exp}}},
		{"member imported into a tier: no tier.changed", record("INSERT", mpk, "MEMBER", nil, image(t, importedMember, mpk, "MEMBER", nil)), nil},
		{"lot spent (modify)", record("MODIFY", mpk, "PAY#pay-1#S", image(t, earn, mpk, "PAY#pay-1#S", nil), image(t, lot, mpk, "PAY#pay-1#S", nil)), nil},
		{"lot warned", record("MODIFY", mpk, "PAY#pay-1#S", image(t, earn, mpk, "PAY#pay-1#S", nil),
			image(t, lot, mpk, "PAY#pay-1#S", map[string]types.AttributeValue{"warned": warnedAt})), []domainevents.Event{{
			Type: "points.expiring", PartnerID: partner, MemberID: member, Time: t0.Truncate(time.Second), EntrySeq: 1, Kind: "earn",
			Points: 123, State: "available", ExpiresAt: &exp}}},
		{"lot warned with its value", record("MODIFY", mpk, "PAY#pay-1#S", image(t, earn, mpk, "PAY#pay-1#S", nil),
			image(t, valued, mpk, "PAY#pay-1#S", nil)), []domainevents.Event{{
			Type: "points.expiring", PartnerID: partner, MemberID: member, Time: t0.Truncate(time.Second), EntrySeq: 1, Kind: "earn",
			Points: 123, State: "available", ExpiresAt: &exp, Value: &ledger.Money{AmountMinor: 62, Currency: "EUR"}}}},
		{"lot warned again, same expiry", record("MODIFY", mpk, "PAY#pay-1#S", image(t, earn, mpk, "PAY#pay-1#S", map[string]types.AttributeValue{"warned": warnedAt}),
			image(t, lot, mpk, "PAY#pay-1#S", map[string]types.AttributeValue{"warned": warnedAt})), nil},
		{"lot warned for a new deadline", record("MODIFY", mpk, "PAY#pay-1#S", image(t, earn, mpk, "PAY#pay-1#S", map[string]types.AttributeValue{"warned": warnedAt}),
			image(t, lot, mpk, "PAY#pay-1#S", map[string]types.AttributeValue{"warned": warnedLater})), []domainevents.Event{{
			Type: "points.expiring", PartnerID: partner, MemberID: member, Time: t0.Truncate(time.Second), EntrySeq: 1, Kind: "earn",
			Points: 123, State: "available", ExpiresAt: &later}}},
		{"member enrolled without tier", record("INSERT", mpk, "MEMBER", nil, image(t, mem("", 1), mpk, "MEMBER", nil)), nil},
		{"member enrolled into a tier", record("INSERT", mpk, "MEMBER", nil, image(t, mem("bronze", 1), mpk, "MEMBER", nil)), []domainevents.Event{{
			Type: "tier.changed", PartnerID: partner, MemberID: member, Time: t0.Truncate(time.Second), ToTier: "bronze", Qualifying: &q}}},
		{"tier up", record("MODIFY", mpk, "MEMBER", image(t, mem("silver", 4), mpk, "MEMBER", nil), image(t, mem("gold", 5), mpk, "MEMBER", nil)), []domainevents.Event{{
			Type: "tier.changed", PartnerID: partner, MemberID: member, Time: t0.Truncate(time.Second), FromTier: "silver", ToTier: "gold", Qualifying: &q}}},
		{"member changed, same tier", record("MODIFY", mpk, "MEMBER", image(t, mem("gold", 5), mpk, "MEMBER", nil), image(t, mem("gold", 6), mpk, "MEMBER", nil)), nil},
		{"immediate redemption", record("INSERT", mpk, "RED#rdm_1", nil, image(t, red("captured"), mpk, "RED#rdm_1", nil)), []domainevents.Event{{
			Type: "points.redeemed", PartnerID: partner, MemberID: member, Time: t0.Add(time.Minute), Points: 500, RedemptionID: "rdm_1",
			As: "bill_credit", Value: &ledger.Money{AmountMinor: 250, Currency: "EUR"}}}},
		{"hold", record("INSERT", mpk, "RED#rdm_1", nil, image(t, red("held"), mpk, "RED#rdm_1", nil)), nil},
		{"hold captured", record("MODIFY", mpk, "RED#rdm_1", image(t, red("held"), mpk, "RED#rdm_1", nil), image(t, red("captured"), mpk, "RED#rdm_1", nil)), []domainevents.Event{{
			Type: "points.redeemed", PartnerID: partner, MemberID: member, Time: t0.Add(time.Minute), Points: 500, RedemptionID: "rdm_1",
			As: "bill_credit", Value: &ledger.Money{AmountMinor: 250, Currency: "EUR"}}}},
		{"hold cancelled", record("MODIFY", mpk, "RED#rdm_1", image(t, red("held"), mpk, "RED#rdm_1", nil), image(t, red("cancelled"), mpk, "RED#rdm_1", nil)), nil},
		{"held for review", record("INSERT", "P#acme#REVIEW", reviewSK, nil, image(t, review, "P#acme#REVIEW", reviewSK, nil)), []domainevents.Event{{
			Type: "member.flagged", PartnerID: partner, MemberID: member, Time: t0, Points: 900, Reasons: []string{"large_payment"}, HeldAt: &t0,
			Payment: &domainevents.Payment{ID: "pay-9", AmountMinor: 900000, Currency: "EUR"}}}},
		{"review decided", record("REMOVE", "P#acme#REVIEW", reviewSK, image(t, review, "P#acme#REVIEW", reviewSK, nil), nil), nil},
		{"anonymised copy", record("INSERT", "P#acme#M#erased-abc", "E#0000000000000001", nil, image(t, anon, "P#acme#M#erased-abc", "E#0000000000000001", nil)), nil},
		{"entry removed", record("REMOVE", mpk, "PAY#pay-1#S", image(t, earn, mpk, "PAY#pay-1#S", nil), nil), nil},
		{"program", record("MODIFY", "P#acme", "PROGRAM", image(t, map[string]any{"program": "{}"}, "P#acme", "PROGRAM", nil), image(t, map[string]any{"program": "{}"}, "P#acme", "PROGRAM", nil)), nil},
		{"budget counter", record("INSERT", "P#acme", "BUDGET#2026-03", nil, image(t, map[string]any{"spent": 5}, "P#acme", "BUDGET#2026-03", nil)), nil},
		{"audit", record("INSERT", "P#acme#AUDIT", "x", nil, image(t, map[string]any{"member": "m"}, "P#acme#AUDIT", "x", nil)), nil},
		{"member's audit copy", record("INSERT", mpk, "AUDIT#2026-03-05T10:00:00.000000000Z#a1", nil, image(t, map[string]any{"member": "m", "action": "adjust"}, mpk, "AUDIT#2026-03-05T10:00:00.000000000Z#a1", nil)), nil},
		{"merged: the survivor's closing entry", record("INSERT", mpk, "E#0000000000000012", nil, image(t, mergeIn, mpk, "E#0000000000000012", nil)), []domainevents.Event{{
			Type: "member.merged", PartnerID: partner, MemberID: member, Time: t0, EntrySeq: 12, AbsorbedMemberID: "cust-7"}}},
		{"merged: a lot moved to the survivor", record("INSERT", mpk, "E#0000000000000011", nil, image(t, mergeLot, mpk, "E#0000000000000011", nil)), nil},
		{"merged: the absorbed member emptied", record("INSERT", "P#acme#M#cust-7", "E#0000000000000004", nil, image(t, mergeOut, "P#acme#M#cust-7", "E#0000000000000004", nil)), nil},
		{"merged: the absorbed lot emptied (modify)", record("MODIFY", "P#acme#M#cust-7", "PAY#pay-7#S", image(t, earn, "P#acme#M#cust-7", "PAY#pay-7#S", nil),
			image(t, movedLot, "P#acme#M#cust-7", "PAY#pay-7#S", nil)), nil},
		{"transfer sent", record("INSERT", mpk, "E#0000000000000009", nil, image(t, map[string]any{"partner": "acme", "member": "m", "seq": 9, "kind": "transfer", "pts": -5,
			"d": map[string]any{"avail": -5}, "cp": "m2", "cps": 3}, mpk, "E#0000000000000009", nil)), nil},
	}
	emitted := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domainevents.FromRecord(tc.rec)
			if err != nil {
				t.Fatal(err)
			}
			requireSchema(t, got...)
			for i := range got {
				if !strings.HasPrefix(got[i].ID, "evt_") || len(got[i].ID) != 36 {
					t.Errorf("event id %q", got[i].ID)
				}
				if want := eventschema.URI(got[i].Type, domainevents.SchemaVersion(got[i].Type)); got[i].DataSchema != want {
					t.Errorf("dataschema %q, want %q", got[i].DataSchema, want)
				}
				emitted[got[i].Type] = true
				got[i].ID, got[i].DataSchema = "", ""
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %s\nwant %s", js(got), js(tc.want))
			}
		})
	}
	// The cases above make every type the mapper can emit.
	for _, typ := range domainevents.Types() {
		if !emitted[typ] {
			t.Errorf("no case of TestFromRecord emits %s", typ)
		}
	}
}

func js(evs []domainevents.Event) string {
	var sb strings.Builder
	for _, e := range evs {
		d, err := e.Detail()
		if err != nil {
			d = fmt.Sprintf("%+v (%v)", e, err)
		}
		sb.WriteString(d + "\n")
	}
	return sb.String()
}

func oneID(t *testing.T, rec events.DynamoDBEventRecord) string {
	t.Helper()
	evs, err := domainevents.FromRecord(rec)
	if err != nil || len(evs) != 1 {
		t.Fatalf("want one event, got %v, %v", evs, err)
	}
	return evs[0].ID
}

func TestEventIDs(t *testing.T) {
	earn := withPayment(entry(ledger.KindEarn, 1, 123, ledger.Balances{Available: 123, Lifetime: 123}, ledger.Lot{State: ledger.LotAvailable, Remaining: 123}))
	rec := record("INSERT", mpk, "PAY#pay-1#S", nil, image(t, earn, mpk, "PAY#pay-1#S", nil))
	again := rec
	again.EventID, again.Change.SequenceNumber = "other", "999" // a redelivery (or a replay) of the same change
	id := oneID(t, rec)
	if oneID(t, again) != id {
		t.Error("a redelivered record has another id")
	}
	// The same key earned again by a re-enrolled member (after an erasure) is another event.
	later := earn
	later.At = t0.Add(time.Hour)
	if oneID(t, record("INSERT", mpk, "PAY#pay-1#S", nil, image(t, later, mpk, "PAY#pay-1#S", nil))) == id {
		t.Error("a later entry with the same key has the same id")
	}
	other := earn
	other.PartnerID = "other"
	if oneID(t, record("INSERT", "P#other#M#cust-42", "PAY#pay-1#S", nil, image(t, other, "P#other#M#cust-42", "PAY#pay-1#S", nil))) == id {
		t.Error("another partner's entry has the same id")
	}
	// A lot announced for a new expiry is announced anew.
	w1 := map[string]types.AttributeValue{"warned": &types.AttributeValueMemberS{Value: "2027-01-01T00:00:00Z"}}
	w2 := map[string]types.AttributeValue{"warned": &types.AttributeValueMemberS{Value: "2027-02-01T00:00:00Z"}}
	a := oneID(t, record("MODIFY", mpk, "PAY#pay-1#S", image(t, earn, mpk, "PAY#pay-1#S", nil), image(t, earn, mpk, "PAY#pay-1#S", w1)))
	b := oneID(t, record("MODIFY", mpk, "PAY#pay-1#S", image(t, earn, mpk, "PAY#pay-1#S", w1), image(t, earn, mpk, "PAY#pay-1#S", w2)))
	if a == b {
		t.Error("two warnings for different expiries share an id")
	}
}

func TestFromRecordCorrupt(t *testing.T) {
	earn := entry(ledger.KindEarn, 1, 5, ledger.Balances{Available: 5, Lifetime: 5}, ledger.Lot{State: ledger.LotAvailable, Remaining: 5})
	noKind := map[string]any{"partner": partner, "member": member, "pts": 5}
	badPts := image(t, earn, mpk, "E#1", map[string]types.AttributeValue{"pts": &types.AttributeValueMemberS{Value: "many"}})
	noKeys := record("INSERT", mpk, "E#1", nil, image(t, earn, mpk, "E#1", nil))
	noKeys.Change.Keys = map[string]events.DynamoDBAttributeValue{}
	noKeys.Change.NewImage = nil
	keysOnly := record("INSERT", mpk, "E#1", nil, nil)
	badWarned := image(t, earn, mpk, "E#1", map[string]types.AttributeValue{"warned": &types.AttributeValueMemberL{}})
	for name, rec := range map[string]events.DynamoDBEventRecord{
		"entry without kind":    record("INSERT", mpk, "E#1", nil, image(t, noKind, mpk, "E#1", nil)),
		"points not a number":   record("INSERT", mpk, "E#1", nil, badPts),
		"no keys":               noKeys,
		"keys-only stream":      keysOnly,
		"modify without old":    record("MODIFY", mpk, "MEMBER", nil, image(t, ledger.NewMember(partner, member, nil, t0), mpk, "MEMBER", nil)),
		"unknown event name":    record("UPSERT", mpk, "E#1", nil, image(t, earn, mpk, "E#1", nil)),
		"warned of wrong type":  record("MODIFY", mpk, "E#1", image(t, earn, mpk, "E#1", nil), badWarned),
		"review without member": record("INSERT", "P#acme#REVIEW", "x", nil, image(t, map[string]any{"pts": 1}, "P#acme#REVIEW", "x", nil)),
	} {
		t.Run(name, func(t *testing.T) {
			evs, err := domainevents.FromRecord(rec)
			if !errors.Is(err, domainevents.ErrCorrupt) {
				t.Fatalf("got %v, %v; want ErrCorrupt", evs, err)
			}
		})
	}
}
