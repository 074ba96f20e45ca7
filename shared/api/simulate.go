package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
	"github.com/accrue/accrue/shared/simulate"
)

// HistoryStore is what the simulation reads of a member's stored history.
type HistoryStore interface {
	Entries(ctx context.Context, partner, member string) ([]ledger.Entry, error)
}

type simulateRequest struct {
	Program  json.RawMessage   `json:"program"`
	Payments []json.RawMessage `json:"payments"`
	MemberID string            `json:"member_id"`
}

// simulate runs a proposed program over given payment events (the CloudEvents
// of POST /v1/events) or over a member's stored payment history, against the
// current program. Nothing is written.
func (s *server) simulate(ctx context.Context, c *call) (result, error) {
	var req simulateRequest
	if err := decodeStrict(c.body, &req); err != nil {
		return result{}, err
	}
	if len(req.Program) == 0 {
		return result{}, invalid("program", "required: the proposed program")
	}
	if (len(req.Payments) == 0) == (req.MemberID == "") {
		return result{}, invalid("payments", "give exactly one of payments and member_id")
	}
	if req.MemberID != "" {
		if _, err := checkID("member_id", req.MemberID, idMember); err != nil {
			return result{}, err
		}
	}
	proposed, err := program.Parse(req.Program)
	if err != nil {
		return result{}, prefixFields("program.", programError(err))
	}
	partner := c.principal.PartnerID
	current, err := s.Store.Program(ctx, partner)
	if err != nil {
		return result{}, err
	}
	sim := simulate.Request{Current: current, Proposed: proposed}
	if req.MemberID != "" {
		m, err := s.Store.Member(ctx, partner, req.MemberID)
		if err != nil {
			return result{}, err
		}
		// The person's history: the member's payments and those of the ids
		// merged into it (an absorbed id asked for is its survivor).
		for _, id := range append([]string{m.ID}, m.Absorbed...) {
			es, err := s.Store.Entries(ctx, partner, id)
			if err != nil {
				return result{}, err
			}
			sim.Payments = append(sim.Payments, history(m, es)...)
		}
		sim.Start = map[string]rules.State{m.ID: {Tags: m.Rules.Tags}}
	} else {
		if len(req.Payments) > simulate.MaxPayments {
			return result{}, invalid("payments", fmt.Sprintf("at most %d", simulate.MaxPayments))
		}
		for i, raw := range req.Payments {
			p, err := payment.Parse(raw)
			if ie, ok := payment.AsInvalid(err); ok {
				return result{}, invalid(fmt.Sprintf("payments[%d].%s", i, ie.Field), ie.Detail)
			}
			if p.PartnerID != partner {
				return result{}, invalid(fmt.Sprintf("payments[%d].data.partner_id", i), "must be the partner of the API key")
			}
			sim.Payments = append(sim.Payments, p)
		}
	}
	res, err := simulate.Run(sim)
	var ie *simulate.InputError
	if errors.As(err, &ie) {
		return result{}, invalid(ie.Field, ie.Message)
	}
	if err != nil {
		return result{}, err
	}
	return result{http.StatusOK, res}, nil
}

// history turns a member's stored payment entries back into payments.
func history(m ledger.Member, es []ledger.Entry) []payment.Payment {
	var out []payment.Payment
	for _, e := range es {
		// Only payments Accrue applied: an import entry's payment is one the
		// previous program rewarded (its qualifying points, dated).
		if e.PaymentID == "" || e.Kind == ledger.KindImport {
			continue
		}
		typ := payment.TypeSucceeded
		if e.Kind == ledger.KindReverse {
			typ = payment.TypeRefunded
		}
		out = append(out, payment.Payment{
			EventID: e.EventID, Type: typ, Time: e.PaidAt, PartnerID: m.PartnerID, MemberID: m.ID,
			PaymentID: e.PaymentID, AmountMinor: e.AmountMinor, Currency: e.Currency, Category: e.Category,
			Recurring: e.Recurring, RefundOf: e.RefundOf,
		})
	}
	return out
}

// prefixFields puts prefix before the field names of a validation problem.
func prefixFields(prefix string, err error) error {
	var ve *program.ValidationError
	if errors.As(err, &ve) {
		ae := &apiError{kind: probValidation, detail: ve.Error(), err: err}
		for _, fe := range ve.Errors {
			ae.fields = append(ae.fields, FieldError{Field: prefix + fe.Field, Message: fe.Message})
		}
		return ae
	}
	return err
}
