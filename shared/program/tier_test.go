package program

import "testing"

func TestTiers(t *testing.T) {
	p := &Program{Tiers: []Tier{
		{Name: "base", Threshold: 0, Multiplier: RatioInt(1)},
		{Name: "silver", Threshold: 5000, Multiplier: MustRatio("1.25")},
		{Name: "gold", Threshold: 20000, Multiplier: MustRatio("1.5")},
	}}
	for name, want := range map[string]int{"base": 0, "silver": 1, "gold": 2, "platinum": -1, "": -1} {
		if got := p.TierIndex(name); got != want {
			t.Errorf("TierIndex(%q) = %d, want %d", name, got, want)
		}
	}
	for _, tt := range []struct {
		q    int64
		want string // "" = none
	}{{-1, ""}, {0, "base"}, {4999, "base"}, {5000, "silver"}, {19999, "silver"}, {20000, "gold"}, {1 << 62, "gold"}} {
		got, ok := p.TierFor(tt.q)
		if ok != (tt.want != "") || got.Name != tt.want {
			t.Errorf("TierFor(%d) = %q, %v; want %q", tt.q, got.Name, ok, tt.want)
		}
	}
	if _, ok := (&Program{}).TierFor(100); ok {
		t.Error("TierFor with no tiers reported a tier")
	}
}
