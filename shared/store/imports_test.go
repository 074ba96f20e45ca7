package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/internal/importtest"
	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

func opening(id string) ledger.Opening {
	exp := t0.AddDate(0, 6, 0)
	avl := t0.AddDate(0, 0, 10)
	life := int64(20000)
	return ledger.Opening{MemberID: id, Tags: []string{"vip"}, Tier: "silver", Lifetime: &life, Qualifying: 6000,
		Available: []ledger.OpeningLot{{Points: 700, ExpiresAt: &exp}, {Points: 300}},
		Pending:   []ledger.OpeningLot{{Points: 50, AvailableAt: &avl}}}
}

func (e *env) program(t *testing.T, partner string) *program.Program {
	t.Helper()
	p, err := e.st.Program(context.Background(), partner)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// An imported member: its balances, one entry per lot, invariants, and the
// due and release times the jobs need, set like any write's.
func TestImportMember(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": importtest.Program})
	ctx := context.Background()
	p := e.program(t, "telco")
	out, err := e.st.ImportMember(ctx, "telco", p, opening("m1"), "imp_x/2", t0)
	if err != nil || out != store.MemberImported {
		t.Fatalf("import: %v, %v", out, err)
	}
	m := e.member(t, "telco", "m1")
	want := ledger.Balances{Available: 1000, Pending: 50, Lifetime: 20000}
	if m.Balances != want || m.Rules.Tier != "silver" || m.Rules.Qualifying != 6000 || m.Seq != 4 || m.ImportRef != "imp_x/2" {
		t.Fatalf("member %+v", m)
	}
	e.audit(t, "telco", "m1")
	es, err := e.st.Entries(ctx, "telco", "m1")
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range es {
		if en.Kind != ledger.KindImport {
			t.Fatalf("entry %+v", en)
		}
	}
	// Due: the first lot's warning (30 days before its date); release: the
	// pending lot's time.
	exp := t0.AddDate(0, 6, 0)
	warn := exp.In(p.Location()).AddDate(0, 0, -30)
	if m.Due != ledger.DueSecond(warn) {
		t.Errorf("due %v, want the warning %v", time.Unix(m.Due, 0).UTC(), warn)
	}
	if m.ReleaseAt != t0.AddDate(0, 0, 10).UnixNano() {
		t.Errorf("release at %v", time.Unix(0, m.ReleaseAt).UTC())
	}
	// As of the release time the pending points count as available.
	lots, _ := e.st.Lots(ctx, "telco", "m1")
	if asOf := jobs.AsOf(m, lots, p, t0.AddDate(0, 0, 10)); asOf.Available != 1050 || asOf.Pending != 0 {
		t.Errorf("as of the release: %+v", asOf.Balances)
	}
	// The same line again: its own earlier write (a resumed import).
	if out, err := e.st.ImportMember(ctx, "telco", p, opening("m1"), "imp_x/2", t0); err != nil || out != store.MemberImportedBefore {
		t.Fatalf("again: %v, %v", out, err)
	}
	// Another line or import: present, untouched.
	if out, err := e.st.ImportMember(ctx, "telco", p, opening("m1"), "imp_y/2", t0); err != nil || out != store.MemberPresent {
		t.Fatalf("other import: %v, %v", out, err)
	}
	if after := e.member(t, "telco", "m1"); after.Version != m.Version || after.Balances != m.Balances {
		t.Fatalf("a present member changed: %+v", after)
	}
}

// A member enrolled, auto-enrolled by a payment, or erased is never merged
// into; a line that does not fit the program is a ledger.ImportError.
func TestImportMemberNotImported(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": importtest.Program})
	ctx := context.Background()
	p := e.program(t, "telco")
	if _, err := e.st.Enroll(ctx, "telco", "enrolled", nil); err != nil {
		t.Fatal(err)
	}
	mustApply(t, e.st, pay("telco", "paid", "pay-1", 100000))
	mustApply(t, e.st, pay("telco", "gone", "pay-2", 100000))
	if _, err := e.st.Erase(ctx, "telco", "gone", "key_admin"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"enrolled", "paid"} {
		before := e.member(t, "telco", id)
		out, err := e.st.ImportMember(ctx, "telco", p, opening(id), "imp_x/9", t0)
		if err != nil || out != store.MemberPresent {
			t.Fatalf("%s: %v, %v", id, out, err)
		}
		if after := e.member(t, "telco", id); after.Version != before.Version || after.Balances != before.Balances {
			t.Fatalf("%s changed: %+v", id, after)
		}
		e.audit(t, "telco", id)
	}
	if _, err := e.st.ImportMember(ctx, "telco", p, opening("gone"), "imp_x/9", t0); !errors.Is(err, store.ErrMemberErased) {
		t.Fatalf("erased id: %v", err)
	}
	if _, err := e.st.Member(ctx, "telco", "gone"); !errors.Is(err, store.ErrMemberNotFound) {
		t.Fatalf("erased id came back: %v", err)
	}
	bad := opening("bad")
	bad.Tier = "platinum"
	var ie *ledger.ImportError
	if _, err := e.st.ImportMember(ctx, "telco", p, bad, "imp_x/9", t0); !errors.As(err, &ie) || ie.Field != "tier" {
		t.Fatalf("bad tier: %v", err)
	}
}

// The same member imported by two lines at once: exactly one creates it.
func TestImportMemberConcurrently(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": importtest.Program})
	p := e.program(t, "telco")
	var wg sync.WaitGroup
	outs := make([]store.ImportOutcome, 8)
	for i := range outs {
		wg.Go(func() {
			out, err := e.st.ImportMember(context.Background(), "telco", p, opening("m"), "imp_x/"+string(rune('a'+i)), t0)
			if err != nil {
				t.Error(err)
			}
			outs[i] = out
		})
	}
	wg.Wait()
	imported := 0
	for _, o := range outs {
		if o == store.MemberImported {
			imported++
		}
	}
	if imported != 1 {
		t.Fatalf("outcomes %v: want exactly one import", outs)
	}
	e.audit(t, "telco", "m")
}

// An import's job: created once with its audit record, claimed by one runner
// at a time (the last claim wins; the other's checkpoint fails), finished for
// good; its rejected lines listed in line order, page by page.
func TestImportJob(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": importtest.Program, "other": importtest.Program})
	ctx := context.Background()
	j := store.ImportJob{ID: "imp_0123", PartnerID: "telco", Format: "csv", Source: "m.csv", Status: store.ImportAwaitingUpload, Actor: "key_1"}
	j, err := e.st.CreateImport(ctx, j)
	if err != nil || !j.At.Equal(t0) {
		t.Fatalf("create: %+v, %v", j, err)
	}
	if _, err := e.st.CreateImport(ctx, j); !errors.Is(err, store.ErrImportExists) {
		t.Fatalf("create twice: %v", err)
	}
	// Its audit record, written with it (once).
	out, err := e.client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(e.table),
		FilterExpression: aws.String("#a = :imp"), ExpressionAttributeNames: map[string]string{"#a": "action"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":imp": &types.AttributeValueMemberS{Value: string(store.AuditImport)}}})
	if err != nil {
		t.Fatal(err)
	}
	var recs []store.AuditRecord
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &recs); err != nil || len(recs) != 1 ||
		recs[0].Actor != "key_1" || !strings.Contains(recs[0].Reason, j.ID) || !recs[0].At.Equal(t0) {
		t.Fatalf("audit records %+v, %v", recs, err)
	}
	if _, err := e.st.Import(ctx, "other", j.ID); !errors.Is(err, store.ErrImportNotFound) {
		t.Fatalf("another partner reads it: %v", err)
	}
	a, err := e.st.ClaimImport(ctx, "telco", j.ID, "runner-a")
	if err != nil || a.Status != store.ImportRunning || a.Runner != "runner-a" {
		t.Fatalf("claim a: %+v, %v", a, err)
	}
	a.Line, a.Offset, a.Header, a.ImportCounts = 10, 400, "member_id", store.ImportCounts{Imported: 8, Skipped: 1, Rejected: 1}
	if a, err = e.st.CheckpointImport(ctx, a, store.ImportRunning); err != nil {
		t.Fatal(err)
	}
	b, err := e.st.ClaimImport(ctx, "telco", j.ID, "runner-b")
	if err != nil || b.Line != 10 || b.Offset != 400 || b.Imported != 8 || b.Header != "member_id" {
		t.Fatalf("claim b: %+v, %v", b, err)
	}
	if _, err := e.st.CheckpointImport(ctx, a, store.ImportRunning); !errors.Is(err, store.ErrImportTakenOver) {
		t.Fatalf("a's checkpoint after b's claim: %v", err)
	}
	b.Line = 20
	if b, err = e.st.CheckpointImport(ctx, b, store.ImportCompleted); err != nil || b.CompletedAt == nil {
		t.Fatalf("complete: %+v, %v", b, err)
	}
	if got, err := e.st.ClaimImport(ctx, "telco", j.ID, "runner-c"); !errors.Is(err, store.ErrImportFinished) || got.Status != store.ImportCompleted || got.Line != 20 {
		t.Fatalf("claim a completed import: %+v, %v", got, err)
	}
	for _, line := range []int64{7, 3, 12, 3} {
		if err := e.st.RejectImportLine(ctx, "telco", j.ID, store.ImportRejection{Line: line, Field: "tier", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
	}
	var lines []int64
	cursor := ""
	for {
		page, err := e.st.ImportRejections(ctx, "telco", j.ID, 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Items {
			lines = append(lines, r.Line)
		}
		if cursor = page.Next; cursor == "" {
			break
		}
		if _, err := e.st.ImportRejections(ctx, "other", j.ID, 2, cursor); !errors.Is(err, store.ErrBadCursor) {
			t.Fatalf("another partner's cursor: %v", err)
		}
	}
	if len(lines) != 3 || lines[0] != 3 || lines[1] != 7 || lines[2] != 12 {
		t.Fatalf("rejected lines %v", lines)
	}
}
