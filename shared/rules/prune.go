package rules

import (
	"slices"
	"strings"
	"time"

	"github.com/accrue/accrue/shared/program"
)

const (
	// CampaignUseRetention: a member's use of a campaign is kept this long after the
	// campaign ended (late-delivered payments of the campaign window still see it).
	CampaignUseRetention = 30 * 24 * time.Hour
	// MaxStreaks bounds the streak entries kept per member (most recent periods win).
	MaxStreaks = 16
)

// prune keeps the state small (it lives in the member's item) by dropping what can
// no longer matter; see the package documentation.
func (e *eval) prune() {
	e.pruneStreaks()
	e.pruneFrequency()
	e.pruneCampaigns()
}

// pruneStreaks drops entries of rules no longer in the program, entries whose last
// period cannot be read, stale ones (more than a year has passed since the end of
// the period that would have continued them), and beyond MaxStreaks the entries
// with the oldest last periods.
func (e *eval) pruneStreaks() {
	for k, s := range e.st.Streaks {
		last, ok := parsePeriod(s.LastPeriod)
		if !ok || !streakRuleKnown(e.p, k) || streakStale(last, e.now) {
			delete(e.st.Streaks, k)
		}
	}
	capStreaks(e.st.Streaks)
	if len(e.st.Streaks) == 0 {
		e.st.Streaks = nil
	}
}

// capStreaks drops, beyond MaxStreaks, the entries with the oldest last
// periods (ties by key).
func capStreaks(streaks map[string]Streak) {
	if len(streaks) <= MaxStreaks {
		return
	}
	keys := make([]string, 0, len(streaks))
	for k := range streaks {
		keys = append(keys, k)
	}
	starts := make(map[string]time.Time, len(keys))
	for _, k := range keys {
		p, _ := parsePeriod(streaks[k].LastPeriod)
		starts[k] = p.start()
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := starts[b].Compare(starts[a]); c != 0 {
			return c // newest first
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys[MaxStreaks:] {
		delete(streaks, k)
	}
}

func streakRuleKnown(p *program.Program, key string) bool {
	for i := range p.Streaks {
		r := &p.Streaks[i]
		if r.Periods > 0 && strings.HasPrefix(key, r.ID+"|") {
			return true
		}
	}
	return false
}

// streakStale: the period after last ended more than a year before now, so any
// payment still to come for it is long past due and the streak is broken anyway.
func streakStale(last period, now time.Time) bool {
	nextEnd := period{last.kind, last.idx + 2}.start()
	return now.After(nextEnd.AddDate(1, 0, 0))
}

// pruneFrequency drops windows of rules no longer in the program and, for every
// rule, the times that fell out of the window ending at this payment; a window can
// hold at most Payments−1 times (the newest are kept).
func (e *eval) pruneFrequency() {
	t := e.pay.Time.Unix()
	for id, list := range e.st.Frequency {
		r := frequencyRule(e.p, id)
		if r == nil {
			delete(e.st.Frequency, id)
			continue
		}
		list = inWindow(list, windowStart(t, r.Days))
		slices.Sort(list)
		if extra := len(list) - (r.Payments - 1); extra > 0 {
			list = list[:copy(list, list[extra:])]
		}
		if len(list) == 0 {
			delete(e.st.Frequency, id)
			continue
		}
		e.st.Frequency[id] = list
	}
	if len(e.st.Frequency) == 0 {
		e.st.Frequency = nil
	}
}

func frequencyRule(p *program.Program, id string) *program.FrequencyRule {
	for i := range p.Frequency {
		if r := &p.Frequency[i]; r.ID == id && validFrequency(r) {
			return r
		}
	}
	return nil
}

// pruneCampaigns drops uses of campaigns no longer in the program and of those that
// ended more than CampaignUseRetention before now.
func (e *eval) pruneCampaigns() {
	for id := range e.st.Campaigns {
		c := campaignByID(e.p, id)
		if c == nil || (!c.EndsAt.IsZero() && e.now.Sub(c.EndsAt) > CampaignUseRetention) {
			delete(e.st.Campaigns, id)
		}
	}
	if len(e.st.Campaigns) == 0 {
		e.st.Campaigns = nil
	}
}

func campaignByID(p *program.Program, id string) *program.Campaign {
	for i := range p.Campaigns {
		if p.Campaigns[i].ID == id {
			return &p.Campaigns[i]
		}
	}
	return nil
}
