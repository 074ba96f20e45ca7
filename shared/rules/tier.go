package rules

import (
	"math/big"

	"github.com/accrue/accrue/shared/program"
)

// tierIndex is the member's tier: the index of name in p.Tiers, the first tier (0)
// when name is empty or unknown, -1 when the program has no tiers.
func tierIndex(p *program.Program, name string) int {
	if len(p.Tiers) == 0 {
		return -1
	}
	for i := range p.Tiers {
		if p.Tiers[i].Name == name {
			return i
		}
	}
	return 0
}

// tierFor is the highest tier (in list order, which is ascending threshold) whose
// threshold qualifying reaches; 0 when none does, -1 without tiers.
func tierFor(p *program.Program, qualifying int64) int {
	if len(p.Tiers) == 0 {
		return -1
	}
	best := 0
	for i := range p.Tiers {
		if p.Tiers[i].Threshold <= qualifying {
			best = i
		}
	}
	return best
}

// factor is a multiplier as an exact rational: 1 when unset, never negative.
func factor(r program.Ratio) *big.Rat {
	if !r.IsSet() {
		return big.NewRat(1, 1)
	}
	x := r.Rat()
	if x.Sign() < 0 {
		return new(big.Rat)
	}
	return x
}

// extraOver returns base × (m − 1): what multiplier m adds on top of base.
func extraOver(base, m *big.Rat) *big.Rat {
	x := new(big.Rat).Sub(m, big.NewRat(1, 1))
	return x.Mul(x, base)
}
