package payment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/accrue/accrue/shared/money"
)

// Reasons a payment event is invalid. They are stable slugs: they name the
// rejection in the rejected-events records, the API and the metrics.
const (
	ReasonMalformed       = "malformed_json"     // not a JSON object
	ReasonEnvelope        = "invalid_cloudevent" // CloudEvents attributes missing or wrong
	ReasonUnsupportedType = "unsupported_type"   // type is not payment.succeeded / payment.refunded
	ReasonData            = "invalid_data"       // a data field is missing or wrong
	ReasonCurrency        = "unknown_currency"   // not a currency in circulation (money.Payable)
	ReasonAmount          = "invalid_amount"     // amount_minor not a positive integer
	ReasonTooLarge        = "message_too_large"  // over MaxMessageBytes
)

// MaxMessageBytes is the largest event accepted (SQS's own limit).
const MaxMessageBytes = 256 * 1024

// InvalidError says why an event can never be processed. It is permanent: the
// event is recorded as rejected, never retried.
type InvalidError struct {
	Reason string // one of the Reason constants
	Field  string // JSON path of the offending field, when there is one
	Detail string
}

func (e *InvalidError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Reason, e.Field, e.Detail)
	}
	return fmt.Sprintf("%s: %s", e.Reason, e.Detail)
}

func invalid(reason, field, format string, args ...any) error {
	return &InvalidError{Reason: reason, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// AsInvalid returns the InvalidError in err's chain, if any.
func AsInvalid(err error) (*InvalidError, bool) {
	var ie *InvalidError
	ok := errors.As(err, &ie)
	return ie, ok
}

var (
	partnerIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	periodRE    = regexp.MustCompile(`^[0-9]{4}(-(0[1-9]|1[0-2])|-Q[1-4]|-W(0[1-9]|[1-4][0-9]|5[0-3]))?$`)
)

// ValidPartnerID reports whether s can be a partner id: lower-case letters,
// digits and dashes, 2 to 63 characters.
func ValidPartnerID(s string) bool { return partnerIDRE.MatchString(s) }

// ValidPeriod reports whether s is a subscription period: YYYY-MM
// (monthly), YYYY-Qn (quarterly), YYYY-Www (ISO week) or YYYY (yearly).
func ValidPeriod(s string) bool { return periodRE.MatchString(s) }

// ValidExternalID reports whether s can be a member or payment id: 1 to 128
// bytes of printable, non-space characters.
func ValidExternalID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == unicode.ReplacementChar {
			return false
		}
	}
	return true
}

type wireData struct {
	PartnerID   string      `json:"partner_id"`
	MemberID    string      `json:"member_id"`
	PaymentID   string      `json:"payment_id"`
	AmountMinor json.Number `json:"amount_minor"`
	Currency    string      `json:"currency"`
	Category    string      `json:"category"`
	Recurring   *Recurring  `json:"recurring"`
	RefundOf    *string     `json:"refund_of"`
}

// Parse reads a CloudEvents 1.0 structured-mode JSON payment event and validates
// it. Every error it returns is an *InvalidError. Unknown fields inside data are
// ignored, so billing systems can add fields without breaking ingestion.
func Parse(body []byte) (Payment, error) {
	if len(body) > MaxMessageBytes {
		return Payment{}, invalid(ReasonTooLarge, "", "%d bytes, at most %d", len(body), MaxMessageBytes)
	}
	trimmed := bytes.TrimSpace(body)
	if !json.Valid(trimmed) || len(trimmed) == 0 || trimmed[0] != '{' {
		return Payment{}, invalid(ReasonMalformed, "", "the message is not a JSON object")
	}
	var ev cloudevents.Event
	if err := json.Unmarshal(trimmed, &ev); err != nil {
		return Payment{}, invalid(ReasonEnvelope, "", "%v", err)
	}
	if err := ev.Validate(); err != nil {
		return Payment{}, invalid(ReasonEnvelope, "", "%v", err)
	}
	if ev.SpecVersion() != "1.0" {
		return Payment{}, invalid(ReasonEnvelope, "specversion", "must be \"1.0\", got %q", ev.SpecVersion())
	}
	if ev.Time().IsZero() {
		return Payment{}, invalid(ReasonEnvelope, "time", "required: when the payment happened")
	}
	if ct := ev.DataContentType(); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return Payment{}, invalid(ReasonEnvelope, "datacontenttype", "must be application/json, got %q", ct)
	}
	typ := ev.Type()
	if typ != TypeSucceeded && typ != TypeRefunded {
		return Payment{}, invalid(ReasonUnsupportedType, "type", "%q is not %s or %s", typ, TypeSucceeded, TypeRefunded)
	}
	if len(ev.Data()) == 0 {
		return Payment{}, invalid(ReasonData, "data", "required")
	}
	var d wireData
	dec := json.NewDecoder(bytes.NewReader(ev.Data()))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		return Payment{}, invalid(ReasonData, "data", "%v", err)
	}
	p := Payment{
		EventID: ev.ID(), Source: ev.Source(), Type: typ, Time: ev.Time().UTC(),
		PartnerID: d.PartnerID, MemberID: d.MemberID, PaymentID: d.PaymentID,
		Currency: d.Currency, Category: d.Category, Recurring: d.Recurring,
	}
	if d.RefundOf != nil {
		p.RefundOf = *d.RefundOf
	}
	if err := p.setAmount(d.AmountMinor); err != nil {
		return Payment{}, err
	}
	if err := p.validate(); err != nil {
		return Payment{}, err
	}
	return p, nil
}

