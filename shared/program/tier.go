package program

// TierIndex returns the position of the named tier in p.Tiers, or -1.
func (p *Program) TierIndex(name string) int {
	for i, t := range p.Tiers {
		if t.Name == name {
			return i
		}
	}
	return -1
}

// TierFor returns the highest tier whose threshold is at most qualifying; false when
// there are no tiers or qualifying is below every threshold (e.g. negative after a
// clawback: callers wanting the base tier then use p.Tiers[0]).
func (p *Program) TierFor(qualifying int64) (Tier, bool) {
	var best Tier
	found := false
	for _, t := range p.Tiers {
		if t.Threshold <= qualifying && (!found || t.Threshold >= best.Threshold) {
			best, found = t, true
		}
	}
	return best, found
}
