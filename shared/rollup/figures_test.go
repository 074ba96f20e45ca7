package rollup_test

import (
	"errors"
	"math"
	"testing"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rollup"
)

// Each kind of entry the ledger books, with the delta it books (see
// shared/ledger and shared/store), lands in exactly the figures of the
// package doc.
func TestFiguresOfEntries(t *testing.T) {
	type B = ledger.Balances
	cases := []struct {
		name   string
		kind   ledger.Kind
		points int64
		delta  B
		want   rollup.Figures
		active bool
	}{
		{"earn, available", ledger.KindEarn, 12, B{Available: 12, Lifetime: 12}, rollup.Figures{Issued: 12, Net: 12}, true},
		{"earn repaying debt", ledger.KindEarn, 12, B{Available: 12, Debt: -5, Lifetime: 12}, rollup.Figures{Issued: 12, Net: 12, DebtChange: -5}, true},
		{"earn, pending", ledger.KindEarn, 12, B{Pending: 12, Lifetime: 12}, rollup.Figures{Issued: 12, Net: 12}, true},
		{"earn held for review", ledger.KindEarn, 12, B{Review: 12}, rollup.Figures{}, true},
		{"activity", ledger.KindBonus, 10, B{Available: 10, Lifetime: 10}, rollup.Figures{Issued: 10, Net: 10}, true},
		{"manual credit", ledger.KindAdjust, 10, B{Available: 10, Lifetime: 10}, rollup.Figures{Issued: 10, Net: 10}, false},
		{"manual debit", ledger.KindAdjust, -7, B{Available: -7}, rollup.Figures{Debited: 7, Net: -7}, false},
		{"review approved, available", ledger.KindRelease, 12, B{Review: -12, Available: 12, Lifetime: 12}, rollup.Figures{Issued: 12, Net: 12}, false},
		{"review approved, pending", ledger.KindRelease, 12, B{Review: -12, Pending: 12, Lifetime: 12}, rollup.Figures{Issued: 12, Net: 12}, false},
		{"review rejected", ledger.KindReverse, -12, B{Review: -12}, rollup.Figures{}, false},
		{"pending released, repaying debt", ledger.KindRelease, 12, B{Pending: -12, Available: 12, Debt: -3}, rollup.Figures{DebtChange: -3}, false},
		{"hold", ledger.KindRedeem, -5, B{Available: -5, Held: 5}, rollup.Figures{}, true},
		{"capture of a hold", ledger.KindRedeem, 0, B{Held: -5}, rollup.Figures{Redeemed: 5, Net: -5}, true},
		{"immediate capture", ledger.KindRedeem, -5, B{Available: -5}, rollup.Figures{Redeemed: 5, Net: -5}, true},
		{"cancel, repaying debt", ledger.KindRedeem, 5, B{Held: -5, Available: 5, Debt: -2}, rollup.Figures{DebtChange: -2}, false},
		{"expiry", ledger.KindExpire, -9, B{Available: -4, Pending: -5}, rollup.Figures{Expired: 9, Net: -9}, false},
		{"refund with clawback", ledger.KindReverse, -10, B{Available: -10, Debt: 6, Lifetime: -10}, rollup.Figures{Reversed: 10, Net: -10, DebtChange: 6}, false},
		{"refund of pending points", ledger.KindReverse, -10, B{Pending: -10, Lifetime: -10}, rollup.Figures{Reversed: 10, Net: -10}, false},
		{"refund of points held for review", ledger.KindReverse, -10, B{Review: -10}, rollup.Figures{}, false},
		{"transfer sent", ledger.KindTransfer, -15, B{Available: -15}, rollup.Figures{Transferred: -15, Net: -15}, false},
		{"transfer received, repaying debt", ledger.KindTransfer, 15, B{Available: 15, Debt: -4}, rollup.Figures{Transferred: 15, Net: 15, DebtChange: -4}, false},
		{"merge: the absorbed member emptied", ledger.KindMerge, -40, B{Available: -30, Pending: -10, Debt: 0, Lifetime: -70}, rollup.Figures{Transferred: -40, Net: -40}, false},
		{"merge: a lot received, repaying debt", ledger.KindMerge, 30, B{Available: 30, Debt: -5}, rollup.Figures{Transferred: 30, Net: 30, DebtChange: -5}, false},
		{"merge: the survivor's closing entry", ledger.KindMerge, -8, B{Available: -8, Debt: 3, Lifetime: 70}, rollup.Figures{Transferred: -8, Net: -8, DebtChange: 3}, false},
		{"imported available lot", ledger.KindImport, 500, B{Available: 500}, rollup.Figures{Imported: 500, Net: 500}, false},
		{"imported pending lot", ledger.KindImport, 200, B{Pending: 200}, rollup.Figures{Imported: 200, Net: 200}, false},
		{"imported lifetime points: not issued today", ledger.KindImport, 0, B{Lifetime: 9000}, rollup.Figures{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := ledger.Entry{PartnerID: "p", MemberID: "m", Kind: tc.kind, Points: tc.points, Delta: tc.delta}
			got, err := rollup.Of(e)
			if err != nil || got != tc.want {
				t.Fatalf("Of = %+v, %v; want %+v", got, err, tc.want)
			}
			if rollup.Active(e) != tc.active {
				t.Fatalf("Active = %v", !tc.active)
			}
		})
	}
	for _, bad := range []ledger.Entry{
		{Kind: ledger.KindBonus, Delta: ledger.Balances{Pending: 3}},                               // no lifetime
		{Kind: ledger.KindRedeem, Points: -5, Delta: ledger.Balances{Pending: -5}},                 // pending spent
		{Kind: ledger.KindExpire, Delta: ledger.Balances{Held: -5}},                                // held expired
		{Kind: ledger.KindAdjust, Points: 5, Delta: ledger.Balances{Available: 5}},                 // credit without lifetime
		{Kind: ledger.KindRedeem, Points: -5, Delta: ledger.Balances{Available: -5, Lifetime: -5}}, // counted twice
		{Kind: ledger.KindTransfer, Points: 5, Delta: ledger.Balances{Available: 5, Lifetime: 5}},  // received points earned
	} {
		if _, err := rollup.Of(bad); !errors.Is(err, rollup.ErrUnbalanced) {
			t.Errorf("Of(%+v): %v, want ErrUnbalanced", bad, err)
		}
	}
}

