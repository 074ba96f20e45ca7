package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/strictjson"
)

// wireMember is one member as a JSON line has it (and as a CSV line is read
// into): the import format's fields, before they are checked.
type wireMember struct {
	MemberID     string        `json:"member_id"`
	Tags         []string      `json:"tags"`
	Status       string        `json:"status"`
	Tier         string        `json:"tier"`
	Available    []wireLot     `json:"-"`
	Pending      []wireLot     `json:"-"`
	Lifetime     *int64        `json:"lifetime"`
	Qualifying   *int64        `json:"qualifying"`
	LastActivity string        `json:"last_activity"`
	Payments     []wirePayment `json:"-"`

	// The arrays of objects of a JSON line, each element decoded on its own
	// so that a bad field is named with its index ("payments[2].currency").
	RawAvailable []json.RawMessage `json:"available"`
	RawPending   []json.RawMessage `json:"pending"`
	RawPayments  []json.RawMessage `json:"payments"`
}

type wireLot struct {
	Points      *int64 `json:"points"`
	ExpiresAt   string `json:"expires_at"`
	AvailableAt string `json:"available_at"`
}

type wirePayment struct {
	PaymentID   string             `json:"payment_id"`
	PaidAt      string             `json:"paid_at"`
	AmountMinor *int64             `json:"amount_minor"`
	Currency    string             `json:"currency"`
	Category    string             `json:"category"`
	Recurring   *payment.Recurring `json:"recurring"`
	Points      *int64             `json:"points"`
}

// parseJSON reads one JSON line: exactly one object, no unknown field,
// integers where integers go.
func parseJSON(raw []byte) (ledger.Opening, error) {
	w := &wireMember{}
	err := decodeStrict(raw, w)
	if err == nil {
		err = decodeEach("available", w.RawAvailable, &w.Available)
	}
	if err == nil {
		err = decodeEach("pending", w.RawPending, &w.Pending)
	}
	if err == nil {
		err = decodeEach("payments", w.RawPayments, &w.Payments)
	}
	if err != nil {
		var id struct {
			MemberID string `json:"member_id"`
		}
		_ = json.Unmarshal(raw, &id) // for the report, when it can be read
		return ledger.Opening{MemberID: id.MemberID}, err
	}
	return w.opening()
}

// decodeEach decodes every element of the array name strictly into out,
// naming a bad field with its index.
func decodeEach[T any](name string, raws []json.RawMessage, out *[]T) error {
	if len(raws) > max(MaxLots, MaxPayments) {
		return bad(name, "%d elements: too many", len(raws))
	}
	*out = make([]T, len(raws))
	for i, r := range raws {
		if err := decodeStrict(r, &(*out)[i]); err != nil {
			f := fmt.Sprintf("%s[%d]", name, i)
			var fe *fieldError
			if errors.As(err, &fe) {
				return bad(f+"."+fe.field, "%s", fe.reason)
			}
			return bad(f, "must be an object: %v", err)
		}
	}
	if len(raws) == 0 {
		*out = nil
	}
	return nil
}

// decodeStrict decodes one JSON object into v (strictjson.Decode), naming
// the field of an unknown field or a value of the wrong type.
func decodeStrict(raw []byte, v any) error {
	err := strictjson.Decode(raw, v)
	var fe *strictjson.FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe) && fe.Field == "":
		return errors.New("not a JSON object")
	case errors.As(err, &fe):
		return bad(fe.Field, "%s", fe.Message)
	}
	return fmt.Errorf("not valid JSON: %s", strings.TrimPrefix(err.Error(), strictjson.ErrMalformed.Error()+": "))
}

// opening checks every field and returns the member.
func (w *wireMember) opening() (ledger.Opening, error) {
	o := ledger.Opening{MemberID: w.MemberID}
	if !payment.ValidExternalID(w.MemberID) {
		return o, bad("member_id", "required: 1 to 128 printable characters without spaces")
	}
	if len(w.Tags) > MaxTags {
		return o, bad("tags", "%d tags: at most %d", len(w.Tags), MaxTags)
	}
	for i, t := range w.Tags {
		if t == "" || len(t) > MaxTagBytes || !printable(t) {
			return o, bad(fmt.Sprintf("tags[%d]", i), "1 to %d printable characters", MaxTagBytes)
		}
	}
	o.Tags = slices.Clone(w.Tags)
	switch w.Status {
	case "", string(ledger.StatusActive):
		o.Status = ledger.StatusActive
	case string(ledger.StatusSuspended):
		o.Status = ledger.StatusSuspended
	default:
		return o, bad("status", "%q: active or suspended", w.Status)
	}
	if w.Tier != "" && (len(w.Tier) > MaxTierBytes || !printable(w.Tier)) {
		return o, bad("tier", "1 to %d printable characters", MaxTierBytes)
	}
	o.Tier = w.Tier
	if n := len(w.Available) + len(w.Pending); n > MaxLots {
		return o, bad("available", "%d lots (available and pending): at most %d", n, MaxLots)
	}
	var err error
	if o.Available, err = lots("available", w.Available, false); err != nil {
		return o, err
	}
	if o.Pending, err = lots("pending", w.Pending, true); err != nil {
		return o, err
	}
	if w.Lifetime != nil {
		if err := points("lifetime", *w.Lifetime, 0); err != nil {
			return o, err
		}
		o.Lifetime = w.Lifetime
	}
	if w.Qualifying != nil {
		if err := points("qualifying", *w.Qualifying, 0); err != nil {
			return o, err
		}
		o.Qualifying = *w.Qualifying
	}
	if w.LastActivity != "" {
		t, err := timestamp("last_activity", w.LastActivity)
		if err != nil {
			return o, err
		}
		o.LastActivity = &t
	}
	if o.Payments, err = payments(w.Payments); err != nil {
		return o, err
	}
	return o, nil
}

