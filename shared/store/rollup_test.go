package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// The partner registry: a new partner is registered with its creation time,
// which later program updates keep; a partner created before the registry
// existed is registered (preexisting) by its next PutProgram.
func TestPartnerRegistry(t *testing.T) {
	clock := newStepClock()
	e := newEnv(t, nil, clock.option())
	ctx := context.Background()
	p, err := program.Parse([]byte(testProgram))
	if err != nil {
		t.Fatal(err)
	}
	for _, partner := range []string{"zeta", "alpha"} {
		if _, err := e.st.PutProgram(ctx, partner, p); err != nil {
			t.Fatal(err)
		}
		clock.advance(time.Hour)
	}
	if _, err := e.st.PutProgram(ctx, "zeta", p); err != nil { // an update keeps the creation time
		t.Fatal(err)
	}
	want := []store.PartnerRecord{
		{PartnerID: "alpha", CreatedAt: t0.Add(time.Hour)},
		{PartnerID: "zeta", CreatedAt: t0},
	}
	if got := partners(t, e); !reflect.DeepEqual(got, want) {
		t.Fatalf("registry = %+v, want %+v", got, want)
	}

	// A partner of before the registry: its program exists, its entry not.
	if _, err := e.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(e.table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "OPS#PARTNERS"}, "sk": &types.AttributeValueMemberS{Value: "alpha"},
	}}); err != nil {
		t.Fatal(err)
	}
	clock.advance(24 * time.Hour)
	v, err := e.st.PutProgram(ctx, "alpha", p)
	if err != nil || v != 2 {
		t.Fatalf("put program of alpha: version %d, %v", v, err)
	}
	want[0] = store.PartnerRecord{PartnerID: "alpha", CreatedAt: t0.Add(26 * time.Hour), Preexisting: true}
	if got := partners(t, e); !reflect.DeepEqual(got, want) {
		t.Fatalf("registry = %+v, want %+v", got, want)
	}
	if rec, found, err := e.st.Partner(ctx, "alpha"); err != nil || !found || rec != want[0] {
		t.Fatalf("Partner(alpha) = %+v, %v, %v", rec, found, err)
	}
	if _, found, err := e.st.Partner(ctx, "nobody"); err != nil || found {
		t.Fatalf("Partner(nobody): found %v, %v", found, err)
	}
	// RegisterPartner (the local stack's kept demo partner) changes nothing
	// for a registered partner.
	clock.advance(time.Hour)
	for _, partner := range []string{"alpha", "zeta"} {
		if err := e.st.RegisterPartner(ctx, partner); err != nil {
			t.Fatal(err)
		}
	}
	if got := partners(t, e); !reflect.DeepEqual(got, want) {
		t.Fatalf("registry after RegisterPartner = %+v, want %+v", got, want)
	}
}

