package ledger

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/rules"
)

// pending books a pending lot of pts points, available at avl.
func (b *book) pending(id string, pts int64, avl, expires *time.Time) *Entry {
	d, lot := b.m.Credit(pts, LotPending)
	lot.AvailableAt, lot.ExpiresAt = avl, expires
	e := &Entry{Kind: KindEarn, Points: pts, Delta: d, Lot: lot, PaymentRef: PaymentRef{PaymentID: id, Currency: "RUB"}}
	b.m.Apply(e)
	b.entries = append(b.entries, e)
	b.m.LowerRelease(*avl)
	return e
}

func TestMerge(t *testing.T) {
	p := opsProgram(t) // tiers base (0) and gold (1000)
	type setup struct{ s, a *book }
	cases := []struct {
		name  string
		setup func(x setup)
		// The absorbed member's available lots (remaining) expiring in 10
		// and 30 days, a pending lot; the survivor's lots expiring in 5 and
		// 20 days.
		aSpent         [2]int64
		aPending       int64
		sSpent         [2]int64
		aDebt, sDebt   int64
		holds          int
		maxItems       int
		wantErr        error
		wantAvailable  int64 // the survivor's
		wantPending    int64
		wantDebt       int64
		wantLots       []int64 // the survivor's new lot entries' remaining, in booking order
		wantOwnLots    []int64 // the survivor's own lots after (5 days, 20 days)
		wantTier       string
		wantQualifying int64
	}{
		{name: "open lots move with their dates; balances summed",
			aPending: 40, wantAvailable: 150 + 70, wantPending: 40, wantLots: []int64{50, 100, 40}, wantOwnLots: []int64{30, 40},
			wantTier: "base", wantQualifying: 300},
		{name: "spent lots stay behind",
			aSpent: [2]int64{50, 60}, wantAvailable: 40 + 70, wantLots: []int64{40}, wantOwnLots: []int64{30, 40}, wantTier: "base", wantQualifying: 300},
		{name: "the survivor's debt is repaid by the moved points first, earliest expiry first",
			sSpent: [2]int64{30, 40}, sDebt: 60, wantAvailable: 150 - 60, wantLots: []int64{0, 90}, wantOwnLots: []int64{0, 0}, wantTier: "base", wantQualifying: 300},
		{name: "the absorbed member's debt is carried and repaid from the survivor's lots at once",
			aSpent: [2]int64{50, 100}, aDebt: 35, aPending: 10,
			wantAvailable: 70 - 35, wantPending: 10, wantLots: []int64{10}, wantOwnLots: []int64{0, 35}, wantTier: "base", wantQualifying: 300},
		{name: "debt beyond the survivor's lots stays debt",
			aSpent: [2]int64{50, 100}, aDebt: 100,
			wantAvailable: 70 - 100, wantDebt: 30, wantOwnLots: []int64{0, 0}, wantTier: "base", wantQualifying: 300},
		{name: "both in debt: the debts add up",
			aSpent: [2]int64{50, 100}, aDebt: 7, sSpent: [2]int64{30, 40}, sDebt: 5,
			wantAvailable: -12, wantDebt: 12, wantOwnLots: []int64{0, 0}, wantTier: "base", wantQualifying: 300},
		{name: "the higher tier of the two",
			setup:         func(x setup) { x.a.m.Rules.Tier = "gold" },
			wantAvailable: 220, wantLots: []int64{50, 100}, wantOwnLots: []int64{30, 40}, wantTier: "gold", wantQualifying: 300},
		{name: "summed qualifying points that reach a tier upgrade at once",
			setup:         func(x setup) { x.a.m.Rules.Qualifying = 900 },
			wantAvailable: 220, wantLots: []int64{50, 100}, wantOwnLots: []int64{30, 40}, wantTier: "gold", wantQualifying: 1000},
		{name: "exactly the items a transaction has left", maxItems: 4,
			wantAvailable: 220, wantLots: []int64{50, 100}, wantOwnLots: []int64{30, 40}, wantTier: "base", wantQualifying: 300},
		{name: "more lots than a transaction holds", maxItems: 3, wantErr: ErrMergeLimit},
		{name: "debt repayment counts in the items", aSpent: [2]int64{50, 100}, aDebt: 35, aPending: 10, maxItems: 3, wantErr: ErrMergeLimit},
		{name: "open holds of the absorbed member", holds: 1, wantErr: ErrMergeBlocked},
		{name: "points held by an open hold", setup: func(x setup) { x.a.m.Held, x.a.m.Available = 5, x.a.m.Available-5 }, wantErr: ErrMergeBlocked},
		{name: "points in review", setup: func(x setup) {
			d, lot := x.a.m.Credit(9, LotReview)
			e := &Entry{Kind: KindEarn, Points: 9, Delta: d, Lot: lot}
			x.a.m.Apply(e)
			x.a.entries = append(x.a.entries, e)
		}, wantErr: ErrMergeBlocked},
		{name: "itself", setup: func(x setup) { x.a.m.ID = x.s.m.ID }, wantErr: ErrMergeSame},
		{name: "an absorbed member again", setup: func(x setup) { x.a.m.Status, x.a.m.MergedInto = StatusMerged, "t" }, wantErr: ErrAlreadyMerged},
		{name: "into an absorbed member", setup: func(x setup) { x.s.m.Status, x.s.m.MergedInto = StatusMerged, "t" }, wantErr: ErrAlreadyMerged},
		{name: "suspended survivor", setup: func(x setup) { x.s.m.Status = StatusSuspended }, wantErr: ErrMemberInactive},
		{name: "suspended absorbed member", setup: func(x setup) { x.a.m.Status = StatusSuspended }, wantErr: ErrMemberInactive},
		{name: "absorbed member being erased", setup: func(x setup) { x.a.m.Status = StatusErasing }, wantErr: ErrMemberInactive},
		{name: "erased survivor", setup: func(x setup) { x.s.m.Status = StatusErased }, wantErr: ErrMemberInactive},
		{name: "more absorbed ids than a member holds", setup: func(x setup) {
			x.s.m.Absorbed = []string{"x1", "x2", "x3", "x4", "x5", "x6"}
			x.a.m.Absorbed = []string{"y1", "y2", "y3", "y4"}
		}, wantErr: ErrMergeLimit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &book{m: NewMember("telco", "s", []string{"vip"}, now)}
			s5 := s.earn("s-5", 0, 30, tc.sSpent[0], at(5))
			s20 := s.earn("s-20", 0, 40, tc.sSpent[1], at(20))
			s.clawBack(tc.sDebt)
			s.m.Rules.Qualifying, s.m.Rules.Tier = 100, "base"
			a := &book{m: NewMember("telco", "a", []string{"app", "vip"}, now.Add(-time.Hour))}
			a30 := a.earn("a-30", 0, 100, tc.aSpent[1], at(30))
			a10 := a.earn("a-10", 0, 50, tc.aSpent[0], at(10))
			aLots := []*Entry{a30, a10}
			if tc.aPending > 0 {
				aLots = append(aLots, a.pending("a-p", tc.aPending, at(3), at(40)))
			}
			a.clawBack(tc.aDebt)
			a.m.Rules.Qualifying = 200
			a.m.Activities = map[string]int64{"autopay_enabled": 1}
			a.m.LastActivity = now.Add(time.Minute)
			a.m.Absorbed = []string{"older"}
			if tc.setup != nil {
				tc.setup(setup{s, a})
			}
			sBefore, aBefore := s.m, a.m
			all := append(slices.Clone(aLots), s5, s20)
			remBefore := remaining(all)

			x, err := Merge(&s.m, &a.m, aLots, []*Entry{s20, s5}, tc.holds, p,
				MergeRequest{Reason: "one person", Actor: "key_1", MaxItems: tc.maxItems}, now)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if !sameMember(s.m, sBefore) || !sameMember(a.m, aBefore) || a.m.Status != aBefore.Status || !equalInts(remaining(all), remBefore) {
					t.Fatalf("a refused merge changed something: survivor %+v, absorbed %+v", s.m, a.m)
				}
				return
			}
			if s.m.Available != tc.wantAvailable || s.m.Pending != tc.wantPending || s.m.Debt != tc.wantDebt {
				t.Fatalf("survivor's balances %+v, want available %d, pending %d, debt %d", s.m.Balances, tc.wantAvailable, tc.wantPending, tc.wantDebt)
			}
			if s.m.Lifetime != sBefore.Lifetime+aBefore.Lifetime {
				t.Fatalf("lifetime %d, want %d + %d", s.m.Lifetime, sBefore.Lifetime, aBefore.Lifetime)
			}
			if a.m.Balances != (Balances{}) || a.m.Status != StatusMerged || a.m.MergedInto != "s" || a.m.Absorbed != nil || a.m.Due != 0 || a.m.ReleaseAt != 0 {
				t.Fatalf("absorbed member after: %+v", a.m)
			}
			if !slices.Equal(s.m.Absorbed, []string{"a", "older"}) {
				t.Fatalf("absorbed ids %v", s.m.Absorbed)
			}
			// Each open lot moved, earliest expiry first, with its dates; the
			// absorbed lot is empty and says where its points went.
			var got []int64
			for i, e := range x.Lots {
				got = append(got, e.Remaining)
				src := x.Moved[i]
				if e.Kind != KindMerge || e.Counterpart != "a" || e.CounterpartSeq != src.Seq || e.Breakdown[0].Kind != rules.KindMerge || e.Breakdown[0].Rule != MergeLot {
					t.Fatalf("lot entry %+v", e)
				}
				if src.Remaining != 0 || src.State != LotNone || src.MovedTo == nil || *src.MovedTo != (LotMove{MemberID: "s", EntrySeq: e.Seq}) {
					t.Fatalf("absorbed lot after: %+v", src.Lot)
				}
				if e.Remaining > 0 && (!sameTime(e.ExpiresAt, src.ExpiresAt) || !sameTime(e.AvailableAt, src.AvailableAt)) {
					t.Fatalf("moved lot's dates %v/%v, were %v/%v", e.ExpiresAt, e.AvailableAt, src.ExpiresAt, src.AvailableAt)
				}
				if i > 0 && expiresBefore(x.Moved[i], x.Moved[i-1]) {
					t.Fatal("lots not moved earliest expiry first")
				}
			}
			if !equalInts(got, tc.wantLots) || !equalInts([]int64{s5.Remaining, s20.Remaining}, tc.wantOwnLots) {
				t.Fatalf("survivor's new lots %v (want %v), own lots %d, %d (want %v)", got, tc.wantLots, s5.Remaining, s20.Remaining, tc.wantOwnLots)
			}
			if tc.aPending > 0 && (s.m.ReleaseAt == 0 || s.m.ReleaseAt > at(3).UnixNano()) {
				t.Fatalf("survivor's next release %d: the moved pending lot's is at %v", s.m.ReleaseAt, at(3))
			}
			in, out := x.In, x.Out
			if in.Kind != KindMerge || in.Counterpart != "a" || in.CounterpartSeq != out.Seq || in.Reason != "one person" || in.Actor != "key_1" ||
				out.Kind != KindMerge || out.Counterpart != "s" || out.CounterpartSeq != in.Seq || out.Reason != "one person" ||
				in.Seq != s.m.Seq || out.Seq != a.m.Seq {
				t.Fatalf("closing entries: in %+v, out %+v", in, out)
			}
			// Breakdowns sum to the entries' points; the two sides mirror each other.
			var sPoints int64
			for _, e := range append(slices.Clone(x.Lots), in) {
				var sum int64
				for _, l := range e.Breakdown {
					sum += l.Points
				}
				if sum != e.Points {
					t.Fatalf("entry %d: breakdown sums to %d, points %d", e.Seq, sum, e.Points)
				}
				sPoints += e.Points
			}
			if sPoints != -out.Points {
				t.Fatalf("the survivor gained %d points, the absorbed member gave %d", sPoints, -out.Points)
			}
			if s.m.Rules.Tier != tc.wantTier || s.m.Rules.Qualifying != tc.wantQualifying || a.m.Rules.Qualifying != 0 {
				t.Fatalf("tier %q, qualifying %d (absorbed %d); want %q, %d", s.m.Rules.Tier, s.m.Rules.Qualifying, a.m.Rules.Qualifying, tc.wantTier, tc.wantQualifying)
			}
			if !slices.Equal(s.m.Rules.Tags, []string{"vip", "app"}) || s.m.Activities["autopay_enabled"] != 1 || !s.m.LastActivity.Equal(now.Add(time.Minute)) {
				t.Fatalf("tags %v, activities %v, last activity %v", s.m.Rules.Tags, s.m.Activities, s.m.LastActivity)
			}
			// Invariants 1 and 4 on both members: every lot, every entry.
			s.check(t, append(slices.Clone(x.Lots), in)...)
			a.check(t, out)
		})
	}
}
