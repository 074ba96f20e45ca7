package simulate

import (
	"fmt"

	"github.com/accrue/accrue/shared/payment"
)

// InputError names what is wrong with a request: Field is a path such as
// "payments[3].type" ("proposed", "payments" for the request as a whole) and
// Index the payment's position in Request.Payments, or -1.
type InputError struct {
	Index   int
	Field   string
	Message string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Message }

func inputErr(index int, field, format string, args ...any) *InputError {
	if index >= 0 {
		field = fmt.Sprintf("payments[%d].%s", index, field)
	}
	return &InputError{Index: index, Field: field, Message: fmt.Sprintf(format, args...)}
}

// validate checks what the replay relies on; the payments are otherwise taken as
// payment.Parse leaves them.
func validate(req Request) error {
	if req.Proposed == nil {
		return inputErr(-1, "proposed", "required: the program to simulate")
	}
	if n := len(req.Payments); n > MaxPayments {
		return inputErr(-1, "payments", "%d payments, at most %d", n, MaxPayments)
	}
	for i, p := range req.Payments {
		switch {
		case p.Type != payment.TypeSucceeded && p.Type != payment.TypeRefunded:
			return inputErr(i, "type", "%q is not %s or %s", p.Type, payment.TypeSucceeded, payment.TypeRefunded)
		case p.MemberID == "":
			return inputErr(i, "member_id", "required")
		case p.PaymentID == "":
			return inputErr(i, "payment_id", "required")
		case p.AmountMinor <= 0:
			return inputErr(i, "amount_minor", "%d: must be positive", p.AmountMinor)
		case p.Currency == "":
			return inputErr(i, "currency", "required")
		case p.Time.IsZero():
			return inputErr(i, "time", "required: when the payment happened")
		case p.Type == payment.TypeRefunded && p.RefundOf == "":
			return inputErr(i, "refund_of", "required for %s", payment.TypeRefunded)
		case p.Type == payment.TypeRefunded && p.RefundOf == p.PaymentID:
			return inputErr(i, "refund_of", "a refund needs its own payment_id, distinct from the refunded one")
		case p.Type == payment.TypeSucceeded && p.RefundOf != "":
			return inputErr(i, "refund_of", "only for %s", payment.TypeRefunded)
		}
	}
	return nil
}
