package api

import (
	"context"
	"net/http"
	"unicode/utf8"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/store"
)

// ReviewStore is what the review queue routes use of the store.
type ReviewStore interface {
	ReviewQueue(ctx context.Context, partner string, limit int32, cursor string) (store.Page[store.ReviewItem], error)
	Approve(ctx context.Context, partner, reviewID, actor string) (ledger.Member, ledger.Entry, error)
	Reject(ctx context.Context, partner, reviewID, actor, reason string) (ledger.Member, ledger.Entry, error)
}

// MaxRejectReasonLen is the longest reason a rejection may carry, in characters.
const MaxRejectReasonLen = 500

// reviewDecision is the reply of POST /v1/review/{id}/approve and /reject.
type reviewDecision struct {
	ReviewID string    `json:"review_id"`
	Decision string    `json:"decision"` // "approved" or "rejected"
	MemberID string    `json:"member_id"`
	Entry    EntryView `json:"entry"`
	Balances Balances  `json:"balances"`
}

type rejectRequest struct {
	Reason string `json:"reason"`
}

// reviewID reads and checks the {id} path value (an opaque id from GET /v1/review).
func reviewID(c *call) (string, error) {
	return pathID(c, "id", idReview)
}

// listReview is GET /v1/review: accruals held by fraud limits, oldest first.
func (s *server) listReview(ctx context.Context, c *call) (result, error) {
	limit, cursor, err := pageParams(c.r)
	if err != nil {
		return result{}, err
	}
	page, err := s.Store.ReviewQueue(ctx, c.principal.PartnerID, limit, cursor)
	if err != nil {
		return result{}, err
	}
	out := list[store.ReviewItem]{Data: make([]store.ReviewItem, 0, len(page.Items)), NextCursor: page.Next}
	for _, it := range page.Items {
		it.Reasons = nonNil(it.Reasons)
		out.Data = append(out.Data, it)
	}
	return result{http.StatusOK, out}, nil
}

// approve is POST /v1/review/{id}/approve (an empty body or {}): the held
// points are released.
func (s *server) approve(ctx context.Context, c *call) (result, error) {
	id, err := reviewID(c)
	if err != nil {
		return result{}, err
	}
	if err := emptyBody(c); err != nil {
		return result{}, err
	}
	render := renderDecision(id, "approved")
	c.respond(render)
	m, e, err := s.Store.Approve(ctx, c.principal.PartnerID, id, c.principal.KeyID)
	if err != nil {
		return result{}, err
	}
	return render(store.Written{Member: m, Entry: &e})
}

// renderDecision answers a review decision with the entry it booked.
func renderDecision(id, decision string) func(store.Written) (result, error) {
	return func(w store.Written) (result, error) {
		return result{http.StatusOK, reviewDecision{ReviewID: id, Decision: decision, MemberID: w.Member.ID,
			Entry: entryView(*w.Entry), Balances: balancesOf(w.Member)}}, nil
	}
}

// reject is POST /v1/review/{id}/reject with an optional {"reason": "..."}:
// the held points are taken back.
func (s *server) reject(ctx context.Context, c *call) (result, error) {
	id, err := reviewID(c)
	if err != nil {
		return result{}, err
	}
	var req rejectRequest
	if len(c.body) > 0 {
		if err := decodeStrict(c.body, &req); err != nil {
			return result{}, err
		}
	}
	if utf8.RuneCountInString(req.Reason) > MaxRejectReasonLen {
		return result{}, invalid("reason", "at most 500 characters")
	}
	render := renderDecision(id, "rejected")
	c.respond(render)
	m, e, err := s.Store.Reject(ctx, c.principal.PartnerID, id, c.principal.KeyID, req.Reason)
	if err != nil {
		return result{}, err
	}
	return render(store.Written{Member: m, Entry: &e})
}
