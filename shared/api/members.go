package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
	"github.com/accrue/accrue/shared/store"
)

// MemberStore is what the member routes (enrolment, member view, ledger,
// activities, adjustments) use of the store.
type MemberStore interface {
	Enroll(ctx context.Context, partner, member string, tags []string) (ledger.Member, error)
	Member(ctx context.Context, partner, member string) (ledger.Member, error)
	UpdateMember(ctx context.Context, partner, member string, update func(*ledger.Member) error) (ledger.Member, error)
	Ledger(ctx context.Context, partner, member string, limit int32, cursor string) (store.Page[ledger.Entry], error)
	Lots(ctx context.Context, partner, member string) ([]*ledger.Entry, error)
	Activity(ctx context.Context, partner, member, name string) (ledger.Member, ledger.Entry, error)
	Adjust(ctx context.Context, partner, member string, a ledger.Adjustment) (ledger.Member, ledger.Entry, error)
}

// Balances as the API shows them.
type Balances struct {
	ledger.Balances
	Qualifying int64 `json:"qualifying"`
}

// TierView is a member's tier and the progress to the next.
type TierView struct {
	Name       string    `json:"name"`
	Multiplier string    `json:"multiplier"`
	Next       *NextTier `json:"next,omitempty"`
}

// NextTier is the next tier up and the qualifying points still needed.
type NextTier struct {
	Name         string `json:"name"`
	Threshold    int64  `json:"threshold"`
	PointsNeeded int64  `json:"points_needed"`
}

// ExpiringLot is a lot expiring soon: when, and why ("expiry": its own date;
// "inactivity": the member's inactivity deadline comes first).
type ExpiringLot struct {
	Points    int64     `json:"points"`
	ExpiresAt time.Time `json:"expires_at"`
	Reason    string    `json:"reason"`
}

// Expiring sums the points expiring within Days.
type Expiring struct {
	Days   int           `json:"within_days"`
	Points int64         `json:"points"`
	Lots   []ExpiringLot `json:"lots"`
}

// StreakView is one subscription's streak under one streak rule.
type StreakView struct {
	Rule           string `json:"rule"`
	SubscriptionID string `json:"subscription_id"`
	Count          int    `json:"count"`
	LastPeriod     string `json:"last_period"`
}

// MemberView is GET /v1/members/{id}.
type MemberView struct {
	MemberID     string       `json:"member_id"`
	Status       string       `json:"status"`
	Tags         []string     `json:"tags"`
	Balances     Balances     `json:"balances"`
	Tier         *TierView    `json:"tier,omitempty"`
	Expiring     Expiring     `json:"expiring"`
	Streaks      []StreakView `json:"streaks"`
	CreatedAt    time.Time    `json:"created_at"`
	LastActivity time.Time    `json:"last_activity_at"`
	// MergedInto: set when the id asked for was merged into this member (a
	// member merge): this member's id, which the old id answers as.
	MergedInto string `json:"merged_into,omitempty"`
	// MergedIDs: the ids merged into this member, which answer as it.
	MergedIDs []string `json:"merged_ids,omitempty"`
}

// ExpiringWindowDays is how far ahead GET /v1/members/{id} looks for expiring points.
const ExpiringWindowDays = 30

func (s *server) memberView(ctx context.Context, m ledger.Member) (MemberView, error) {
	p, err := s.Store.Program(ctx, m.PartnerID)
	if err != nil {
		return MemberView{}, err
	}
	lots, err := s.Store.Lots(ctx, m.PartnerID, m.ID)
	if err != nil {
		return MemberView{}, err
	}
	// The member as of now: pending points whose release time has come are
	// available, booked or not yet (the next write books them).
	m = jobs.AsOf(m, lots, p, s.Now())
	v := MemberView{
		MemberID: m.ID, Status: string(m.Status), Tags: nonNil(m.Rules.Tags),
		Balances:  Balances{Balances: m.Balances, Qualifying: m.Rules.Qualifying},
		CreatedAt: m.CreatedAt, LastActivity: m.LastActivity, Streaks: []StreakView{},
		Expiring: Expiring{Days: ExpiringWindowDays, Lots: []ExpiringLot{}}, MergedIDs: m.Absorbed,
	}
	v.Tier = tierView(p, m.Rules)
	for k, st := range m.Rules.Streaks {
		rule, sub, _ := strings.Cut(k, "|")
		v.Streaks = append(v.Streaks, StreakView{Rule: rule, SubscriptionID: sub, Count: st.Count, LastPeriod: st.LastPeriod})
	}
	slices.SortFunc(v.Streaks, func(a, b StreakView) int { return strings.Compare(a.Rule+a.SubscriptionID, b.Rule+b.SubscriptionID) })
	for _, x := range jobs.ExpiringBy(&m, lots, p, s.Now().AddDate(0, 0, ExpiringWindowDays)) {
		v.Expiring.Points += x.Lot.Remaining
		v.Expiring.Lots = append(v.Expiring.Lots, ExpiringLot{Points: x.Lot.Remaining, ExpiresAt: x.ExpiresAt, Reason: x.Reason})
	}
	return v, nil
}