func lots(name string, ws []wireLot, pending bool) ([]ledger.OpeningLot, error) {
	var out []ledger.OpeningLot
	for i, w := range ws {
		f := fmt.Sprintf("%s[%d]", name, i)
		if w.Points == nil {
			return nil, bad(f+".points", "required")
		}
		if err := points(f+".points", *w.Points, 1); err != nil {
			return nil, err
		}
		l := ledger.OpeningLot{Points: *w.Points}
		if w.ExpiresAt != "" {
			t, err := timestamp(f+".expires_at", w.ExpiresAt)
			if err != nil {
				return nil, err
			}
			l.ExpiresAt = &t
		}
		switch {
		case pending && w.AvailableAt == "":
			return nil, bad(f+".available_at", "required: when the pending points become available")
		case pending:
			t, err := timestamp(f+".available_at", w.AvailableAt)
			if err != nil {
				return nil, err
			}
			l.AvailableAt = &t
		case w.AvailableAt != "":
			return nil, bad(f+".available_at", "only for pending points")
		}
		out = append(out, l)
	}
	return out, nil
}

func payments(ws []wirePayment) ([]ledger.HistoryPayment, error) {
	if len(ws) > MaxPayments {
		return nil, bad("payments", "%d payments: at most %d", len(ws), MaxPayments)
	}
	var out []ledger.HistoryPayment
	seen := map[string]int{}
	for i, w := range ws {
		f := fmt.Sprintf("payments[%d]", i)
		if !payment.ValidExternalID(w.PaymentID) {
			return nil, bad(f+".payment_id", "required: 1 to 128 printable characters without spaces")
		}
		if j, dup := seen[w.PaymentID]; dup {
			return nil, bad(f+".payment_id", "%q is payments[%d] already", w.PaymentID, j)
		}
		seen[w.PaymentID] = i
		if w.PaidAt == "" {
			return nil, bad(f+".paid_at", "required")
		}
		paid, err := timestamp(f+".paid_at", w.PaidAt)
		if err != nil {
			return nil, err
		}
		if w.AmountMinor == nil {
			return nil, bad(f+".amount_minor", "required")
		}
		if a := *w.AmountMinor; a <= 0 || a > payment.MaxAmountMinor {
			return nil, bad(f+".amount_minor", "%d: between 1 and %d", a, int64(payment.MaxAmountMinor))
		}
		if err := payment.ValidCurrency(w.Currency); err != nil {
			return nil, bad(f+".currency", "%v", err)
		}
		if !slices.Contains(payment.Categories, w.Category) {
			return nil, bad(f+".category", "%q: one of %s", w.Category, strings.Join(payment.Categories, ", "))
		}
		if r := w.Recurring; r != nil {
			switch {
			case !payment.ValidExternalID(r.SubscriptionID):
				return nil, bad(f+".recurring.subscription_id", "required: 1 to 128 printable characters without spaces")
			case !payment.ValidPeriod(r.Period):
				return nil, bad(f+".recurring.period", "%q: YYYY-MM, YYYY-Qn, YYYY-Www or YYYY", r.Period)
			}
			if _, err := time.Parse(time.DateOnly, r.DueDate); err != nil {
				return nil, bad(f+".recurring.due_date", "%q: a YYYY-MM-DD date", r.DueDate)
			}
		}
		h := ledger.HistoryPayment{Payment: payment.Payment{
			Type: payment.TypeSucceeded, PaymentID: w.PaymentID, Time: paid, AmountMinor: *w.AmountMinor,
			Currency: w.Currency, Category: w.Category, Recurring: w.Recurring,
		}}
		if w.Points != nil {
			if err := points(f+".points", *w.Points, 0); err != nil {
				return nil, err
			}
			h.Points = *w.Points
		}
		out = append(out, h)
	}
	return out, nil
}

func points(field string, n, least int64) error {
	if n < least || n > MaxPoints {
		return bad(field, "%d: an integer from %d to %d", n, least, int64(MaxPoints))
	}
	return nil
}

// timestamp reads an RFC 3339 time with its offset ("2027-03-31T23:59:59Z",
// "2027-04-01T00:00:00+03:00").
func timestamp(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, bad(field, "%q: an RFC 3339 time such as 2027-03-31T23:59:59Z", s)
	}
	return t.UTC(), nil
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == unicode.ReplacementChar {
			return false
		}
	}
	return true
}
