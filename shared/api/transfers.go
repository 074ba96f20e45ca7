package api

import (
	"context"
	"net/http"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/store"
)

// TransferStore is what POST /v1/members/{id}/transfers uses of the store.
type TransferStore interface {
	Transfer(ctx context.Context, partner, from, to string, req ledger.TransferRequest) (store.TransferResult, error)
}

type transferRequest struct {
	ToMemberID string `json:"to_member_id"`
	Points     int64  `json:"points"`
	Reason     string `json:"reason"`
}

// memberSide is one member of a two-member change (a transfer, a merge):
// its entry and balances after it.
type memberSide struct {
	MemberID string    `json:"member_id"`
	Entry    EntryView `json:"entry"`
	Balances Balances  `json:"balances"`
}

func sideOf(m ledger.Member, e *ledger.Entry) memberSide {
	return memberSide{MemberID: m.ID, Entry: entryView(*e), Balances: balancesOf(m)}
}

// transferReply is POST /v1/members/{id}/transfers' answer.
type transferReply struct {
	Points int64      `json:"points"`
	From   memberSide `json:"from"`
	To     memberSide `json:"to"`
}

// transfer is POST /v1/members/{id}/transfers: points of member {id} go to
// to_member_id, in one transaction on both (store.Transfer), under the
// program's transfer settings.
func (s *server) transfer(ctx context.Context, c *call) (result, error) {
	from, err := memberID(c)
	if err != nil {
		return result{}, err
	}
	var req transferRequest
	if err := decodeStrict(c.body, &req); err != nil {
		return result{}, err
	}
	if err := req.validate(from); err != nil {
		return result{}, err
	}
	render := func(w store.Written) (result, error) {
		return result{http.StatusCreated, transferReply{Points: req.Points, From: sideOf(w.Member, w.Entry), To: sideOf(w.Other, w.OtherEntry)}}, nil
	}
	c.respond(render)
	res, err := s.Store.Transfer(ctx, c.principal.PartnerID, from, req.ToMemberID,
		ledger.TransferRequest{Points: req.Points, Reason: req.Reason, Actor: c.principal.KeyID})
	if err != nil {
		return result{}, err
	}
	return render(store.Written{Member: res.From, Entry: &res.Out, Other: res.To, OtherEntry: &res.In})
}

// validate checks a transfer's body (from: the sending member).
func (r *transferRequest) validate(from string) error {
	if _, err := checkID("to_member_id", r.ToMemberID, idMember); err != nil {
		return err
	}
	switch {
	case r.ToMemberID == from:
		return invalid("to_member_id", "must be another member than the sender")
	case r.Points <= 0 || r.Points > 100_000_000:
		return invalid("points", "a positive integer (at most 100000000)")
	}
	return validReason(r.Reason)
}