func partners(t *testing.T, e *env) []store.PartnerRecord {
	t.Helper()
	rs, err := e.st.Partners(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range rs {
		rs[i].CreatedAt = rs[i].CreatedAt.UTC()
	}
	return rs
}

// Every entry is in the day index under DayPartition(partner, its UTC day,
// DayBucket(member)), with the attributes the roll-up reads.
func TestDayEntries(t *testing.T) {
	clock := newStepClock()
	e := newEnv(t, map[string]string{"telco": testProgram, "other": testProgram}, clock.option())
	ctx := context.Background()
	clock.set(14*time.Hour - time.Nanosecond) // 2026-11-05T23:59:59.999999999Z
	mustApply(t, e.st, pay("telco", "cust-1", "pay-1", 120000))
	mustApply(t, e.st, pay("other", "cust-1", "pay-1", 990000))
	clock.advance(time.Nanosecond) // 2026-11-06T00:00:00Z
	if _, _, err := e.st.Adjust(ctx, "telco", "cust-1", ledger.Adjustment{Points: -5, Reason: "test", Actor: "key"}); err != nil {
		t.Fatal(err)
	}

	read := func(partner, day string) []store.DayEntry {
		var all []store.DayEntry
		for b := range store.DayBuckets {
			err := e.st.DayEntries(ctx, partner, day, b, func(es []store.DayEntry) error {
				if len(es) > 0 && b != store.DayBucket(partner, "cust-1") {
					t.Errorf("entries of cust-1 in bucket %d, want %d", b, store.DayBucket(partner, "cust-1"))
				}
				all = append(all, es...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := range all {
			all[i].At = all[i].At.UTC()
		}
		return all
	}
	got := read("telco", "2026-11-05")
	want := []store.DayEntry{{PartnerID: "telco", MemberID: "cust-1", Kind: ledger.KindEarn, At: t0.Add(14*time.Hour - time.Nanosecond), Points: 12,
		Delta: ledger.Balances{Available: 12, Lifetime: 12}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("telco 2026-11-05 = %+v, want %+v", got, want)
	}
	got = read("telco", "2026-11-06")
	want = []store.DayEntry{{PartnerID: "telco", MemberID: "cust-1", Kind: ledger.KindAdjust, At: t0.Add(14 * time.Hour), Points: -5,
		Delta: ledger.Balances{Available: -5}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("telco 2026-11-06 = %+v, want %+v", got, want)
	}
	if got := read("other", "2026-11-05"); len(got) != 1 || got[0].PartnerID != "other" || got[0].Points != 99 {
		t.Fatalf("other 2026-11-05 = %+v", got)
	}
	if got := read("other", "2026-11-06"); len(got) != 0 {
		t.Fatalf("other 2026-11-06 = %+v", got)
	}
	for _, at := range []time.Time{t0, t0.Add(20 * time.Hour)} {
		if k, p := store.DayKey("telco", "P#telco#M#cust-1", at), store.DayPartition("telco", at.UTC().Format(time.DateOnly), store.DayBucket("telco", "cust-1")); k != p {
			t.Fatalf("DayKey %s != DayPartition %s", k, p)
		}
	}
	if err := e.st.DayEntries(ctx, "telco", "2026-11-05", store.DayBuckets, func([]store.DayEntry) error { return nil }); err == nil {
		t.Fatal("bucket out of range accepted")
	}
}

// The roll-up state moves only from the version read; figures so far never
// replace final figures nor later figures so far.
func TestRollupStateConditions(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": testProgram})
	ctx := context.Background()
	if _, found, err := e.st.RollupState(ctx, "telco"); err != nil || found {
		t.Fatalf("state before any close: found %v, %v", found, err)
	}
	at := func(h int) time.Time { return time.Date(2026, 11, 5, h, 0, 0, 0, time.UTC) }
	day := func(d string, final bool, asOf time.Time, issued int64) store.DayStats {
		return store.DayStats{Day: d, Issued: issued, Outstanding: issued, Liability: "1", Currency: "RUB", Final: final, AsOf: asOf}
	}
	// Figures so far of 11-05, then later ones; earlier ones are refused.
	if err := e.st.PutDayStats(ctx, "telco", 0, day("2026-11-05", false, at(10), 1)); err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutDayStats(ctx, "telco", 0, day("2026-11-05", false, at(11), 2)); err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutDayStats(ctx, "telco", 0, day("2026-11-05", false, at(9), 3)); !errors.Is(err, store.ErrRollupMoved) {
		t.Fatalf("earlier figures so far: %v", err)
	}
	// Close 11-05 from "no state".
	next := store.RollupState{Closed: "2026-11-05", Through: at(24), Outstanding: 4}
	if err := e.st.CloseDay(ctx, "telco", 0, day("2026-11-05", true, at(24), 4), next); err != nil {
		t.Fatal(err)
	}
	// The same close again (a concurrent run that read no state) is refused.
	if err := e.st.CloseDay(ctx, "telco", 0, day("2026-11-05", true, at(24), 5), next); !errors.Is(err, store.ErrRollupMoved) {
		t.Fatalf("second close from version 0: %v", err)
	}
	// Figures so far computed before the close are refused (old state, final item).
	if err := e.st.PutDayStats(ctx, "telco", 0, day("2026-11-05", false, at(23), 6)); !errors.Is(err, store.ErrRollupMoved) {
		t.Fatalf("figures so far from the old state: %v", err)
	}
	if err := e.st.PutDayStats(ctx, "telco", 1, day("2026-11-05", false, at(23), 6)); !errors.Is(err, store.ErrRollupMoved) {
		t.Fatalf("figures so far over final figures: %v", err)
	}
	if err := e.st.CloseDay(ctx, "telco", 1, day("2026-11-05", false, at(24), 4), next); err == nil {
		t.Fatal("CloseDay accepted figures that are not final")
	}
	st, found, err := e.st.RollupState(ctx, "telco")
	if err != nil || !found {
		t.Fatalf("state: %v %v", found, err)
	}
	st.Through = st.Through.UTC()
	if want := (store.RollupState{Closed: "2026-11-05", Through: at(24), Outstanding: 4, Version: 1}); st != want {
		t.Fatalf("state = %+v, want %+v", st, want)
	}
	days, err := e.st.Stats(ctx, "telco", "2026-11-01", "2026-11-30")
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 1 || !days[0].Final || days[0].Issued != 4 {
		t.Fatalf("stats = %+v", days)
	}
}
