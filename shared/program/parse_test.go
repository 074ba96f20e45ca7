package program

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func readFull(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/full.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFull(t *testing.T) {
	p, err := Parse(readFull(t))
	if err != nil {
		t.Fatalf("Parse(full.json): %v", err)
	}
	if p.Name != "Telco Rewards" || len(p.Earning) != 2 || len(p.Earning[0].Bands) != 2 ||
		p.Campaigns[0].Multiplier.String() != "1.5" || p.Campaigns[1].Bonus != 250 ||
		p.Tiers[2].Multiplier.String() != "1.5" || p.Fraud.LargePaymentMinor["USD"] != 100000 ||
		p.PointValue.Minor.String() != "0.5" || p.Expiry.FixedDate != "12-31" ||
		p.Transfers != (Transfers{Enabled: true, MinPoints: 10, MaxPoints: 5000, MemberDaily: 10000}) {
		t.Errorf("unexpected content: %+v", p)
	}

	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(Marshal(p)): %v\n%s", err, b)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("round trip changed the program:\n%+v\n%+v", p, q)
	}
	if b2, _ := json.Marshal(q); !bytes.Equal(b, b2) {
		t.Errorf("re-marshal differs:\n%s\n%s", b, b2)
	}
}

const minimal = `{"name":"x","earning":[{"id":"a","rate":{"points":1,"per_minor":100}}],"point_value":{"minor":1,"currency":"RUB"}}`

func TestParseMinimal(t *testing.T) {
	if _, err := Parse([]byte(minimal)); err != nil {
		t.Fatal(err)
	}
}

// fields returns the Field of every FieldError in err, failing if err is not a *ValidationError.
func fields(t *testing.T, err error) []string {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	var fs []string
	for _, fe := range ve.Errors {
		fs = append(fs, fe.Field)
	}
	return fs
}

