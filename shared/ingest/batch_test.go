package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/internal/ddbsim"
	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/store"
)

// payBody is a payment (or, with refundOf, a refund) of member m.
func payBody(m, id, refundOf string, amount int64) string {
	typ := payment.TypeSucceeded
	if refundOf != "" {
		typ = payment.TypeRefunded
	}
	b, _ := json.Marshal(map[string]any{
		"specversion": "1.0", "id": "e-" + id, "source": "t", "type": typ, "time": "2026-11-05T10:00:00Z",
		"data": map[string]any{"partner_id": "telco", "member_id": m, "payment_id": id, "amount_minor": amount,
			"currency": "RUB", "category": "retail", "refund_of": refundOf},
	})
	return string(b)
}

// A batch's lanes, one per member in batch order; a record that does not
// parse is alone in its lane.
func TestLanes(t *testing.T) {
	bad := fmt.Errorf("bad")
	for _, tc := range []struct {
		name    string
		members []string // "" = did not parse
		want    [][]int
	}{
		{"empty", nil, nil},
		{"one member", []string{"a", "a", "a"}, [][]int{{0, 1, 2}}},
		{"all different", []string{"a", "b", "c"}, [][]int{{0}, {1}, {2}}},
		{"interleaved", []string{"a", "b", "a", "c", "b", "a"}, [][]int{{0, 2, 5}, {1, 4}, {3}}},
		{"unparsed alone", []string{"a", "", "a", ""}, [][]int{{0, 2}, {1}, {3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pays := make([]payment.Payment, len(tc.members))
			errs := make([]error, len(tc.members))
			for i, m := range tc.members {
				if m == "" {
					errs[i] = bad
					continue
				}
				pays[i] = payment.Payment{PartnerID: "telco", MemberID: m}
			}
			if got := ingest.Lanes(pays, errs); !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Fatalf("lanes %v, want %v", got, tc.want)
			}
		})
	}
}

// A batch is worked on in lanes at once, yet each member's messages keep
// their order: a refund after its payment in the same batch finds it, a
// duplicate in the same batch accrues once, and every member ends exactly as
// the same messages applied one by one leave it (a second table), with its
// invariants holding. Run over several batches, under -race.
func TestBatchKeepsEachMembersOrder(t *testing.T) {
	h, ref := newHarness(t), newHarness(t)
	ctx := context.Background()
	for b := range 6 {
		var recs []events.SQSMessage
		add := func(body string) {
			recs = append(recs, events.SQSMessage{MessageId: fmt.Sprint("b", b, "-", len(recs)), Body: body})
		}
		for m := range 4 { // per member: a payment, another, the first's duplicate, a refund of the second
			member := fmt.Sprintf("m%d", m)
			p1, p2 := fmt.Sprint("p", b, "-", m, "-1"), fmt.Sprint("p", b, "-", m, "-2")
			add(payBody(member, p1, "", 200000))
			add(payBody(member, p2, "", 400000))
			add(payBody(member, p1, "", 200000))
			add(payBody(member, "r"+p2, p2, 400000))
		}
		// Interleave the members: message k of member m at 4k+m.
		inter := make([]events.SQSMessage, len(recs))
		for i, r := range recs {
			inter[4*(i%4)+i/4] = r
		}
		resp, err := h.proc.HandleSQS(ctx, events.SQSEvent{Records: inter})
		if err != nil || len(resp.BatchItemFailures) > 0 {
			t.Fatalf("batch %d: %v %+v", b, err, resp.BatchItemFailures)
		}
		for _, r := range inter {
			if _, err := ref.proc.Process(ctx, ingest.Message{ID: r.MessageId, Source: "sqs", Body: []byte(r.Body)}); err != nil {
				t.Fatalf("one by one: %v", err)
			}
		}
	}
	for m := range 4 {
		member := fmt.Sprintf("m%d", m)
		got, err := h.st.Member(ctx, "telco", member)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.st.Member(ctx, "telco", member)
		if err != nil {
			t.Fatal(err)
		}
		if got.Available != want.Available || got.Lifetime != want.Lifetime || got.Seq != want.Seq || got.Available == 0 {
			t.Errorf("%s: available %d lifetime %d seq %d, one by one %d %d %d", member,
				got.Available, got.Lifetime, got.Seq, want.Available, want.Lifetime, want.Seq)
		}
		if err := h.st.Audit(ctx, "telco", member); err != nil {
			t.Error(err)
		}
	}
}

