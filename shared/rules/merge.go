package rules

import (
	"slices"

	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/satint"
)

// MergeState is the rules state of a member that absorbed another (a member
// merge: two external ids that turned out to be one person), from the
// survivor's state into and the absorbed member's from, under program p. The
// person is one member from now on, so what limits a member counts both:
//
//   - Tier: the higher of the two in the program's order (an empty or unknown
//     tier counts as the first; without tiers, into's). Qualifying: the sum.
//   - Tags: the union, into's first.
//   - Day and month counters (caps): summed when both are of the same day
//     (month); otherwise the later one's, the other being over.
//   - RecentEvents (fraud's events per hour): the union, in time order.
//   - Streaks (per rule and subscription): the union; when both have the same
//     one, the longer (more periods; on a tie, the later last period) —
//     a merge never breaks a streak nor makes one up. At most MaxStreaks
//     are kept (the most recent), as everywhere.
//   - Frequency windows: the union of the payment times in each rule's
//     window, the newest Payments−1 kept (a window holds no more: a merge
//     pays no frequency bonus; the next payment in the window does).
//   - Campaign use: summed per campaign (a per-member limit is the person's).
//
// It is pure: into and from are not written to.
func MergeState(p *program.Program, into, from State) State {
	out := cloneState(into)
	fromTier := tierIndexOrFirst(p, from.Tier)
	if fromTier > tierIndexOrFirst(p, into.Tier) {
		out.Tier = from.Tier
	}
	out.Qualifying = satint.Add(into.Qualifying, from.Qualifying)
	for _, t := range from.Tags {
		if !slices.Contains(out.Tags, t) {
			out.Tags = append(out.Tags, t)
		}
	}
	out.Day, out.DayPoints = MergeCounter(into.Day, into.DayPoints, from.Day, from.DayPoints)
	out.Month, out.MonthPoints = MergeCounter(into.Month, into.MonthPoints, from.Month, from.MonthPoints)
	out.RecentEvents = append(out.RecentEvents, from.RecentEvents...)
	slices.Sort(out.RecentEvents)
	out.Streaks = mergeStreaks(out.Streaks, from.Streaks)
	out.Frequency = mergeFrequency(p, out.Frequency, from.Frequency)
	out.Campaigns = mergeCampaigns(out.Campaigns, from.Campaigns)
	return out
}

// tierIndexOrFirst is name's index in p's tiers; the first tier (0) when
// name is empty or unknown; -1 without tiers.
func tierIndexOrFirst(p *program.Program, name string) int {
	if p == nil {
		return -1
	}
	return tierIndex(p, name)
}

// MergeCounter merges two period counters: the same period sums them, else
// the later period's stands (periods are "2006-01-02" or "2006-01": they
// sort as they follow each other).
func MergeCounter(pa string, a int64, pb string, b int64) (string, int64) {
	switch {
	case pa == pb:
		return pa, satint.Add(a, b)
	case pb > pa:
		return pb, b
	}
	return pa, a
}

func mergeStreaks(into, from map[string]Streak) map[string]Streak {
	if len(from) == 0 {
		return into
	}
	if into == nil {
		into = make(map[string]Streak, len(from))
	}
	for k, s := range from {
		if have, ok := into[k]; !ok || longerStreak(s, have) {
			into[k] = s
		}
	}
	capStreaks(into)
	return into
}

// longerStreak reports whether a is the longer of two streaks of one rule
// and subscription: more periods, or as many and a later last period.
func longerStreak(a, b Streak) bool {
	if a.Count != b.Count {
		return a.Count > b.Count
	}
	pa, oka := parsePeriod(a.LastPeriod)
	pb, okb := parsePeriod(b.LastPeriod)
	if !oka || !okb {
		return oka
	}
	return pa.start().After(pb.start())
}

func mergeFrequency(p *program.Program, into, from map[string][]int64) map[string][]int64 {
	if len(from) == 0 {
		return into
	}
	if into == nil {
		into = make(map[string][]int64, len(from))
	}
	for id, times := range from {
		list := append(into[id], times...)
		slices.Sort(list)
		list = slices.Compact(list)
		if p != nil {
			if r := frequencyRule(p, id); r != nil {
				if extra := len(list) - (r.Payments - 1); extra > 0 {
					list = list[extra:]
				}
			}
		}
		if len(list) == 0 {
			delete(into, id)
			continue
		}
		into[id] = list
	}
	if len(into) == 0 {
		return nil
	}
	return into
}

func mergeCampaigns(into, from map[string]CampaignUse) map[string]CampaignUse {
	if len(from) == 0 {
		return into
	}
	if into == nil {
		into = make(map[string]CampaignUse, len(from))
	}
	for id, u := range from {
		have := into[id]
		into[id] = CampaignUse{Times: satint.Add(have.Times, u.Times), Points: satint.Add(have.Points, u.Points)}
	}
	return into
}