func TestParseInvalid(t *testing.T) {
	full := string(readFull(t))
	tests := []struct {
		old, new string // replaced once in full.json; old == "" uses new as the document
		field    string // the only field reported
		msg      string // optional substring of its message
	}{
		// top level
		{`"name": "Telco Rewards"`, `"name": " "`, "name", "required"},
		{`"name": "Telco Rewards"`, `"name": "` + strings.Repeat("я", 101) + `"`, "name", "100"},
		{`"timezone": "Europe/Moscow"`, `"timezone": "Mars/Olympus"`, "timezone", ""},
		{`"timezone": "Europe/Moscow"`, `"timezone": "Local"`, "timezone", ""},
		{`"timezone": "Europe/Moscow"`, `"timezone": "../etc/passwd"`, "timezone", ""},
		{`"rounding": "round_half_up"`, `"rounding": "bankers"`, "rounding", ""},
		{"", `{"name":"x","earning":[],"point_value":{"minor":1,"currency":"RUB"}}`, "earning", "at least one"},
		{"", `{"name":"x","point_value":{"minor":1,"currency":"RUB"}}`, "earning", "at least one"},
		// earning
		{`"id": "default"`, `"id": "telecom-rub"`, "earning[1].id", "duplicate"},
		{`"id": "telecom-rub"`, `"id": "Telecom"`, "earning[0].id", ""},
		{`"id": "default"`, `"id": ""`, "earning[1].id", "required"},
		{`"id": "default"`, `"id": "` + strings.Repeat("a", 64) + `"`, "earning[1].id", ""},
		{`["telecom", "subscription"]`, `["telecom", "grocery"]`, "earning[0].categories[1]", "grocery"},
		{`"currencies": ["RUB"]`, `"currencies": ["rub"]`, "earning[0].currencies[0]", ""},
		{`"currencies": ["RUB"]`, `"currencies": ["ABC"]`, "earning[0].currencies[0]", ""},
		{`"currencies": ["RUB"]`, `"currencies": ["XXX"]`, "earning[0].currencies[0]", ""},
		{`"currencies": ["RUB"]`, `"currencies": ["RUBL"]`, "earning[0].currencies[0]", ""},
		{`"points": 2, "per_minor": 10000`, `"points": 2, "per_minor": 0`, "earning[0].bands[1].rate.per_minor", ""},
		{`"min_minor": 1000000`, `"min_minor": 500000`, "earning[0].bands[1].min_minor", "previous"},
		{`"min_minor": 500000`, `"min_minor": 0`, "earning[0].bands[0].min_minor", ""},
		{`"points": 1, "per_minor": 20000`, `"points": -1, "per_minor": 20000`, "earning[1].rate.points", ""},
		{`"points": 1, "per_minor": 20000`, `"points": 1000001, "per_minor": 20000`, "earning[1].rate.points", ""},
		{`"points": 1, "per_minor": 20000`, `"points": 1, "per_minor": 1000000000001`, "earning[1].rate.per_minor", ""},
		{`"min_amount_minor": 5000`, `"min_amount_minor": -5000`, "earning[0].min_amount_minor", "negative"},
		// streaks, frequency, activities
		{`"periods": 3`, `"periods": 0`, "streaks[0].periods", ""},
		{`"periods": 3`, `"periods": 121`, "streaks[0].periods", ""},
		{`"bonus": 150`, `"bonus": 0`, "streaks[0].bonus", ""},
		{`"categories": ["telecom"]}`, `"categories": ["Telecom"]}`, "streaks[0].categories[0]", ""},
		{`"id": "three-on-time"`, `"id": "three on time"`, "streaks[0].id", ""},
		{`"payments": 5`, `"payments": 1`, "frequency[0].payments", ""},
		{`"days": 30`, `"days": 3661`, "frequency[0].days", ""},
		{`"bonus": 100`, `"bonus": 10000001`, "frequency[0].bonus", ""},
		{`"name": "referral"`, `"name": "registration"`, "activities[2].name", "duplicate"},
		{`"points": 500`, `"points": 0`, "activities[2].points", ""},
		// campaigns
		{`"ends_at": "2027-04-01T00:00:00Z"`, `"ends_at": "2027-03-01T00:00:00Z"`, "campaigns[1].ends_at", "after"},
		{`"starts_at": "2027-03-01T00:00:00Z",`, ``, "campaigns[1].starts_at", "required"},
		{`"ends_at": "2027-04-01T00:00:00Z",`, ``, "campaigns[1].ends_at", "required"},
		{`"bonus": 250,`, `"bonus": 250, "multiplier": 2,`, "campaigns[1]", "exactly one"},
		{`"bonus": 250,`, ``, "campaigns[1]", "exactly one"},
		{`"bonus": 250,`, `"bonus": -250,`, "campaigns[1].bonus", ""},
		{`"multiplier": "1.5"`, `"multiplier": "101"`, "campaigns[0].multiplier", ""},
		{`"multiplier": "1.5"`, `"multiplier": 0`, "campaigns[0].multiplier", ""},
		{`["silver", "gold"]`, `["silver", "platinum"]`, "campaigns[0].tiers[1]", "platinum"},
		{`["vip", "early-adopter"]`, `["vip", ""]`, "campaigns[0].tags[1]", ""},
		{`["vip", "early-adopter"]`, `["vip", "` + strings.Repeat("x", 65) + `"]`, "campaigns[0].tags[1]", ""},
		{`"budget": 1000000`, `"budget": -1`, "campaigns[0].budget", ""},
		{`"per_member_max_points": 5000`, `"per_member_max_points": -1`, "campaigns[0].per_member_max_points", ""},
		{`"per_member_max_times": 10`, `"per_member_max_times": -10`, "campaigns[0].per_member_max_times", ""},
		{`"id": "spring-bonus"`, `"id": "new-year-x2"`, "campaigns[1].id", "duplicate"},
		// tiers
		{`{"name": "base", "threshold": 0,`, `{"name": "base", "threshold": 10,`, "tiers[0].threshold", "0"},
		{`"threshold": 20000`, `"threshold": 5000`, "tiers[2].threshold", "previous"},
		{`"threshold": 0, "multiplier": 1}`, `"threshold": 0}`, "tiers[0].multiplier", "required"},
		{`"threshold": 20000, "multiplier": 1.5`, `"threshold": 20000, "multiplier": 0`, "tiers[2].multiplier", ""},
		{`"threshold": 20000, "multiplier": 1.5`, `"threshold": 20000, "multiplier": 100.5`, "tiers[2].multiplier", ""},
		{`{"name": "base"`, `{"name": "silver"`, "tiers[1].name", "duplicate"},
		{`"qualifying_window_days": 365,`, ``, "qualifying_window_days", "required"},
		{`"qualifying_window_days": 365`, `"qualifying_window_days": 3661`, "qualifying_window_days", ""},
		{`"pending_days": 14`, `"pending_days": 366`, "pending_days", ""},
		// expiry
		{`"rolling_days": 730`, `"rolling_days": 3661`, "expiry.rolling_days", ""},
		{`"fixed_date": "12-31"`, `"fixed_date": "02-29"`, "expiry.fixed_date", "every year"},
		{`"fixed_date": "12-31"`, `"fixed_date": "04-31"`, "expiry.fixed_date", "MM-DD"},
		{`"fixed_date": "12-31"`, `"fixed_date": "13-01"`, "expiry.fixed_date", ""},
		{`"fixed_date": "12-31"`, `"fixed_date": "00-10"`, "expiry.fixed_date", ""},
		{`"fixed_date": "12-31"`, `"fixed_date": "1231"`, "expiry.fixed_date", ""},
		{`"fixed_date": "12-31"`, `"fixed_date": "+1-31"`, "expiry.fixed_date", ""},
		{`"fixed_date": "12-31"`, `"fixed_date": "1-031"`, "expiry.fixed_date", ""},
		{`"fixed_date": "12-31"`, `"fixed_date": "12-31 "`, "expiry.fixed_date", ""},
		{`"fixed_date": "12-31",`, ``, "expiry.fixed_min_days", "fixed_date"},
		{`"fixed_min_days": 365`, `"fixed_min_days": 3661`, "expiry.fixed_min_days", ""},
		{`"inactivity_days": 540`, `"inactivity_days": -1`, "expiry.inactivity_days", ""},
		{`"warn_days": 30`, `"warn_days": 366`, "expiry.warn_days", ""},
		{`"rolling_days": 730`, `"rolling_days": 30`, "expiry.warn_days", "rolling_days"},
		{`"inactivity_days": 540`, `"inactivity_days": 20`, "expiry.warn_days", "inactivity_days"},
		{"", `{"name":"x","earning":[{"id":"a","rate":{"points":1,"per_minor":1}}],"expiry":{"warn_days":3},"point_value":{"minor":1,"currency":"RUB"}}`, "expiry.warn_days", "requires"},
		// caps, fraud, point value
		{`"member_monthly": 100000`, `"member_monthly": -1`, "caps.member_monthly", ""},
		{`"max_events_per_hour": 20`, `"max_events_per_hour": -20`, "fraud.max_events_per_hour", ""},
		{`"max_points_per_day": 20000`, `"max_points_per_day": -1`, "fraud.max_points_per_day", ""},
		{`"USD": 100000`, `"XYZ": 100000`, "fraud.large_payment_minor.XYZ", ""},
		{`"USD": 100000`, `"USD": 0`, "fraud.large_payment_minor.USD", ""},
		{`"minor": "0.5", "currency": "RUB"`, `"minor": "0.5", "currency": "EURO"`, "point_value.currency", ""},
		{`"minor": "0.5", "currency": "RUB"`, `"minor": "0", "currency": "RUB"`, "point_value.minor", ""},
		{`"minor": "0.5", "currency": "RUB"`, `"currency": "RUB"`, "point_value.minor", "required"},
		// strict decoding
		{`"rate": {"points": 1, "per_minor": 10000}`, `"ratee": {"points": 1, "per_minor": 10000}`, "earning[0].ratee", "unknown field"},
		{`"pending_days": 14`, `"pending_days": 14, "surprise": {"a": [1, {"b": 2}]}`, "surprise", "unknown field"},
		{`"name": "Telco Rewards"`, `"Name": "Telco Rewards"`, "Name", "unknown field"},
		{`"USD": 100000`, `"USD": 100000, "RUB": 1`, "fraud.large_payment_minor.RUB", "duplicate"},
		{`"pending_days": 14`, `"pending_days": 14, "pending_days": 15`, "pending_days", "duplicate"},
		{`"pending_days": 14`, `"pending_days": "14"`, "pending_days", "integer"},
		{`"pending_days": 14`, `"pending_days": 14.0`, "pending_days", "integer"},
		{`"budget": 1000000`, `"budget": 100000000000000000000`, "campaigns[0].budget", "range"},
		{`"auto_enroll": true`, `"auto_enroll": "yes"`, "auto_enroll", ""},
		{`"name": "Telco Rewards"`, `"name": ["Telco", {"x": 1}]`, "name", "string"},
		{`"categories": ["telecom"]}`, `"categories": {"telecom": [1, {"a": []}]}}`, "streaks[0].categories", "array"},
		{`"points": 1, "per_minor": 20000}`, `"points": 1, "per_minor": [20000, {"a": 1}]}`, "earning[1].rate.per_minor", "integer"},
		{`"rate": {"points": 1, "per_minor": 20000}`, `"rate": [1, 20000]`, "earning[1].rate", "object"},
		{`"multiplier": "1.5"`, `"multiplier": "1.5x"`, "campaigns[0].multiplier", "decimal"},
		{`"multiplier": "1.5"`, `"multiplier": 1e2`, "campaigns[0].multiplier", "decimal"},
		{`"multiplier": "1.5"`, `"multiplier": null`, "campaigns[0].multiplier", "decimal"},
		{`"starts_at": "2027-03-01T00:00:00Z"`, `"starts_at": "2027-03-01"`, "campaigns[1].starts_at", "RFC 3339"},
		{`"RUB": 10000000`, `"RUB": "10000000"`, "fraud.large_payment_minor.RUB", "integer"},
		{"", `[]`, "", "object"},
		{"", `null`, "", "object"},
		{"", `"program"`, "", "object"},
	}
	for _, tt := range tests {
		doc := tt.new
		if tt.old != "" {
			if n := strings.Count(full, tt.old); n != 1 {
				t.Fatalf("%q occurs %d times in full.json", tt.old, n)
			}
			doc = strings.Replace(full, tt.old, tt.new, 1)
		}
		t.Run(tt.field+"/"+tt.new, func(t *testing.T) {
			p, err := Parse([]byte(doc))
			if err == nil {
				t.Fatalf("Parse accepted the document: %+v", p)
			}
			if got := fields(t, err); !slices.Equal(got, []string{tt.field}) {
				t.Fatalf("fields %q, want [%q]; error: %v", got, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

func TestParseRejectsTrailingData(t *testing.T) {
	for _, tail := range []string{" {}", "x", "]", `"`, " null", "\n{\"name\":\"y\"}"} {
		_, err := Parse([]byte(minimal + tail))
		if err == nil {
			t.Errorf("trailing %q accepted", tail)
			continue
		}
		if got := fields(t, err); !slices.Equal(got, []string{""}) || !strings.Contains(err.Error(), "after the program") {
			t.Errorf("trailing %q: fields %q, error %v", tail, got, err)
		}
	}
	if _, err := Parse([]byte(" \n\t" + minimal + " \r\n")); err != nil {
		t.Errorf("surrounding whitespace refused: %v", err)
	}
}

func TestParseUnknownFieldsAllNamed(t *testing.T) {
	doc := strings.Replace(minimal, `"rate":`, `"ratee":1,"rate":`, 1)
	doc = strings.Replace(doc, `"currency":"RUB"`, `"currency":"RUB","cur":"x"`, 1)
	got := fields(t, mustFail(t, doc))
	if want := []string{"earning[0].ratee", "point_value.cur"}; !slices.Equal(got, want) {
		t.Errorf("fields %q, want %q", got, want)
	}
	if err := mustFail(t, doc); !strings.Contains(err.Error(), "earning[0].ratee: unknown field") {
		t.Errorf("error %q", err)
	}
}

func mustFail(t *testing.T, doc string) error {
	t.Helper()
	_, err := Parse([]byte(doc))
	if err == nil {
		t.Fatalf("accepted %s", doc)
	}
	return err
}

func TestParseMalformed(t *testing.T) {
	for _, doc := range []string{"", " ", "{", `{"name":`, `{"name":"x",}`, `{"earning":[{]}`, "nul", "\x00"} {
		_, err := Parse([]byte(doc))
		var ve *ValidationError
		if err == nil || errors.As(err, &ve) {
			t.Errorf("Parse(%q) = %v, want a JSON syntax error", doc, err)
		}
	}
}

func TestParseTooLarge(t *testing.T) {
	doc := minimal[:len(minimal)-1] + `,"x":"` + strings.Repeat("a", MaxDocumentSize) + `"}`
	if _, err := Parse([]byte(doc)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}

func TestValidationErrorMessage(t *testing.T) {
	err := (&Program{}).Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v", err)
	}
	want := []string{"name", "earning", "point_value.currency", "point_value.minor"}
	if got := fields(t, err); !slices.Equal(got, want) {
		t.Errorf("fields %q, want %q", got, want)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "invalid program: name: is required; earning: ") {
		t.Errorf("message %q", msg)
	}
}
