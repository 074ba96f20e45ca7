package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// allAudit reads every page of a query, checking that pages are newest first
// and never longer than the limit.
func allAudit(t *testing.T, st *store.Store, partner string, q store.AuditQuery) []store.AuditRecord {
	t.Helper()
	var out []store.AuditRecord
	for {
		page, err := st.AuditTrail(context.Background(), partner, q)
		if err != nil {
			t.Fatalf("audit trail %+v: %v", q, err)
		}
		if len(page.Items) > int(q.Limit) {
			t.Fatalf("a page of %d records, limit %d", len(page.Items), q.Limit)
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	for i := 1; i < len(out); i++ {
		if out[i].At.After(out[i-1].At) {
			t.Fatalf("record %d (%s) is newer than record %d (%s)", i, out[i].At, i-1, out[i-1].At)
		}
	}
	return out
}

// The audit trail by time range and member, page by page, newest first; a
// cursor continues only its own query.
func TestAuditTrailPages(t *testing.T) {
	clock := newStepClock()
	e := newEnv(t, map[string]string{"telco": poolProgram, "other": poolProgram}, clock.option())
	ctx := context.Background()
	// One adjustment an hour, for three members in turn, from t0.
	const n = 12
	clock.set(time.Hour)
	for i := range n {
		member := fmt.Sprint("m", i%3)
		if _, _, err := e.st.Adjust(ctx, "telco", member, ledger.Adjustment{Points: int64(i + 1), Reason: "r", Actor: "k"}); err != nil {
			if !errors.Is(err, store.ErrMemberNotFound) {
				t.Fatal(err)
			}
			mustApply(t, e.st, pay("telco", member, member, 100))
			if _, _, err := e.st.Adjust(ctx, "telco", member, ledger.Adjustment{Points: int64(i + 1), Reason: "r", Actor: "k"}); err != nil {
				t.Fatal(err)
			}
		}
		clock.advance(time.Hour)
	}
	mustApply(t, e.st, pay("other", "m0", "o", 100))
	if _, _, err := e.st.Adjust(ctx, "other", "m0", ledger.Adjustment{Points: 5, Reason: "other's", Actor: "k"}); err != nil {
		t.Fatal(err)
	}
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	cases := []struct {
		name   string
		q      store.AuditQuery
		points []int64 // the adjustments' points, newest first
	}{
		{"everything", store.AuditQuery{}, []int64{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"from", store.AuditQuery{From: at(10)}, []int64{12, 11, 10}},
		{"to, inclusive", store.AuditQuery{To: at(3)}, []int64{3, 2, 1}},
		{"from and to", store.AuditQuery{From: at(4), To: at(6)}, []int64{6, 5, 4}},
		{"a member", store.AuditQuery{MemberID: "m1"}, []int64{11, 8, 5, 2}},
		{"a member in a range", store.AuditQuery{MemberID: "m1", From: at(3), To: at(9)}, []int64{8, 5}},
		{"nothing in the range", store.AuditQuery{From: at(100)}, nil},
		{"a member without records", store.AuditQuery{MemberID: "nobody"}, nil},
	}
	for _, tc := range cases {
		for _, limit := range []int32{1, 2, 5, 100} {
			t.Run(fmt.Sprintf("%s, limit %d", tc.name, limit), func(t *testing.T) {
				q := tc.q
				q.Limit = limit
				var got []int64
				for _, r := range allAudit(t, e.st, "telco", q) {
					if r.Action == store.AuditAdjust {
						got = append(got, r.Points)
					}
				}
				if !slices.Equal(got, tc.points) {
					t.Fatalf("adjustments %v, want %v", got, tc.points)
				}
			})
		}
	}

	// A cursor continues only its own list: another range, member or
	// partner refuses it (a 400, never DynamoDB's refusal of a start key
	// outside the key condition).
	page, err := e.st.AuditTrail(ctx, "telco", store.AuditQuery{Limit: 2})
	if err != nil || page.Next == "" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	mpage, err := e.st.AuditTrail(ctx, "telco", store.AuditQuery{MemberID: "m1", Limit: 1})
	if err != nil || mpage.Next == "" {
		t.Fatalf("member's first page: %+v, %v", mpage, err)
	}
	for _, tc := range []struct {
		name    string
		partner string
		q       store.AuditQuery
	}{
		{"a range that excludes the cursor", "telco", store.AuditQuery{To: at(2), Cursor: page.Next}},
		{"another member", "telco", store.AuditQuery{MemberID: "m2", Cursor: mpage.Next}},
		{"a member's cursor on the whole trail", "telco", store.AuditQuery{Cursor: mpage.Next}},
		{"the trail's cursor for a member", "telco", store.AuditQuery{MemberID: "m1", Cursor: page.Next}},
		{"another partner", "other", store.AuditQuery{Cursor: page.Next}},
		{"garbage", "telco", store.AuditQuery{Cursor: "!!"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Limit = 10
			if _, err := e.st.AuditTrail(ctx, tc.partner, tc.q); !errors.Is(err, store.ErrBadCursor) {
				t.Fatalf("err = %v, want ErrBadCursor", err)
			}
		})
	}
}

// Program and catalog changes are audited with the actor of the context:
// the program's version before and after and each section that changed;
// each reward added, changed or removed.
func TestProgramAndRewardsAudit(t *testing.T) {
	clock := newStepClock()
	e := newEnv(t, map[string]string{"shop": catalogProgram}, clock.option())
	ctx := store.WithActor(context.Background(), "key_admin")
	clock.advance(time.Minute)
	p, err := program.Parse([]byte(catalogProgram))
	if err != nil {
		t.Fatal(err)
	}
	p.Transfers = program.Transfers{Enabled: true, MaxPoints: 100}
	p.Name = "Shop 2"
	if v, err := e.st.PutProgram(ctx, "shop", p); err != nil || v != 2 {
		t.Fatalf("put program: %d, %v", v, err)
	}
	one := int64(1)
	clock.advance(time.Minute)
	if _, err := e.st.PutRewards(ctx, "shop", []ledger.Reward{{ID: "mug", Name: "Mug", Cost: 50, Stock: &one}, {ID: "cap", Name: "Cap", Cost: 20}}); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Minute)
	if _, err := e.st.PutRewards(ctx, "shop", []ledger.Reward{{ID: "mug", Name: "Mug", Cost: 60, Stock: &one}, {ID: "pen", Name: "Pen", Cost: 5}}); err != nil {
		t.Fatal(err)
	}
	recs := allAudit(t, e.st, "shop", store.AuditQuery{Limit: 10})
	type change struct{ field, before, after string }
	changes := func(r store.AuditRecord) []change {
		var out []change
		for _, c := range r.Changes {
			out = append(out, change{c.Field, string(c.Before), string(c.After)})
		}
		return out
	}
	// Newest first: the second catalog, the first, the program update, the creation.
	if len(recs) != 4 {
		t.Fatalf("%d records: %+v", len(recs), recs)
	}
	if r := recs[3]; r.Action != store.AuditProgramUpdate || r.Actor != store.ActorOperator || !slices.Contains(changes(r), change{"version", "", "1"}) {
		t.Fatalf("creation record %+v", r)
	}
	want := []change{{"name", `"Shop"`, `"Shop 2"`}, {"transfers", "", `{"enabled":true,"max_points":100}`}, {"version", "1", "2"}}
	if r := recs[2]; r.Action != store.AuditProgramUpdate || r.Actor != "key_admin" || r.Target != "program" || !slices.Equal(changes(r), want) {
		t.Fatalf("program update record %+v, changes %v, want %v", r, changes(r), want)
	}
	if r := recs[1]; r.Action != store.AuditRewardsUpdate || len(r.Changes) != 2 || r.Changes[0].Field != "rewards.cap" || len(r.Changes[0].Before) != 0 ||
		r.Changes[1].Field != "rewards.mug" || len(r.Changes[1].Before) != 0 {
		t.Fatalf("first catalog record %+v", r)
	}
	want = []change{
		{"rewards.cap", `{"id":"cap","name":"Cap","cost":20}`, ""},
		{"rewards.mug", `{"id":"mug","name":"Mug","cost":50,"stock":1}`, `{"id":"mug","name":"Mug","cost":60,"stock":1}`},
		{"rewards.pen", "", `{"id":"pen","name":"Pen","cost":5}`},
	}
	if r := recs[0]; r.Action != store.AuditRewardsUpdate || r.Actor != "key_admin" || !slices.Equal(changes(r), want) {
		t.Fatalf("second catalog record: %v, want %v", changes(r), want)
	}
	// A value over MaxAuditValue is not kept.
	c := store.Change("x", json.RawMessage(`"`+string(make([]byte, store.MaxAuditValue))+`"`), nil)
	if !c.Truncated || c.Before != nil {
		t.Fatalf("a long value: %+v", c)
	}
}
