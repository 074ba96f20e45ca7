package ledger

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// importProgram: tiers base/silver/gold over a 365-day window, points expire
// 365 days after they are earned, a streak rule of 3 telecom periods.
func importProgram() *program.Program {
	p := &program.Program{
		Name: "t", Timezone: "Europe/Moscow",
		Tiers: []program.Tier{
			{Name: "base", Threshold: 0}, {Name: "silver", Threshold: 5000}, {Name: "gold", Threshold: 20000},
		},
		QualifyingWindowDays: 365,
		Expiry:               program.Expiry{RollingDays: 365, WarnDays: 30},
		Streaks:              []program.StreakRule{{ID: "s3", Periods: 3, Bonus: 300, Categories: []string{"telecom"}}},
	}
	return p
}

func ptr[T any](v T) *T { return &v }

func history(id string, paid time.Time, points int64, period string) HistoryPayment {
	h := HistoryPayment{Payment: payment.Payment{Type: payment.TypeSucceeded, PaymentID: id, Time: paid,
		AmountMinor: 129900, Currency: "RUB", Category: "telecom"}, Points: points}
	if period != "" {
		h.Recurring = &payment.Recurring{SubscriptionID: "plan-7", Period: period, DueDate: period + "-10"}
	}
	return h
}

// entrySum is what an import's entries say, for the table below.
type entrySum struct {
	kinds []string // breakdown rule of each entry, in order
	lifes []int64  // Delta.Lifetime of each entry
}

func summarize(es []Entry) entrySum {
	var s entrySum
	for _, e := range es {
		s.kinds = append(s.kinds, e.Breakdown[0].Rule)
		s.lifes = append(s.lifes, e.Delta.Lifetime)
	}
	return s
}

