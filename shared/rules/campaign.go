package rules

import (
	"math/big"
	"strconv"
	"time"

	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/satint"
)

// campaignHit is one campaign that applies to the payment.
type campaignHit struct {
	c     *program.Campaign
	extra *big.Rat // multiplier's exact extra over base; nil without a multiplier > 1
	// points on the campaign's line (after per-member limits and budget), then
	// credited: what is left of them after the caps.
	points, credited int64
}

// campaignsFor lists the campaigns that target this payment and member and would
// give something: a multiplier above 1 on a positive base, or a positive bonus.
// Multipliers of 1 or less are ignored: a promotion never takes points away.
func (e *eval) campaignsFor(base *big.Rat, tierName string) []campaignHit {
	var hits []campaignHit
	for i := range e.p.Campaigns {
		c := &e.p.Campaigns[i]
		if seenCampaign(e.p.Campaigns[:i], c.ID) || !campaignActive(c, e.pay.Time) ||
			!matchesList(c.Categories, e.pay.Category) ||
			!matchesList(c.Tiers, tierName) ||
			!matchesAny(c.Tags, e.st.Tags) {
			continue
		}
		h := campaignHit{c: c}
		if m := factor(c.Multiplier); c.Multiplier.IsSet() && m.Cmp(big.NewRat(1, 1)) > 0 && base.Sign() > 0 {
			h.extra = extraOver(base, m)
		}
		if h.extra == nil && c.Bonus <= 0 {
			continue
		}
		if hits == nil {
			hits = make([]campaignHit, 0, len(e.p.Campaigns)-i)
		}
		hits = append(hits, h)
	}
	return hits
}

// seenCampaign reports whether an earlier campaign has the same id: ids are unique
// in a valid program, and a repeated one is ignored so that budgets stay sound.
func seenCampaign(earlier []program.Campaign, id string) bool {
	for i := range earlier {
		if earlier[i].ID == id {
			return true
		}
	}
	return false
}

// campaignActive: StartsAt <= t < EndsAt; a zero StartsAt or EndsAt leaves that side open.
func campaignActive(c *program.Campaign, t time.Time) bool {
	return (c.StartsAt.IsZero() || !t.Before(c.StartsAt)) &&
		(c.EndsAt.IsZero() || t.Before(c.EndsAt))
}

// limitCampaign cuts a campaign's integer points (its share of the rounded total
// plus its bonus) by the member's limits and the campaign budget, and returns the
// points and the line's detail.
func (e *eval) limitCampaign(c *program.Campaign, raw int64, b Budgets) (int64, string) {
	pts, why := raw, ""
	use := e.st.Campaigns[c.ID]
	if c.PerMemberMaxTimes > 0 && use.Times >= c.PerMemberMaxTimes {
		pts, why = 0, "per-member times limit"
	}
	if c.PerMemberMaxPoints > 0 {
		if left := max(0, satint.Sub(c.PerMemberMaxPoints, use.Points)); pts > left {
			pts, why = left, "per-member points limit"
		}
	}
	if c.Budget > 0 {
		if left := max(0, satint.Sub(c.Budget, b.CampaignSpent[c.ID])); pts > left {
			pts, why = left, "budget"
		}
	}
	return pts, campaignDetail(c, raw, pts, why)
}

// campaignDetail reads "×2", "+100" or "×2 +100", then "; cut from 50 by budget"
// when a limit cut the line.
func campaignDetail(c *program.Campaign, raw, pts int64, why string) string {
	b := make([]byte, 0, 48)
	if c.Multiplier.IsSet() {
		b = append(b, "×"...)
		b = append(b, c.Multiplier.String()...)
	}
	if c.Bonus > 0 {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, '+')
		b = strconv.AppendInt(b, c.Bonus, 10)
	}
	if pts < raw {
		b = append(b, "; cut from "...)
		b = strconv.AppendInt(b, raw, 10)
		b = append(b, " by "...)
		b = append(b, why...)
	}
	return string(b)
}

// uncap takes the caps' cut from the campaigns first, last campaign first, so that
// points a cap withheld neither consume a campaign's budget nor the member's
// per-member limits. What the campaigns cannot absorb falls on the other lines
// (earn, tier, streak, frequency), which carry no per-campaign accounting.
func uncap(hits []campaignHit, cut int64) {
	for i := range hits {
		hits[i].credited = hits[i].points
	}
	for i := len(hits) - 1; i >= 0 && cut > 0; i-- {
		take := min(cut, hits[i].credited)
		hits[i].credited -= take
		cut -= take
	}
}

// recordCampaigns writes the credited campaign points into the member's campaign
// uses and the budgeted campaigns' spends.
func (e *eval) recordCampaigns(hits []campaignHit) map[string]int64 {
	var spend map[string]int64
	for _, h := range hits {
		if h.credited <= 0 {
			continue
		}
		if e.st.Campaigns == nil {
			e.st.Campaigns = make(map[string]CampaignUse, 1)
		}
		use := e.st.Campaigns[h.c.ID]
		use.Times = satint.Add(use.Times, 1)
		use.Points = satint.Add(use.Points, h.credited)
		e.st.Campaigns[h.c.ID] = use
		if h.c.Budget > 0 {
			if spend == nil {
				spend = make(map[string]int64, 1)
			}
			spend[h.c.ID] += h.credited
		}
	}
	return spend
}
