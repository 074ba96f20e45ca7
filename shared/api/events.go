package api

import (
	"context"
	"net/http"

	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/store"
)

// EventIngester applies one payment event down the queue's path (package
// ingest).
type EventIngester interface {
	Process(ctx context.Context, m ingest.Message) (ingest.Result, error)
}

// RejectionStore lists a partner's rejected events.
type RejectionStore interface {
	Rejections(ctx context.Context, partner string, limit int32, cursor string) ([]store.Rejection, string, error)
}

// eventReply is POST /v1/events' answer for an applied event.
type eventReply struct {
	Status   string     `json:"status"` // "applied" or "duplicate"
	Entry    *EntryView `json:"entry,omitempty"`
	Balances *Balances  `json:"balances,omitempty"`
}

// postEvent ingests one payment event synchronously, down the same path as the
// queue: a bad event is recorded as rejected (and answered 422 with its
// reason), a transient failure is a 503 to retry with the same Idempotency-Key.
// The event must name the caller's own partner; whatever happens to it is
// written under the caller's partner only (a rejection of an event naming
// another partner is recorded under the caller, the claim kept as data).
func (s *server) postEvent(ctx context.Context, c *call) (result, error) {
	c.respond(renderEvent)
	res, err := s.Ingest.Process(ctx, ingest.Message{ID: c.requestID, Source: "api", Body: c.body, ReceivedAt: s.Now(), Partner: c.principal.PartnerID})
	if err != nil {
		return result{}, err
	}
	if res.Rejection != nil {
		return renderEvent(store.Written{Rejection: res.Rejection})
	}
	if res.Outcome.Duplicate {
		return result{http.StatusOK, eventReply{Status: "duplicate"}}, nil
	}
	return renderEvent(store.Written{Member: res.Outcome.Member, Entry: &res.Outcome.Entry})
}

// renderEvent answers POST /v1/events: the entry applied, or the rejection
// recorded (a 422 with its reason; an event naming another partner is a 400
// validation error).
func renderEvent(w store.Written) (result, error) {
	if rej := w.Rejection; rej != nil {
		if rej.Reason == ingest.ReasonPartnerMismatch {
			return result{}, invalid(rej.Field, "must be the partner of the API key")
		}
		e := &apiError{kind: probRejected, detail: rej.Detail, reason: rej.Reason}
		if rej.Field != "" {
			e.fields = []FieldError{{Field: rej.Field, Message: rej.Detail}}
		}
		return result{}, e
	}
	ev := entryView(*w.Entry)
	b := balancesOf(w.Member)
	return result{http.StatusCreated, eventReply{Status: "applied", Entry: &ev, Balances: &b}}, nil
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