func TestImport(t *testing.T) {
	exp := now.AddDate(0, 3, 0)
	avl := now.AddDate(0, 0, 14)
	cases := []struct {
		name         string
		prog         func(*program.Program)
		o            Opening
		wantBal      Balances
		wantQual     int64
		wantTier     string
		want         entrySum
		wantStreaks  map[string]rules.Streak
		wantLastAct  time.Time
		wantStatus   Status
		checkEntries func(t *testing.T, es []Entry)
	}{
		{
			name: "lots only: lifetime defaults to the lots, tier from 0 qualifying",
			o: Opening{MemberID: "m", Available: []OpeningLot{{Points: 500, ExpiresAt: &exp}, {Points: 200}},
				Pending: []OpeningLot{{Points: 300, AvailableAt: &avl}}},
			wantBal:  Balances{Available: 700, Pending: 300, Lifetime: 1000},
			wantTier: "base",
			want:     entrySum{kinds: []string{"available", "available", "pending"}, lifes: []int64{1000, 0, 0}},
			checkEntries: func(t *testing.T, es []Entry) {
				if !es[0].ExpiresAt.Equal(exp) || es[0].State != LotAvailable || es[0].Remaining != 500 || es[0].Points != 500 {
					t.Errorf("first lot %+v", es[0].Lot)
				}
				// No expiry given: the program's rule, as if earned at the import.
				if want := now.AddDate(0, 0, 365); es[1].ExpiresAt == nil || !es[1].ExpiresAt.Equal(want) {
					t.Errorf("second lot expires %v, want %v", es[1].ExpiresAt, want)
				}
				if es[2].State != LotPending || !es[2].AvailableAt.Equal(avl) || es[2].Delta.Pending != 300 {
					t.Errorf("pending lot %+v, delta %+v", es[2].Lot, es[2].Delta)
				}
				if len(es[0].Breakdown) != 2 || es[0].Breakdown[1].Rule != ImportLifetime || es[0].Breakdown[1].Points != 0 || es[0].QualifiesForTier() {
					t.Errorf("the lifetime points on the first lot's entry: %+v", es[0])
				}
			},
		},
		{
			name: "lifetime, qualifying and tier given",
			o: Opening{MemberID: "m", Tier: "gold", Available: []OpeningLot{{Points: 1500}},
				Lifetime: ptr[int64](42000), Qualifying: 7000},
			wantBal: Balances{Available: 1500, Lifetime: 42000}, wantQual: 7000, wantTier: "gold",
			want: entrySum{kinds: []string{"available", "qualifying"}, lifes: []int64{35000, 7000}},
			checkEntries: func(t *testing.T, es []Entry) {
				if !es[1].PaidAt.Equal(now) || !es[1].QualifiesForTier() || es[0].QualifiesForTier() {
					t.Errorf("qualifying entry %+v", es[1])
				}
			},
		},
		{
			name:    "tier omitted: the one the qualifying points reach",
			o:       Opening{MemberID: "m", Qualifying: 6000},
			wantBal: Balances{Lifetime: 6000}, wantQual: 6000, wantTier: "silver",
			want: entrySum{kinds: []string{"qualifying"}, lifes: []int64{6000}},
		},
		{
			name: "history: points in the window dated by payment, older ones lifetime only; streaks replayed",
			o: Opening{MemberID: "m", Lifetime: ptr[int64](10000), Qualifying: 100, Payments: []HistoryPayment{
				history("p-10", time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC), 130, "2026-10"),
				history("p-old", time.Date(2025, 9, 1, 9, 0, 0, 0, time.UTC), 400, ""), // before the window
				history("p-8", time.Date(2026, 8, 1, 9, 0, 0, 0, time.UTC), 120, "2026-08"),
				history("p-9", time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC), 0, "2026-09"),
			}},
			wantBal: Balances{Lifetime: 10000}, wantQual: 100 + 120 + 130, wantTier: "base",
			want:        entrySum{kinds: []string{"qualifying", "qualifying", "qualifying", "lifetime"}, lifes: []int64{100, 120, 130, 10000 - 350}},
			wantStreaks: map[string]rules.Streak{rules.StreakKey("s3", "plan-7"): {LastPeriod: "2026-10", Count: 3}},
			checkEntries: func(t *testing.T, es []Entry) {
				if es[1].PaymentID != "p-8" || !es[1].PaidAt.Equal(time.Date(2026, 8, 1, 9, 0, 0, 0, time.UTC)) || es[1].Points != 0 {
					t.Errorf("history entry %+v", es[1])
				}
				if es[1].Recurring == nil || es[1].Currency != "RUB" || es[1].AmountMinor != 129900 {
					t.Errorf("history entry's payment %+v", es[1].PaymentRef)
				}
			},
		},
		{
			name: "no qualifying window: history points count at the import",
			prog: func(p *program.Program) { p.QualifyingWindowDays = 0 },
			o: Opening{MemberID: "m", Payments: []HistoryPayment{
				history("p-old", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), 400, ""), history("p-new", now.Add(-time.Hour), 100, ""),
			}},
			wantBal: Balances{Lifetime: 500}, wantQual: 500, wantTier: "base",
			want: entrySum{kinds: []string{"qualifying"}, lifes: []int64{500}},
		},
		{
			name:    "no tiers: nothing dated, tier empty",
			prog:    func(p *program.Program) { p.Tiers = nil },
			o:       Opening{MemberID: "m", Qualifying: 50, Payments: []HistoryPayment{history("p", now.Add(-time.Hour), 10, "")}},
			wantBal: Balances{Lifetime: 60}, wantQual: 60,
			want: entrySum{kinds: []string{"qualifying"}, lifes: []int64{60}},
		},
		{
			name:    "suspended, last activity and tags kept",
			o:       Opening{MemberID: "m", Tags: []string{"vip"}, Status: StatusSuspended, LastActivity: ptr(now.AddDate(0, -2, 0)), Available: []OpeningLot{{Points: 1}}},
			wantBal: Balances{Available: 1, Lifetime: 1}, wantTier: "base", wantStatus: StatusSuspended, wantLastAct: now.AddDate(0, -2, 0),
			want: entrySum{kinds: []string{"available"}, lifes: []int64{1}},
		},
		{
			name:    "nothing at all: a member without entries",
			o:       Opening{MemberID: "m"},
			wantBal: Balances{}, wantTier: "base",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := importProgram()
			if tc.prog != nil {
				tc.prog(p)
			}
			m, es, err := Import("telco", p, tc.o, "imp_1/7", now)
			if err != nil {
				t.Fatal(err)
			}
			if err := Check(m, es); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if m.Balances != tc.wantBal || m.Rules.Qualifying != tc.wantQual || m.Rules.Tier != tc.wantTier {
				t.Fatalf("balances %+v qualifying %d tier %q, want %+v %d %q", m.Balances, m.Rules.Qualifying, m.Rules.Tier, tc.wantBal, tc.wantQual, tc.wantTier)
			}
			if got := summarize(es); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("entries %+v, want %+v", got, tc.want)
			}
			for i, e := range es {
				if e.Kind != KindImport || e.Seq != int64(i+1) || !e.At.Equal(now) || e.PartnerID != "telco" || e.MemberID != "m" {
					t.Fatalf("entry %d: %+v", i, e)
				}
				if len(e.Breakdown) == 0 || e.Breakdown[0].Kind != rules.KindImport || e.Breakdown[0].Points != e.Points {
					t.Fatalf("entry %d breakdown %+v (points %d)", i, e.Breakdown, e.Points)
				}
			}
			if !reflect.DeepEqual(m.Rules.Streaks, tc.wantStreaks) {
				t.Fatalf("streaks %+v, want %+v", m.Rules.Streaks, tc.wantStreaks)
			}
			wantStatus, wantLast := tc.wantStatus, tc.wantLastAct
			if wantStatus == "" {
				wantStatus = StatusActive
			}
			if wantLast.IsZero() {
				wantLast = now
			}
			if m.Status != wantStatus || !m.LastActivity.Equal(wantLast) || !m.CreatedAt.Equal(now) || m.ImportRef != "imp_1/7" || m.Version != 1 {
				t.Fatalf("member %+v", m)
			}
			if tc.checkEntries != nil {
				tc.checkEntries(t, es)
			}
		})
	}
}

