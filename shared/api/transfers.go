package api

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/store"
)

// TransferStore is what POST /v1/members/{id}/transfers uses of the store.
type TransferStore interface {
	Transfer(ctx context.Context, partner, from, to string, req ledger.TransferRequest) (store.TransferResult, error)
}

// MaxTransferReasonLen is the longest reason of a transfer, in characters.
const MaxTransferReasonLen = 500

type transferRequest struct {
	ToMemberID string `json:"to_member_id"`
	Points     int64  `json:"points"`
	Reason     string `json:"reason"`
}

// transferSide is one member of a transfer: its entry and balances after it.
type transferSide struct {
	MemberID string    `json:"member_id"`
	Entry    EntryView `json:"entry"`
	Balances Balances  `json:"balances"`
}

// transferReply is POST /v1/members/{id}/transfers' answer.
type transferReply struct {
	Points int64        `json:"points"`
	From   transferSide `json:"from"`
	To     transferSide `json:"to"`
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
		return result{http.StatusCreated, transferReply{Points: req.Points,
			From: transferSide{MemberID: w.Member.ID, Entry: entryView(*w.Entry), Balances: balancesOf(w.Member)},
			To:   transferSide{MemberID: w.Other.ID, Entry: entryView(*w.OtherEntry), Balances: balancesOf(w.Other)}}}, nil
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
	case utf8.RuneCountInString(r.Reason) > MaxTransferReasonLen || (r.Reason != "" && strings.TrimSpace(r.Reason) == ""):
		return invalid("reason", "optional: 1 to 500 characters, not only spaces")
	}
	return nil
}
