package domainevents_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/eventschema/eventschematest"
	"github.com/accrue/accrue/shared/ledger"
)

// checkCloudEvent renders e as a CloudEvent and checks it as a webhook
// receiver would: a valid CloudEvents 1.0 event (read back with the SDK)
// whose attributes are e's, and whose data is e's detail, which validates
// against the schema dataschema names.
func checkCloudEvent(t *testing.T, e domainevents.Event) {
	t.Helper()
	b, err := domainevents.CloudEvent(e)
	if err != nil {
		t.Errorf("CloudEvent(%s %s): %v", e.Type, e.ID, err)
		return
	}
	var ce cloudevents.Event
	if err := json.Unmarshal(b, &ce); err != nil {
		t.Errorf("CloudEvent of %s does not read back: %v\n%s", e.ID, err, b)
		return
	}
	if err := ce.Validate(); err != nil {
		t.Errorf("CloudEvent of %s: %v", e.ID, err)
	}
	var subject string
	if ce.Context != nil {
		subject = ce.Subject()
	}
	want := [][2]string{
		{ce.SpecVersion(), "1.0"}, {ce.ID(), e.ID}, {ce.Source(), domainevents.CloudEventSource(e.PartnerID)},
		{ce.Type(), e.Type}, {subject, e.MemberID}, {ce.DataContentType(), "application/json"},
		{ce.DataSchema(), e.DataSchema},
	}
	for _, w := range want {
		if w[0] != w[1] {
			t.Errorf("CloudEvent of %s: attribute %q, want %q\n%s", e.ID, w[0], w[1], b)
		}
	}
	if !ce.Time().Equal(e.Time) {
		t.Errorf("CloudEvent of %s: time %s, want %s", e.ID, ce.Time(), e.Time)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if _, b64 := raw["data_base64"]; b64 || !bytes.HasPrefix(raw["data"], []byte("{")) {
		t.Errorf("CloudEvent of %s: data is not a JSON object: %s", e.ID, b)
	}
	detail, err := e.Detail()
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, ce.Data(), []byte(detail)) {
		t.Errorf("CloudEvent of %s: data\n%s\nis not the detail\n%s", e.ID, ce.Data(), detail)
	}
	if err := eventschematest.Check(ce.Data()); err != nil {
		t.Errorf("CloudEvent data: %v", err)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// The CloudEvent of a points.earned event, whole: structured mode, the
// attributes of the envelope, the detail as data.
func TestCloudEvent(t *testing.T) {
	exp := t0.AddDate(1, 0, 0)
	earn := withPayment(entry(ledger.KindEarn, 1, 123, ledger.Balances{Available: 123, Lifetime: 123},
		ledger.Lot{State: ledger.LotAvailable, Remaining: 123, ExpiresAt: &exp}))
	evs, err := domainevents.FromRecord(record("INSERT", mpk, "PAY#pay-1#S", nil, image(t, earn, mpk, "PAY#pay-1#S", nil)))
	if err != nil || len(evs) != 1 {
		t.Fatalf("%v, %v", evs, err)
	}
	e := evs[0]
	checkCloudEvent(t, e)
	b, err := domainevents.CloudEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
	  "specversion": "1.0",
	  "id": "` + e.ID + `",
	  "source": "https://accrue.dev/partners/acme",
	  "type": "points.earned",
	  "subject": "cust-42",
	  "datacontenttype": "application/json",
	  "dataschema": "https://accrue.dev/schemas/events/points.earned/v1.json",
	  "time": "2026-03-14T09:26:53.589793Z",
	  "data": {
	    "id": "` + e.ID + `",
	    "type": "points.earned",
	    "dataschema": "https://accrue.dev/schemas/events/points.earned/v1.json",
	    "partner_id": "acme",
	    "member_id": "cust-42",
	    "time": "2026-03-14T09:26:53.589793Z",
	    "entry_seq": 1,
	    "kind": "earn",
	    "points": 123,
	    "state": "available",
	    "expires_at": "2027-03-14T09:26:53.589793Z",
	    "breakdown": [{"kind": "earn", "rule": "base", "points": 123}],
	    "payment": {"id": "pay-1", "amount_minor": 12345, "currency": "EUR"}
	  }
	}`
	if !jsonEqual(t, b, []byte(want)) {
		t.Errorf("CloudEvent:\n%s\nwant\n%s", b, want)
	}

	// Every type renders (and validates); the partner id is escaped in source.
	q := int64(0)
	held := t0
	for _, e := range []domainevents.Event{
		{ID: "evt_00000000000000000000000000000001", Type: "tier.changed", PartnerID: "acme", MemberID: "m", Time: t0, Qualifying: &q},
		{ID: "evt_00000000000000000000000000000002", Type: "member.flagged", PartnerID: "acme", MemberID: "m", Time: t0, Reasons: []string{"large_payment"},
			HeldAt: &held, Payment: &domainevents.Payment{ID: "p", AmountMinor: 1, Currency: "EUR"}},
		{ID: "evt_00000000000000000000000000000003", Type: "points.redeemed", PartnerID: "acme", MemberID: "m", Time: t0, RedemptionID: "rdm_1", Points: 5},
		{ID: "evt_00000000000000000000000000000004", Type: "points.expiring", PartnerID: "acme", MemberID: "m", Time: t0, EntrySeq: 1, Kind: "earn",
			Points: 5, State: "pending", ExpiresAt: &exp, Value: &ledger.Money{AmountMinor: 3, Currency: "JPY"}},
	} {
		e.DataSchema = domainevents.DataSchema(e.Type)
		checkCloudEvent(t, e)
	}
	if got := domainevents.CloudEventSource("a b/c"); got != "https://accrue.dev/partners/a%20b%2Fc" {
		t.Errorf("source %q", got)
	}

	// What is not an event of the catalogue, or not a valid CloudEvent, is
	// not rendered.
	for _, bad := range []domainevents.Event{
		{ID: "evt_1", Type: "points.spent", PartnerID: "acme", MemberID: "m", Time: t0},
		{Type: "tier.changed", PartnerID: "acme", MemberID: "m", Time: t0, Qualifying: &q}, // no id
	} {
		if b, err := domainevents.CloudEvent(bad); err == nil {
			t.Errorf("CloudEvent(%+v) = %s, want an error", bad, b)
		}
	}
}
