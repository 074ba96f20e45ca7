package api

import (
	"context"
	"net/http"
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/rules"
	"github.com/accrue/accrue/shared/store"
)

// PrivacyStore is what the GDPR routes use of the store.
type PrivacyStore interface {
	Export(ctx context.Context, partner, member string) (store.Export, error)
	Erase(ctx context.Context, partner, member, actor string) (string, error)
}

// ExportView is GET /v1/members/{id}/data: everything kept about a member.
type ExportView struct {
	MemberID     string              `json:"member_id"`
	Status       string              `json:"status"`
	Tags         []string            `json:"tags"`
	Tier         string              `json:"tier,omitempty"`
	Balances     Balances            `json:"balances"`
	RulesState   rules.State         `json:"rules_state"`
	Activities   map[string]int64    `json:"activities,omitempty"`
	CreatedAt    time.Time           `json:"created_at"`
	LastActivity time.Time           `json:"last_activity_at"`
	Ledger       []EntryView         `json:"ledger"` // oldest first
	Redemptions  []ledger.Redemption `json:"redemptions"`
	Review       []store.ReviewItem  `json:"review"`
	ExportedAt   time.Time           `json:"exported_at"`
	// Merged: the export of each id merged into the member (the same person).
	Merged []ExportView `json:"merged,omitempty"`
}

// eraseReply is DELETE /v1/members/{id}/data's answer.
type eraseReply struct {
	Erased       bool   `json:"erased"`
	AnonymisedID string `json:"anonymised_id"`
}

// exportData is GET /v1/members/{id}/data (GDPR access).
func (s *server) exportData(ctx context.Context, c *call) (result, error) {
	id, err := memberID(c)
	if err != nil {
		return result{}, err
	}
	x, err := s.Store.Export(ctx, c.principal.PartnerID, id)
	if err != nil {
		return result{}, err
	}
	v := exportView(x)
	for _, mx := range x.Merged {
		v.Merged = append(v.Merged, exportView(mx))
	}
	return result{http.StatusOK, v}, nil
}

func exportView(x store.Export) ExportView {
	v := ExportView{
		MemberID: x.MemberID, Status: string(x.Status), Tags: nonNil(x.Tags), Tier: x.Tier,
		Balances: Balances{x.Balances, x.Qualifying}, RulesState: x.Rules, Activities: x.Activities,
		CreatedAt: x.CreatedAt, LastActivity: x.LastActivity, ExportedAt: x.ExportedAt,
		Ledger: make([]EntryView, 0, len(x.Entries)), Redemptions: nonNil(x.Redemptions), Review: make([]store.ReviewItem, 0, len(x.Review)),
	}
	for _, e := range x.Entries {
		v.Ledger = append(v.Ledger, entryView(e))
	}
	for _, r := range x.Review {
		r.Reasons = nonNil(r.Reasons)
		v.Review = append(v.Review, r)
	}
	return v
}

// eraseData is DELETE /v1/members/{id}/data (GDPR erasure): personal data
// removed, the ledger kept under an anonymous id (see store.Erase). Calling it
// again after a failure completes the erasure; after success the id is
// unknown (404). The anonymous id is not logged: the request log names the
// original id, and nothing should link the two.
func (s *server) eraseData(ctx context.Context, c *call) (result, error) {
	id, err := memberID(c)
	if err != nil {
		return result{}, err
	}
	anon, err := s.Store.Erase(ctx, c.principal.PartnerID, id, c.principal.KeyID)
	if err != nil {
		return result{}, err
	}
	return result{http.StatusOK, eraseReply{Erased: true, AnonymisedID: anon}}, nil
}
