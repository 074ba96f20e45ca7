package api

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/store"
)

// MergeStore is what POST /v1/members/{id}/merge uses of the store.
type MergeStore interface {
	Merge(ctx context.Context, partner, survivor, absorbed string, req ledger.MergeRequest) (store.MergeResult, error)
}

type mergeRequest struct {
	AbsorbedMemberID string `json:"absorbed_member_id"`
	Reason           string `json:"reason"`
}

// mergeReply is POST /v1/members/{id}/merge's answer: each member's closing
// merge entry and its balances after the merge.
type mergeReply struct {
	Survivor memberSide `json:"survivor"`
	Absorbed memberSide `json:"absorbed"`
}

// mergeMembers is POST /v1/members/{id}/merge: absorbed_member_id is merged
// into member {id}, the survivor, in one transaction on both (store.Merge,
// ledger.Merge's rules). From then on the absorbed id answers as the
// survivor (see getMember).
func (s *server) mergeMembers(ctx context.Context, c *call) (result, error) {
	survivor, err := memberID(c)
	if err != nil {
		return result{}, err
	}
	var req mergeRequest
	if err := decodeStrict(c.body, &req); err != nil {
		return result{}, err
	}
	if err := req.validate(survivor); err != nil {
		return result{}, err
	}
	render := func(w store.Written) (result, error) {
		return result{http.StatusCreated, mergeReply{Survivor: sideOf(w.Member, w.Entry), Absorbed: sideOf(w.Other, w.OtherEntry)}}, nil
	}
	c.respond(render)
	res, err := s.Store.Merge(ctx, c.principal.PartnerID, survivor, req.AbsorbedMemberID,
		ledger.MergeRequest{Reason: req.Reason, Actor: c.principal.KeyID})
	if err != nil {
		return result{}, err
	}
	return render(store.Written{Member: res.Survivor, Entry: &res.In, Other: res.Absorbed, OtherEntry: &res.Out})
}

// validate checks a merge's body (survivor: the member in the path).
func (r *mergeRequest) validate(survivor string) error {
	if _, err := checkID("absorbed_member_id", r.AbsorbedMemberID, idMember); err != nil {
		return err
	}
	if r.AbsorbedMemberID == survivor {
		return invalid("absorbed_member_id", "must be another member than the survivor")
	}
	return validReason(r.Reason)
}

// MaxReasonLen is the longest reason of a transfer or a merge, in characters.
const MaxReasonLen = 500

// validReason checks an optional free-text reason: 1 to MaxReasonLen
// characters, not only spaces.
func validReason(reason string) error {
	if utf8.RuneCountInString(reason) > MaxReasonLen || (reason != "" && strings.TrimSpace(reason) == "") {
		return invalid("reason", "optional: 1 to 500 characters, not only spaces")
	}
	return nil
}