// gate is a Store whose accruals wait until n of them are in flight at once
// (or a deadline passes): a batch of n members is only let through when the
// handler works on all of them together.
type gate struct {
	ingest.Store
	mu       sync.Mutex
	inFlight int
	peak     int
	n        int
	all      chan struct{}
}

func (g *gate) ApplyHinted(ctx context.Context, pay payment.Payment, h *store.Hints) (store.Outcome, error) {
	g.mu.Lock()
	g.inFlight++
	g.peak = max(g.peak, g.inFlight)
	if g.inFlight == g.n {
		close(g.all)
	}
	g.mu.Unlock()
	select {
	case <-g.all:
	case <-time.After(5 * time.Second):
	}
	defer func() { g.mu.Lock(); g.inFlight--; g.mu.Unlock() }()
	return g.Store.ApplyHinted(ctx, pay, h)
}

func TestBatchWorksOnItsMembersAtOnce(t *testing.T) {
	h := newHarness(t)
	g := &gate{Store: h.st, n: ingest.BatchWorkers, all: make(chan struct{})}
	proc := ingest.New(g, h.proc.Logger(), nil)
	var recs []events.SQSMessage
	for i := range ingest.BatchWorkers {
		recs = append(recs, events.SQSMessage{MessageId: fmt.Sprint(i), Body: payBody(fmt.Sprintf("c%02d", i), fmt.Sprint("p", i), "", 100000)})
	}
	start := time.Now()
	resp, err := proc.HandleSQS(context.Background(), events.SQSEvent{Records: recs})
	if err != nil || len(resp.BatchItemFailures) > 0 {
		t.Fatalf("%v %+v", err, resp.BatchItemFailures)
	}
	if g.peak != ingest.BatchWorkers || time.Since(start) > 4*time.Second {
		t.Fatalf("at most %d accruals in flight together (took %v), want %d", g.peak, time.Since(start), ingest.BatchWorkers)
	}
}

// Two lanes that meet on one member (an id merged into another, and the
// survivor's own id, in one batch): each payment accrues once, to the
// survivor, fenced by its version.
func TestBatchLanesMeetingOnAMergedMember(t *testing.T) {
	h, ref := newHarness(t), newHarness(t)
	// The batch's writes conflict as DynamoDB's would (a transaction in
	// flight holds its items), each held 20 ms so that the lanes meet.
	conflicts, err := ddbsim.NewConflicts(store.CreateTableInput(h.table))
	if err != nil {
		t.Fatal(err)
	}
	conflicts.Delay = 20 * time.Millisecond
	h.st = store.New(dynamodb.New(h.client.Options(), conflicts.Option), h.table, store.WithClock(func() time.Time { return now }))
	h.proc = ingest.New(h.st, h.proc.Logger(), nil)
	ctx := context.Background()
	for _, x := range []*harness{h, ref} {
		for _, m := range []string{"old", "new"} {
			if _, err := x.st.Enroll(ctx, "telco", m, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := x.st.Merge(ctx, "telco", "new", "old", ledger.MergeRequest{Actor: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	var recs []events.SQSMessage
	for i := range 10 {
		m := []string{"old", "new"}[i%2]
		recs = append(recs, events.SQSMessage{MessageId: fmt.Sprint(i), Body: payBody(m, fmt.Sprint("p", i), "", 200000)})
	}
	for range 2 { // and the whole batch again: all duplicates
		resp, err := h.proc.HandleSQS(ctx, events.SQSEvent{Records: recs})
		if err != nil || len(resp.BatchItemFailures) > 0 {
			t.Fatalf("%v %+v", err, resp.BatchItemFailures)
		}
	}
	for _, r := range recs {
		if _, err := ref.proc.Process(ctx, ingest.Message{ID: r.MessageId, Source: "sqs", Body: []byte(r.Body)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := h.st.Member(ctx, "telco", "new")
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.st.Member(ctx, "telco", "new")
	if err != nil {
		t.Fatal(err)
	}
	// 10 × 2000.00 retail at 1 per 200.00, and the frequency bonus twice.
	if got.Available != 300 || got.Available != want.Available || got.Seq != want.Seq {
		t.Fatalf("survivor: available %d seq %d, one by one %d %d, want 300", got.Available, got.Seq, want.Available, want.Seq)
	}
	if err := h.st.Audit(ctx, "telco", "new"); err != nil {
		t.Fatal(err)
	}
	st := conflicts.Stats()
	if st.TransactionConflicts == 0 {
		t.Fatalf("the lanes never met: %+v", st)
	}
	t.Logf("conflicts: %+v", st)
}