func TestLiability(t *testing.T) {
	for _, tc := range []struct {
		value string
		out   int64
		want  string
	}{
		{"10", 35, "350"}, {"0.25", 5390, "1347.5"}, {"0.25", -3, "-0.75"}, {"0.000000001", 7, "0.000000007"}, {"1", 0, "0"},
	} {
		p := &program.Program{PointValue: program.PointValue{Minor: program.MustRatio(tc.value), Currency: "RUB"}}
		if got := rollup.Liability(p, tc.out); got != tc.want {
			t.Errorf("%d × %s = %s, want %s", tc.out, tc.value, got, tc.want)
		}
	}
}

// The stored exact liability is reported in whole minor units, rounded half
// to even once.
func TestReportedLiability(t *testing.T) {
	for _, tc := range []struct {
		stored string
		want   int64
		ok     bool
	}{
		{"350", 350, true}, {"1347.5", 1348, true}, {"1346.5", 1346, true}, {"402.5", 402, true},
		{"-0.75", -1, true}, {"0.000000007", 0, true}, {"0", 0, true}, {"30.75", 31, true},
		{"99999999999999999999", math.MaxInt64, true},
		{"", 0, false}, {"1/2", 0, false}, {"1e3", 0, false}, {"ten", 0, false},
	} {
		got, err := rollup.ReportedLiability(tc.stored)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ReportedLiability(%q) = %d, %v; want %d (ok %v)", tc.stored, got, err, tc.want, tc.ok)
		}
	}
}
