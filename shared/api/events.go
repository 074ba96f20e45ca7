package api

import (
	"context"
	"net/http"

	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/store"
)

// eventReply is POST /v1/events' answer for an applied event.
type eventReply struct {
	Status   string     `json:"status"` // "applied" or "duplicate"
	Entry    *EntryView `json:"entry,omitempty"`
	Balances *Balances  `json:"balances,omitempty"`
}

// postEvent ingests one payment event synchronously, down the same path as the
// queue: a bad event is recorded as rejected (and answered 422 with its
// reason), a transient failure is a 503 to retry with the same Idempotency-Key.
// The event must name the caller's own partner.
func (s *server) postEvent(ctx context.Context, c *call) (result, error) {
	if pay, err := payment.Parse(c.body); err == nil && pay.PartnerID != c.principal.PartnerID {
		return result{}, invalid("data.partner_id", "must be the partner of the API key")
	}
	res, err := s.Ingest.Process(ctx, ingest.Message{ID: c.requestID, Source: "api", Body: c.body, ReceivedAt: s.Now()})
	if err != nil {
		return result{}, err
	}
	if rej := res.Rejection; rej != nil {
		e := &apiError{kind: probRejected, detail: rej.Detail, reason: rej.Reason}
		if rej.Field != "" {
			e.fields = []FieldError{{Field: rej.Field, Message: rej.Detail}}
		}
		return result{}, e
	}
	if res.Outcome.Duplicate {
		return result{http.StatusOK, eventReply{Status: "duplicate"}}, nil
	}
	ev := entryView(res.Outcome.Entry)
	m := res.Outcome.Member
	return result{http.StatusCreated, eventReply{Status: "applied", Entry: &ev, Balances: &Balances{m.Balances, m.Rules.Qualifying}}}, nil
}

func (s *server) listRejected(ctx context.Context, c *call) (result, error) {
	limit, cursor, err := pageParams(c.r)
	if err != nil {
		return result{}, err
	}
	rs, next, err := s.Store.Rejections(ctx, c.principal.PartnerID, limit, cursor)
	if err != nil {
		return result{}, err
	}
	return result{http.StatusOK, list[store.Rejection]{Data: nonNil(rs), NextCursor: next}}, nil
}