func TestImportRefuses(t *testing.T) {
	past := now.Add(-time.Second)
	many := make([]OpeningLot, MaxImportEntries)
	for i := range many {
		many[i] = OpeningLot{Points: 1}
	}
	cases := []struct {
		name  string
		prog  func(*program.Program)
		o     Opening
		field string
	}{
		{"unknown tier", nil, Opening{MemberID: "m", Tier: "platinum"}, "tier"},
		{"a tier without tiers", func(p *program.Program) { p.Tiers = nil }, Opening{MemberID: "m", Tier: "gold"}, "tier"},
		{"erased status", nil, Opening{MemberID: "m", Status: StatusErased}, "status"},
		{"an expired lot", nil, Opening{MemberID: "m", Available: []OpeningLot{{Points: 1}, {Points: 5, ExpiresAt: &past}}}, "available[1].expires_at"},
		{"a lot expiring at the import", nil, Opening{MemberID: "m", Pending: []OpeningLot{{Points: 5, AvailableAt: &past, ExpiresAt: &now}}}, "pending[0].expires_at"},
		{"pending without release time", nil, Opening{MemberID: "m", Pending: []OpeningLot{{Points: 5}}}, "pending[0].available_at"},
		{"zero points", nil, Opening{MemberID: "m", Available: []OpeningLot{{Points: 0}}}, "available[0].points"},
		{"lifetime below the lots", nil, Opening{MemberID: "m", Lifetime: ptr[int64](9), Available: []OpeningLot{{Points: 10}}}, "lifetime"},
		{"lifetime below qualifying and history", nil, Opening{MemberID: "m", Lifetime: ptr[int64](100), Qualifying: 60,
			Payments: []HistoryPayment{history("p", now.AddDate(-3, 0, 0), 50, "")}}, "lifetime"},
		{"a payment after the import", nil, Opening{MemberID: "m", Payments: []HistoryPayment{history("p", now.Add(time.Second), 1, "")}}, "payments[0].paid_at"},
		{"last activity after the import", nil, Opening{MemberID: "m", LastActivity: ptr(now.Add(time.Second))}, "last_activity"},
		{"negative qualifying", nil, Opening{MemberID: "m", Qualifying: -1}, "qualifying"},
		{"too many entries", nil, Opening{MemberID: "m", Available: many, Qualifying: 5}, "available"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := importProgram()
			if tc.prog != nil {
				tc.prog(p)
			}
			_, _, err := Import("telco", p, tc.o, "imp_1/1", now)
			var ie *ImportError
			if !errors.As(err, &ie) || ie.Field != tc.field || ie.Reason == "" {
				t.Fatalf("err %v, want an ImportError on %s", err, tc.field)
			}
		})
	}
}
