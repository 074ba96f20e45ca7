package payment

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const valid = `{
  "specversion": "1.0", "id": "evt-8f2c", "source": "billing/telco-ru", "type": "payment.succeeded",
  "time": "2026-11-05T10:00:00Z", "datacontenttype": "application/json",
  "data": {"partner_id": "telco", "member_id": "cust-42", "payment_id": "pay-9001", "amount_minor": 129900,
           "currency": "RUB", "category": "telecom",
           "recurring": {"subscription_id": "plan-7", "period": "2026-11", "due_date": "2026-11-10"},
           "refund_of": null, "future_field": {"ignored": true}}
}`

func TestParseValid(t *testing.T) {
	p, err := Parse([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	want := Payment{
		EventID: "evt-8f2c", Source: "billing/telco-ru", Type: TypeSucceeded,
		Time: time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC), PartnerID: "telco", MemberID: "cust-42",
		PaymentID: "pay-9001", AmountMinor: 129900, Currency: "RUB", Category: "telecom",
		Recurring: &Recurring{SubscriptionID: "plan-7", Period: "2026-11", DueDate: "2026-11-10"},
	}
	if p.Recurring == nil || *p.Recurring != *want.Recurring {
		t.Fatalf("recurring = %+v", p.Recurring)
	}
	p.Recurring, want.Recurring = nil, nil
	if p != want {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
}

// edit returns the valid event with one change made to its decoded form.
func edit(t *testing.T, f func(ev map[string]any, data map[string]any)) string {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal([]byte(valid), &ev); err != nil {
		t.Fatal(err)
	}
	f(ev, ev["data"].(map[string]any))
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseInvalid(t *testing.T) {
	cases := []struct {
		name, body    string
		reason, field string
	}{
		{"not json", `{"specversion":`, ReasonMalformed, ""},
		{"json array", `[]`, ReasonMalformed, ""},
		{"empty", ``, ReasonMalformed, ""},
		{"too large", `{"x":"` + strings.Repeat("a", MaxMessageBytes) + `"}`, ReasonTooLarge, ""},
		{"no id", edit(t, func(ev, d map[string]any) { delete(ev, "id") }), ReasonEnvelope, ""},
		{"old spec version", edit(t, func(ev, d map[string]any) { ev["specversion"] = "0.3" }), ReasonEnvelope, "specversion"},
		{"no time", edit(t, func(ev, d map[string]any) { delete(ev, "time") }), ReasonEnvelope, "time"},
		{"xml data", edit(t, func(ev, d map[string]any) { ev["datacontenttype"] = "application/xml" }), ReasonEnvelope, ""},
		{"other type", edit(t, func(ev, d map[string]any) { ev["type"] = "payment.failed" }), ReasonUnsupportedType, "type"},
		{"no data", edit(t, func(ev, d map[string]any) { delete(ev, "data") }), ReasonData, "data"},
		{"data not an object", edit(t, func(ev, d map[string]any) { ev["data"] = "x" }), ReasonData, "data"},
		{"bad partner", edit(t, func(ev, d map[string]any) { d["partner_id"] = "Telco!" }), ReasonData, "data.partner_id"},
		{"no member", edit(t, func(ev, d map[string]any) { delete(d, "member_id") }), ReasonData, "data.member_id"},
		{"member with space", edit(t, func(ev, d map[string]any) { d["member_id"] = "a b" }), ReasonData, "data.member_id"},
		{"no payment id", edit(t, func(ev, d map[string]any) { d["payment_id"] = "" }), ReasonData, "data.payment_id"},
		{"negative amount", edit(t, func(ev, d map[string]any) { d["amount_minor"] = -5 }), ReasonAmount, "data.amount_minor"},
		{"zero amount", edit(t, func(ev, d map[string]any) { d["amount_minor"] = 0 }), ReasonAmount, "data.amount_minor"},
		{"fractional amount", edit(t, func(ev, d map[string]any) { d["amount_minor"] = 10.5 }), ReasonAmount, "data.amount_minor"},
		{"amount as a word", edit(t, func(ev, d map[string]any) { d["amount_minor"] = "ten" }), ReasonData, "data"},
		{"huge amount", edit(t, func(ev, d map[string]any) { d["amount_minor"] = json.Number("99999999999999999999") }), ReasonAmount, "data.amount_minor"},
		{"no amount", edit(t, func(ev, d map[string]any) { delete(d, "amount_minor") }), ReasonAmount, "data.amount_minor"},
		{"unknown currency", edit(t, func(ev, d map[string]any) { d["currency"] = "XYZ" }), ReasonCurrency, "data.currency"},
		{"lower-case currency", edit(t, func(ev, d map[string]any) { d["currency"] = "rub" }), ReasonCurrency, "data.currency"},
		{"gold", edit(t, func(ev, d map[string]any) { d["currency"] = "XAU" }), ReasonCurrency, "data.currency"},
		{"test currency", edit(t, func(ev, d map[string]any) { d["currency"] = "XTS" }), ReasonCurrency, "data.currency"},
		{"no currency", edit(t, func(ev, d map[string]any) { d["currency"] = "XXX" }), ReasonCurrency, "data.currency"},
		{"special drawing rights", edit(t, func(ev, d map[string]any) { d["currency"] = "XDR" }), ReasonCurrency, "data.currency"},
		{"withdrawn currency", edit(t, func(ev, d map[string]any) { d["currency"] = "DEM" }), ReasonCurrency, "data.currency"},
		{"withdrawn since x/text's data", edit(t, func(ev, d map[string]any) { d["currency"] = "HRK" }), ReasonCurrency, "data.currency"},
		{"unknown category", edit(t, func(ev, d map[string]any) { d["category"] = "casino" }), ReasonData, "data.category"},
		{"refund without refund_of", edit(t, func(ev, d map[string]any) { ev["type"] = TypeRefunded }), ReasonData, "data.refund_of"},
		{"refund of itself", edit(t, func(ev, d map[string]any) { ev["type"] = TypeRefunded; d["refund_of"] = "pay-9001" }), ReasonData, "data.refund_of"},
		{"refund_of on a payment", edit(t, func(ev, d map[string]any) { d["refund_of"] = "pay-1" }), ReasonData, "data.refund_of"},
		{"bad period", edit(t, func(ev, d map[string]any) { d["recurring"].(map[string]any)["period"] = "2026-13" }), ReasonData, "data.recurring.period"},
		{"bad due date", edit(t, func(ev, d map[string]any) { d["recurring"].(map[string]any)["due_date"] = "10.11.2026" }), ReasonData, "data.recurring.due_date"},
		{"no subscription", edit(t, func(ev, d map[string]any) { delete(d["recurring"].(map[string]any), "subscription_id") }), ReasonData, "data.recurring.subscription_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.body))
			ie, ok := AsInvalid(err)
			if !ok {
				t.Fatalf("err = %v, want an *InvalidError", err)
			}
			if ie.Reason != tc.reason || ie.Field != tc.field {
				t.Fatalf("reason %q field %q (%s); want %q %q", ie.Reason, ie.Field, ie.Detail, tc.reason, tc.field)
			}
		})
	}
}

// Amounts as JSON strings of an integer are accepted: billing systems written
// in JavaScript send int64 values that way to keep them exact.
func TestParseAmountAsString(t *testing.T) {
	p, err := Parse([]byte(edit(t, func(ev, d map[string]any) { d["amount_minor"] = "129900" })))
	if err != nil || p.AmountMinor != 129900 {
		t.Fatalf("amount %d, err %v", p.AmountMinor, err)
	}
}

func TestPeriods(t *testing.T) {
	for _, p := range []string{"2026", "2026-01", "2026-12", "2026-Q1", "2026-Q4", "2026-W01", "2026-W53"} {
		if !periodRE.MatchString(p) {
			t.Errorf("%s refused", p)
		}
	}
	for _, p := range []string{"26-01", "2026-00", "2026-13", "2026-Q5", "2026-W54", "2026-W00", "2026-1"} {
		if periodRE.MatchString(p) {
			t.Errorf("%s accepted", p)
		}
	}
}

// FuzzParse: outside input never panics the parser, and whatever it accepts
// satisfies what the rest of the system relies on.
func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	files, _ := filepath.Glob(filepath.Join("..", "..", "events", "sqs-*.json"))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var ev struct{ Records []struct{ Body string } }
		if err := json.Unmarshal(raw, &ev); err != nil {
			f.Fatal(err)
		}
		for _, r := range ev.Records {
			f.Add([]byte(r.Body))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := Parse(body)
		if err != nil {
			if _, ok := AsInvalid(err); !ok {
				t.Fatalf("error of another type: %T %v", err, err)
			}
			return
		}
		if p.AmountMinor <= 0 || p.AmountMinor > MaxAmountMinor || ValidCurrency(p.Currency) != nil ||
			!ValidPartnerID(p.PartnerID) || !ValidExternalID(p.MemberID) || !ValidExternalID(p.PaymentID) ||
			p.Time.IsZero() || (p.Type == TypeRefunded) != (p.RefundOf != "") {
			t.Fatalf("accepted an invalid payment: %+v", p)
		}
	})
}