// MaxAmountMinor bounds amounts so that points math stays far from overflow
// (10^15 minor units is ten trillion in a two-decimal currency).
const MaxAmountMinor = 1_000_000_000_000_000

func (p *Payment) setAmount(n json.Number) error {
	if n == "" {
		return invalid(ReasonAmount, "data.amount_minor", "required")
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return invalid(ReasonAmount, "data.amount_minor", "%q is not an integer number of minor units", n.String())
	}
	if v <= 0 || v > MaxAmountMinor {
		return invalid(ReasonAmount, "data.amount_minor", "%d must be between 1 and %d", v, int64(MaxAmountMinor))
	}
	p.AmountMinor = v
	return nil
}

// Categories a payment may carry (spec §3).
var Categories = []string{"telecom", "utilities", "banking", "subscription", "retail", "other"}

func (p *Payment) validate() error {
	if !ValidPartnerID(p.PartnerID) {
		return invalid(ReasonData, "data.partner_id", "%q: lower-case letters, digits and dashes, 2 to 63 characters", p.PartnerID)
	}
	if !ValidExternalID(p.MemberID) {
		return invalid(ReasonData, "data.member_id", "required: 1 to 128 printable characters without spaces")
	}
	if !ValidExternalID(p.PaymentID) {
		return invalid(ReasonData, "data.payment_id", "required: 1 to 128 printable characters without spaces")
	}
	if err := ValidCurrency(p.Currency); err != nil {
		return invalid(ReasonCurrency, "data.currency", "%v", err)
	}
	if !slices.Contains(Categories, p.Category) {
		return invalid(ReasonData, "data.category", "%q is not one of %s", p.Category, strings.Join(Categories, ", "))
	}
	switch p.Type {
	case TypeRefunded:
		if !ValidExternalID(p.RefundOf) {
			return invalid(ReasonData, "data.refund_of", "required for %s: the payment_id being refunded", TypeRefunded)
		}
		if p.RefundOf == p.PaymentID {
			return invalid(ReasonData, "data.refund_of", "a refund needs its own payment_id, distinct from the refunded one")
		}
	default:
		if p.RefundOf != "" {
			return invalid(ReasonData, "data.refund_of", "only for %s", TypeRefunded)
		}
	}
	if r := p.Recurring; r != nil {
		if !ValidExternalID(r.SubscriptionID) {
			return invalid(ReasonData, "data.recurring.subscription_id", "required for a recurring payment")
		}
		if !ValidPeriod(r.Period) {
			return invalid(ReasonData, "data.recurring.period", "%q is not YYYY-MM, YYYY-Qn, YYYY-Www or YYYY", r.Period)
		}
		if _, err := time.Parse(time.DateOnly, r.DueDate); err != nil {
			return invalid(ReasonData, "data.recurring.due_date", "%q is not a YYYY-MM-DD date", r.DueDate)
		}
	}
	return nil
}

// ValidCurrency checks that code is a currency Accrue accepts: an upper-case
// ISO 4217 code of a currency in circulation (money.Payable). Precious metals
// (XAU), test and fund codes (XTS, XDR), XXX and withdrawn currencies (DEM)
// fail, wrapping money.ErrUnknownCurrency.
func ValidCurrency(code string) error { return money.Payable(code) }
