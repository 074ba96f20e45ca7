package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
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

// A chunk of stream records is applied once: the same chunk again, or one
// starting at or before the shard's progress, is refused (ErrChunkApplied)
// and changes nothing; a later one adds. Shards and partners have their own
// progress and partials.
func TestStreamChunks(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	seq := func(n int) string { s, _ := store.PadSeq(fmt.Sprint(n)); return s }
	chunk := func(shard string, from, to int, days ...string) store.StreamChunk {
		c := store.StreamChunk{Shard: shard, First: seq(from), Last: seq(to)}
		for i, d := range days {
			c.Days = append(c.Days, store.DayDelta{Day: d, Last: seq(to - len(days) + 1 + i), Figures: store.Figures{Issued: int64(to), Net: int64(to), ActiveMembers: 1}})
		}
		return c
	}
	steps := []struct {
		name    string
		partner string
		chunk   store.StreamChunk
		applied bool
	}{
		{"first chunk, two days", "telco", chunk("shard-a", 1, 10, "2026-11-05", "2026-11-06"), true},
		{"the same chunk again", "telco", chunk("shard-a", 1, 10, "2026-11-05", "2026-11-06"), false},
		{"overlapping the progress", "telco", chunk("shard-a", 10, 20, "2026-11-06"), false},
		{"after the progress", "telco", chunk("shard-a", 11, 20, "2026-11-06"), true},
		{"another shard, lower numbers", "telco", chunk("shard-b", 5, 7, "2026-11-06"), true},
		{"another partner, same shard", "other", chunk("shard-a", 1, 10, "2026-11-06"), true},
	}
	for _, st := range steps {
		err := e.st.ApplyStreamChunk(ctx, st.partner, st.chunk)
		if st.applied && err != nil || !st.applied && !errors.Is(err, store.ErrChunkApplied) {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	for _, w := range []struct {
		partner, shard, progress string
	}{{"telco", "shard-a", seq(20)}, {"telco", "shard-b", seq(7)}, {"other", "shard-a", seq(10)}, {"other", "shard-b", ""}} {
		if got, err := e.st.StreamProgress(ctx, w.partner, w.shard); err != nil || got != w.progress {
			t.Errorf("progress of %s/%s = %q, %v; want %q", w.partner, w.shard, got, err, w.progress)
		}
	}
	got := map[string]store.Figures{}
	for _, partner := range []string{"telco", "other"} {
		for _, day := range []string{"2026-11-05", "2026-11-06"} {
			ps, err := e.st.DayPartials(ctx, partner, day)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if p.Day != day || p.Taken != nil {
					t.Errorf("partial %+v listed for %s", p, day)
				}
				got[partner+" "+day+" "+p.Shard] = p.Figures
			}
		}
	}
	want := map[string]store.Figures{
		"telco 2026-11-05 shard-a": {Issued: 10, Net: 10, ActiveMembers: 1},
		"telco 2026-11-06 shard-a": {Issued: 30, Net: 30, ActiveMembers: 2},
		"telco 2026-11-06 shard-b": {Issued: 7, Net: 7, ActiveMembers: 1},
		"other 2026-11-06 shard-a": {Issued: 10, Net: 10, ActiveMembers: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("partials = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "12a", "-1", strings.Repeat("9", store.SeqDigits+1)} {
		if _, err := store.PadSeq(bad); err == nil {
			t.Errorf("PadSeq(%q) accepted", bad)
		}
	}
	if a, b := seq(99), seq(100); !(a < b) || len(a) != store.SeqDigits {
		t.Errorf("padded %q and %q do not compare as numbers", a, b)
	}
}

// A partial is taken once: a second take, even after more was added,
// returns what the first took. A late mark folds what came after into the
// day closed, in CloseDay's transaction; a mark written again after the
// closing run read it makes the close fail (ErrRollupMoved) until re-read.
func TestTakeAndFoldLatePartials(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	seq := func(n int) string { s, _ := store.PadSeq(fmt.Sprint(n)); return s }
	apply := func(from, to int, issued int64) {
		t.Helper()
		c := store.StreamChunk{Shard: "s1", First: seq(from), Last: seq(to),
			Days: []store.DayDelta{{Day: "2026-11-05", Last: seq(to), Figures: store.Figures{Issued: issued, Net: issued}}}}
		if err := e.st.ApplyStreamChunk(ctx, "telco", c); err != nil {
			t.Fatal(err)
		}
	}
	apply(1, 1, 5)
	if err := e.st.SealDay(ctx, "telco", "2026-11-05"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SealDay(ctx, "telco", "2026-11-04"); err != nil { // never moves back
		t.Fatal(err)
	}
	if sealed, err := e.st.Sealed(ctx, "telco"); err != nil || sealed != "2026-11-05" {
		t.Fatalf("sealed %q, %v", sealed, err)
	}
	ps, err := e.st.DayPartials(ctx, "telco", "2026-11-05")
	if err != nil || len(ps) != 1 {
		t.Fatalf("partials %+v, %v", ps, err)
	}
	stale := ps[0]
	apply(2, 2, 7) // the consumer adds after the read: the take re-reads
	taken, err := e.st.TakePartial(ctx, "telco", stale)
	if err != nil || taken.Taken == nil || *taken.Taken != (store.Figures{Issued: 12, Net: 12}) || taken.TakenLast != seq(2) {
		t.Fatalf("take = %+v, %v", taken, err)
	}
	apply(3, 3, 100) // late: after the take
	again, err := e.st.TakePartial(ctx, "telco", stale)
	if err != nil || *again.Taken != *taken.Taken || again.Figures.Issued != 112 || again.Remainder() != (store.Figures{Issued: 100, Net: 100}) {
		t.Fatalf("second take = %+v, %v", again, err)
	}

	if err := e.st.MarkLate(ctx, "telco", "2026-11-05", "s1"); err != nil {
		t.Fatal(err)
	}
	lates, err := e.st.LatePartials(ctx, "telco", store.MaxFolds)
	if err != nil || len(lates) != 1 || !lates[0].Found || lates[0].Mark.Last != seq(3) || lates[0].Partial.Remainder().Issued != 100 {
		t.Fatalf("late partials %+v, %v", lates, err)
	}
	l := lates[0]
	fold := []store.Fold{{Mark: l.Mark, Take: l.Partial.Figures, TakeLast: l.Partial.Last}}
	day := func(d string, issued int64) store.DayStats {
		return store.DayStats{Day: d, Issued: issued, Liability: "0", Currency: "RUB", Final: true, AsOf: t0}
	}
	// More arrives, and the consumer marks the partial again: the fold read
	// before is refused.
	apply(4, 4, 1000)
	if err := e.st.MarkLate(ctx, "telco", "2026-11-05", "s1"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CloseDay(ctx, "telco", 0, day("2026-11-06", 100), store.RollupState{Closed: "2026-11-06", Through: t0}, fold); !errors.Is(err, store.ErrRollupMoved) {
		t.Fatalf("close with a stale fold: %v", err)
	}
	lates, err = e.st.LatePartials(ctx, "telco", store.MaxFolds)
	if err != nil || len(lates) != 1 || lates[0].Partial.Remainder().Issued != 1100 {
		t.Fatalf("late partials after more: %+v, %v", lates, err)
	}
	l = lates[0]
	fold = []store.Fold{{Mark: l.Mark, Take: l.Partial.Figures, TakeLast: l.Partial.Last}}
	if err := e.st.CloseDay(ctx, "telco", 0, day("2026-11-06", 1100), store.RollupState{Closed: "2026-11-06", Through: t0}, fold); err != nil {
		t.Fatal(err)
	}
	if lates, err := e.st.LatePartials(ctx, "telco", store.MaxFolds); err != nil || len(lates) != 0 {
		t.Fatalf("late partials after the fold: %+v, %v", lates, err)
	}
	ps, err = e.st.DayPartials(ctx, "telco", "2026-11-05")
	if err != nil || len(ps) != 1 || ps[0].Remainder() != (store.Figures{}) || ps[0].TakenLast != seq(4) {
		t.Fatalf("partial after the fold: %+v, %v", ps, err)
	}
	// A dropped mark (a day before the roll-up read partials) is deleted,
	// and its partial is left as it is.
	if err := e.st.ApplyStreamChunk(ctx, "telco", store.StreamChunk{Shard: "s1", First: seq(5), Last: seq(5),
		Days: []store.DayDelta{{Day: "2026-10-01", Last: seq(5), Figures: store.Figures{Issued: 3, Net: 3}}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.MarkLate(ctx, "telco", "2026-10-01", "s1"); err != nil {
		t.Fatal(err)
	}
	if lates, err = e.st.LatePartials(ctx, "telco", store.MaxFolds); err != nil || len(lates) != 1 {
		t.Fatalf("late partials: %+v, %v", lates, err)
	}
	if err := e.st.CloseDay(ctx, "telco", 1, day("2026-11-07", 0), store.RollupState{Closed: "2026-11-07", Through: t0},
		[]store.Fold{{Mark: lates[0].Mark, Drop: true}}); err != nil {
		t.Fatal(err)
	}
	if lates, err := e.st.LatePartials(ctx, "telco", store.MaxFolds); err != nil || len(lates) != 0 {
		t.Fatalf("late partials after the drop: %+v, %v", lates, err)
	}
	if ps, err := e.st.DayPartials(ctx, "telco", "2026-10-01"); err != nil || len(ps) != 1 || ps[0].Taken != nil || ps[0].Issued != 3 {
		t.Fatalf("dropped partial: %+v, %v", ps, err)
	}
}

// The transactions that book activity record the member's activity days
// (program time zone), and a GDPR erase's copies of entries are marked as
// copies.
func TestActivityDaysAndMovedEntries(t *testing.T) {
	const mskProgram = `{"name": "T", "timezone": "Europe/Moscow", "auto_enroll": true,
		"earning": [{"id": "base", "rate": {"points": 1, "per_minor": 10000}}], "point_value": {"minor": "1", "currency": "RUB"}}`
	clock := newStepClock()
	e := newEnv(t, map[string]string{"telco": mskProgram}, clock.option())
	ctx := context.Background()
	clock.set(11 * time.Hour) // 2026-11-05T21:00Z = 2026-11-06 00:00 in Moscow
	mustApply(t, e.st, pay("telco", "cust-1", "pay-1", 120000))
	if m := e.member(t, "telco", "cust-1"); !reflect.DeepEqual(m.ActiveDays, []string{"2026-11-06"}) {
		t.Fatalf("after a payment: %v", m.ActiveDays)
	}
	clock.advance(24 * time.Hour)
	if _, _, err := e.st.Adjust(ctx, "telco", "cust-1", ledger.Adjustment{Points: 1, Reason: "test", Actor: "key"}); err != nil {
		t.Fatal(err)
	}
	if m := e.member(t, "telco", "cust-1"); !reflect.DeepEqual(m.ActiveDays, []string{"2026-11-06"}) {
		t.Fatalf("after an adjustment (not activity): %v", m.ActiveDays)
	}
	if _, _, err := e.st.Redeem(ctx, "telco", "cust-1", ledger.RedeemRequest{Points: 5, Capture: true}); err != nil {
		t.Fatal(err)
	}
	if m := e.member(t, "telco", "cust-1"); !reflect.DeepEqual(m.ActiveDays, []string{"2026-11-06", "2026-11-07"}) {
		t.Fatalf("after a redemption: %v", m.ActiveDays)
	}
	anon, err := e.st.Erase(ctx, "telco", "cust-1", "key")
	if err != nil {
		t.Fatal(err)
	}
	es, err := e.client.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(e.table),
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :e)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "P#telco#M#" + anon}, ":e": &types.AttributeValueMemberS{Value: "E#"}}})
	if err != nil || len(es.Items) != 3 {
		t.Fatalf("anonymous entries: %v, %v", es, err)
	}
	for _, it := range es.Items {
		if mv, ok := it[store.AttrMoved].(*types.AttributeValueMemberBOOL); !ok || !mv.Value {
			t.Errorf("copied entry %v not marked as moved", it["sk"])
		}
	}
	if m := e.member(t, "telco", anon); !reflect.DeepEqual(m.ActiveDays, []string{"2026-11-06", "2026-11-07"}) {
		t.Fatalf("anonymous member's activity days: %v", m.ActiveDays)
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
	if err := e.st.CloseDay(ctx, "telco", 0, day("2026-11-05", true, at(24), 4), next, nil); err != nil {
		t.Fatal(err)
	}
	// The same close again (a concurrent run that read no state) is refused.
	if err := e.st.CloseDay(ctx, "telco", 0, day("2026-11-05", true, at(24), 5), next, nil); !errors.Is(err, store.ErrRollupMoved) {
		t.Fatalf("second close from version 0: %v", err)
	}
	// Figures so far computed before the close are refused (old state, final item).
	if err := e.st.PutDayStats(ctx, "telco", 0, day("2026-11-05", false, at(23), 6)); !errors.Is(err, store.ErrRollupMoved) {
		t.Fatalf("figures so far from the old state: %v", err)
	}
	if err := e.st.PutDayStats(ctx, "telco", 1, day("2026-11-05", false, at(23), 6)); !errors.Is(err, store.ErrRollupMoved) {
		t.Fatalf("figures so far over final figures: %v", err)
	}
	if err := e.st.CloseDay(ctx, "telco", 1, day("2026-11-05", false, at(24), 4), next, nil); err == nil {
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
