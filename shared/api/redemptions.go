package api

import (
	"context"
	"net/http"
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/store"
)

// RedemptionStore is what the redemption routes use of the store.
type RedemptionStore interface {
	Redeem(ctx context.Context, partner, member string, req ledger.RedeemRequest) (ledger.Redemption, ledger.Member, error)
	Capture(ctx context.Context, partner, member, rid string) (ledger.Redemption, ledger.Member, error)
	Cancel(ctx context.Context, partner, member, rid string) (ledger.Redemption, ledger.Member, error)
}

type redeemRequest struct {
	Points      *int64 `json:"points"`
	RewardID    string `json:"reward_id"`
	As          string `json:"as"`
	Capture     bool   `json:"capture"`
	HoldMinutes int    `json:"hold_minutes"`
}

// redemptionReply is the reply of every redemption call.
type redemptionReply struct {
	Redemption ledger.Redemption `json:"redemption"`
	Balances   Balances          `json:"balances"`
}

func (s *server) redeem(ctx context.Context, c *call) (result, error) {
	id, err := memberID(c)
	if err != nil {
		return result{}, err
	}
	var req redeemRequest
	if err := decodeStrict(c.body, &req); err != nil {
		return result{}, err
	}
	switch {
	case (req.Points == nil) == (req.RewardID == ""):
		return result{}, invalid("points", "give exactly one of points and reward_id")
	case req.Points != nil && (*req.Points <= 0 || *req.Points > 100_000_000):
		return result{}, invalid("points", "a positive integer (at most 100000000)")
	case req.As != "" && req.As != "bill_credit":
		return result{}, invalid("as", `only "bill_credit"`)
	case req.As != "" && req.Points == nil:
		return result{}, invalid("as", "bill_credit redeems points, not a reward")
	case req.HoldMinutes < 0 || req.HoldMinutes > 7*24*60:
		return result{}, invalid("hold_minutes", "0 (default 30) to 10080")
	case req.HoldMinutes > 0 && req.Capture:
		return result{}, invalid("hold_minutes", "not with capture: true")
	}
	r := ledger.RedeemRequest{RewardID: req.RewardID, As: req.As, Capture: req.Capture, HoldFor: time.Duration(req.HoldMinutes) * time.Minute}
	if req.Points != nil {
		r.Points = *req.Points
	}
	render := renderRedemption(http.StatusCreated)
	c.respond(render)
	red, m, err := s.Store.Redeem(ctx, c.principal.PartnerID, id, r)
	if err != nil {
		return result{}, err
	}
	return render(store.Written{Member: m, Redemption: &red})
}

// renderRedemption answers a redemption call with the redemption it wrote.
func renderRedemption(status int) func(store.Written) (result, error) {
	return func(w store.Written) (result, error) {
		return result{status, redemptionReply{*w.Redemption, balancesOf(w.Member)}}, nil
	}
}

func (s *server) settle(ctx context.Context, c *call, capture bool) (result, error) {
	id, err := memberID(c)
	if err != nil {
		return result{}, err
	}
	rid, err := pathID(c, "rid", idRedemption)
	if err != nil {
		return result{}, err
	}
	if err := emptyBody(c); err != nil {
		return result{}, err
	}
	op := s.Store.Cancel
	if capture {
		op = s.Store.Capture
	}
	render := renderRedemption(http.StatusOK)
	c.respond(render)
	red, m, err := op(ctx, c.principal.PartnerID, id, rid)
	if err != nil {
		return result{}, err
	}
	return render(store.Written{Member: m, Redemption: &red})
}

func (s *server) capture(ctx context.Context, c *call) (result, error) { return s.settle(ctx, c, true) }
func (s *server) cancel(ctx context.Context, c *call) (result, error)  { return s.settle(ctx, c, false) }