func tierView(p *program.Program, st rules.State) *TierView {
	if len(p.Tiers) == 0 {
		return nil
	}
	i := max(p.TierIndex(st.Tier), 0)
	t := p.Tiers[i]
	v := &TierView{Name: t.Name, Multiplier: t.Multiplier.String()}
	if i+1 < len(p.Tiers) {
		n := p.Tiers[i+1]
		v.Next = &NextTier{Name: n.Name, Threshold: n.Threshold, PointsNeeded: max(n.Threshold-st.Qualifying, 0)}
	}
	return v
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

type enrollRequest struct {
	MemberID string   `json:"member_id"`
	Tags     []string `json:"tags"`
}

func validTags(tags []string) error {
	if len(tags) > 20 {
		return invalid("tags", "at most 20 tags")
	}
	for _, t := range tags {
		if t == "" || len(t) > 64 {
			return invalid("tags", "each tag 1 to 64 characters")
		}
	}
	return nil
}

func (s *server) enroll(ctx context.Context, c *call) (result, error) {
	var req enrollRequest
	if err := decodeStrict(c.body, &req); err != nil {
		return result{}, err
	}
	if _, err := checkID("member_id", req.MemberID, idMember); err != nil {
		return result{}, err
	}
	if err := validTags(req.Tags); err != nil {
		return result{}, err
	}
	render := func(w store.Written) (result, error) {
		v, err := s.memberView(ctx, w.Member)
		return result{http.StatusCreated, v}, err
	}
	c.respond(render)
	m, err := s.Store.Enroll(ctx, c.principal.PartnerID, req.MemberID, req.Tags)
	if err != nil {
		return result{}, err
	}
	return render(store.Written{Member: m})
}

func (s *server) getMember(ctx context.Context, c *call) (result, error) {
	id, err := memberID(c)
	if err != nil {
		return result{}, err
	}
	m, err := s.Store.Member(ctx, c.principal.PartnerID, id)
	if err != nil {
		return result{}, err
	}
	v, err := s.memberView(ctx, m)
	return result{http.StatusOK, mergedView(v, id)}, err
}

// mergedView marks a member view read through an id merged into the member
// (the store follows it: the member's id is another).
func mergedView(v MemberView, asked string) MemberView {
	if v.MemberID != asked {
		v.MergedInto = v.MemberID
	}
	return v
}

type patchRequest struct {
	Tags   *[]string `json:"tags"`
	Status *string   `json:"status"`
}

func (s *server) patchMember(ctx context.Context, c *call) (result, error) {
	id, err := memberID(c)
	if err != nil {
		return result{}, err
	}
	var req patchRequest
	if err := decodeStrict(c.body, &req); err != nil {
		return result{}, err
	}
	if req.Tags != nil {
		if err := validTags(*req.Tags); err != nil {
			return result{}, err
		}
	}
	if req.Status != nil && *req.Status != string(ledger.StatusActive) && *req.Status != string(ledger.StatusSuspended) {
		return result{}, invalid("status", `"active" or "suspended"`)
	}
	m, err := s.Store.UpdateMember(ctx, c.principal.PartnerID, id, func(m *ledger.Member) error {
		if m.Status == ledger.StatusErased || m.Status == ledger.StatusErasing {
			return problem(probConflict, "the member's data was erased")
		}
		if req.Tags != nil {
			m.Rules.Tags = *req.Tags
		}
		if req.Status != nil {
			m.Status = ledger.Status(*req.Status)
		}
		return nil
	})
	if err != nil {
		return result{}, err
	}
	v, err := s.memberView(ctx, m)
	return result{http.StatusOK, mergedView(v, id)}, err
}

// EntryView is a ledger entry as the API shows it.
type EntryView struct {
	Seq          int64              `json:"seq"`
	Kind         string             `json:"kind"`
	At           time.Time          `json:"at"`
	Points       int64              `json:"points"`
	Delta        ledger.Balances    `json:"delta"`
	Breakdown    []rules.Line       `json:"breakdown"`
	HoldReasons  []string           `json:"hold_reasons,omitempty"`
	Reason       string             `json:"reason,omitempty"`
	RedemptionID string             `json:"redemption_id,omitempty"`
	Payment      *ledger.PaymentRef `json:"payment,omitempty"`
	Lot          *ledger.Lot        `json:"lot,omitempty"`
	Counterpart  *Counterpart       `json:"counterpart,omitempty"`
}

// Counterpart is the other member of a transfer entry and its entry of the
// transfer ("[erased]" once that member's data was erased).
type Counterpart struct {
	MemberID string `json:"member_id"`
	EntrySeq int64  `json:"entry_seq"`
}

func entryView(e ledger.Entry) EntryView {
	v := EntryView{Seq: e.Seq, Kind: string(e.Kind), At: e.At, Points: e.Points, Delta: e.Delta,
		Breakdown: nonNil(e.Breakdown), HoldReasons: e.HoldReasons, Reason: e.Reason, RedemptionID: e.RedemptionID}
	if e.Counterpart != "" {
		v.Counterpart = &Counterpart{MemberID: e.Counterpart, EntrySeq: e.CounterpartSeq}
	}
	if e.PaymentID != "" || e.AmountMinor != 0 {
		ref := e.PaymentRef
		v.Payment = &ref
	}
	if e.State != ledger.LotNone || e.ExpiresAt != nil {
		lot := e.Lot
		v.Lot = &lot
	}
	return v
}

func (s *server) getLedger(ctx context.Context, c *call) (result, error) {
	id, err := memberID(c)
	if err != nil {
		return result{}, err
	}
	limit, cursor, err := pageParams(c.r)
	if err != nil {
		return result{}, err
	}
	m, err := s.Store.Member(ctx, c.principal.PartnerID, id)
	if err != nil {
		return result{}, err
	}
	page, err := s.Store.Ledger(ctx, c.principal.PartnerID, m.ID, limit, cursor) // an absorbed id: its survivor's
	if err != nil {
		return result{}, err
	}
	out := list[EntryView]{Data: make([]EntryView, 0, len(page.Items)), NextCursor: page.Next}
	for _, e := range page.Items {
		out.Data = append(out.Data, entryView(e))
	}
	return result{http.StatusOK, out}, nil
}

type activityRequest struct {
	Name string `json:"name"`
}

// pointsChange is the reply of a points-changing call.
type pointsChange struct {
	Entry    EntryView `json:"entry"`
	Balances Balances  `json:"balances"`
}

// balancesOf is a member's balances as the API shows them.
func balancesOf(m ledger.Member) Balances { return Balances{m.Balances, m.Rules.Qualifying} }

// renderPointsChange answers a points-changing call with the entry it booked.
func renderPointsChange(w store.Written) (result, error) {
	return result{http.StatusCreated, pointsChange{Entry: entryView(*w.Entry), Balances: balancesOf(w.Member)}}, nil
}

func (s *server) postActivity(ctx context.Context, c *call) (result, error) {
	id, err := memberID(c)
	if err != nil {
		return result{}, err
	}
	var req activityRequest
	if err := decodeStrict(c.body, &req); err != nil {
		return result{}, err
	}
	if req.Name == "" {
		return result{}, invalid("name", "required: an activity of the program")
	}
	c.respond(renderPointsChange)
	m, e, err := s.Store.Activity(ctx, c.principal.PartnerID, id, req.Name)
	if err != nil {
		return result{}, err
	}
	return renderPointsChange(store.Written{Member: m, Entry: &e})
}

type adjustRequest struct {
	Points int64  `json:"points"`
	Reason string `json:"reason"`
}

func (s *server) adjust(ctx context.Context, c *call) (result, error) {
	id, err := memberID(c)
	if err != nil {
		return result{}, err
	}
	var req adjustRequest
	if err := decodeStrict(c.body, &req); err != nil {
		return result{}, err
	}
	switch {
	case req.Points == 0 || req.Points > 100_000_000 || req.Points < -100_000_000:
		return result{}, invalid("points", "a non-zero integer: positive credits, negative debits (|points| ≤ 100000000)")
	case strings.TrimSpace(req.Reason) == "" || len(req.Reason) > 500:
		return result{}, invalid("reason", "required: why (1 to 500 characters); it is kept in the audit trail")
	}
	c.respond(renderPointsChange)
	m, e, err := s.Store.Adjust(ctx, c.principal.PartnerID, id, ledger.Adjustment{Points: req.Points, Reason: req.Reason, Actor: c.principal.KeyID})
	if err != nil {
		return result{}, err
	}
	return renderPointsChange(store.Written{Member: m, Entry: &e})
}
