package domainevents_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/ledger"
)

// fakeBus records what it accepted; fail decides, per call and entry, which
// entries fail (callErr fails the whole call).
type fakeBus struct {
	mu       sync.Mutex
	calls    [][]string // detail ids of each call
	accepted []domainevents.Event
	fail     func(call, i int, e domainevents.Event) bool
	callErr  func(call int) error
}

func (f *fakeBus) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := len(f.calls)
	var ids []string
	out := &eventbridge.PutEventsOutput{}
	evs := make([]domainevents.Event, len(in.Entries))
	for i, en := range in.Entries {
		if err := json.Unmarshal([]byte(aws.ToString(en.Detail)), &evs[i]); err != nil {
			return nil, err
		}
		if aws.ToString(en.Source) != "accrue" || aws.ToString(en.DetailType) != evs[i].Type || aws.ToString(en.EventBusName) != "bus" {
			return nil, fmt.Errorf("bad entry %+v", en)
		}
		ids = append(ids, evs[i].ID)
	}
	f.calls = append(f.calls, ids)
	if len(in.Entries) > 10 {
		return nil, errors.New("more than 10 entries")
	}
	if f.callErr != nil {
		if err := f.callErr(call); err != nil {
			return nil, err
		}
	}
	for i, e := range evs {
		if f.fail != nil && f.fail(call, i, e) {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{ErrorCode: aws.String("ThrottlingException"), ErrorMessage: aws.String("slow down")})
			continue
		}
		f.accepted = append(f.accepted, e)
		out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{EventId: aws.String(fmt.Sprintf("eb-%d-%d", call, i))})
	}
	return out, nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func publisher(f *fakeBus) *domainevents.Publisher {
	return domainevents.NewPublisher(f, "bus", domainevents.WithLogger(quiet()), domainevents.WithRetries(3, time.Millisecond))
}

// earnRecords returns n records of bonus entries (one event each), with
// irrelevant records (a budget counter) in between.
func earnRecords(t *testing.T, n int) ([]events.DynamoDBEventRecord, []string) {
	var recs []events.DynamoDBEventRecord
	var ids []string
	for i := 1; i <= n; i++ {
		e := entry(ledger.KindBonus, int64(i), 10, ledger.Balances{Available: 10, Lifetime: 10}, ledger.Lot{State: ledger.LotAvailable, Remaining: 10})
		sk := fmt.Sprintf("E#%016d", i)
		r := record("INSERT", mpk, sk, nil, image(t, e, mpk, sk, nil))
		recs = append(recs, r)
		ids = append(ids, oneID(t, r))
		if i%4 == 0 {
			recs = append(recs, record("INSERT", "P#acme", "BUDGET#x", nil, image(t, map[string]any{"spent": i}, "P#acme", "BUDGET#x", nil)))
		}
	}
	return recs, ids
}

func acceptedIDs(f *fakeBus) []string {
	var ids []string
	for _, e := range f.accepted {
		ids = append(ids, e.ID)
	}
	return ids
}

func TestHandleStreamChunks(t *testing.T) {
	f := &fakeBus{}
	recs, ids := earnRecords(t, 25)
	resp, err := publisher(f).HandleStream(t.Context(), events.DynamoDBEvent{Records: recs})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("resp %+v, err %v", resp, err)
	}
	if len(f.calls) != 3 || len(f.calls[0]) != 10 || len(f.calls[1]) != 10 || len(f.calls[2]) != 5 {
		t.Fatalf("calls of %d entries", callSizes(f))
	}
	if got := acceptedIDs(f); fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Fatalf("accepted %v\nwant %v", got, ids)
	}
}

func callSizes(f *fakeBus) []int {
	var n []int
	for _, c := range f.calls {
		n = append(n, len(c))
	}
	return n
}

func TestHandleStreamRetriesFailedEntries(t *testing.T) {
	// The first put of every chunk throttles entries 1 and 3; the retry puts them.
	f := &fakeBus{fail: func(call, i int, _ domainevents.Event) bool { return call%2 == 0 && (i == 1 || i == 3) }}
	recs, ids := earnRecords(t, 12)
	resp, _ := publisher(f).HandleStream(t.Context(), events.DynamoDBEvent{Records: recs})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %+v", resp.BatchItemFailures)
	}
	if n := callSizes(f); fmt.Sprint(n) != "[10 2 2 1]" {
		t.Fatalf("calls of %v entries", n)
	}
	got := map[string]int{}
	for _, id := range acceptedIDs(f) {
		got[id]++
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("event %s accepted %d times", id, got[id])
		}
	}
}

func TestHandleStreamReportsFirstUnsentRecord(t *testing.T) {
	recs, _ := earnRecords(t, 25) // records: 4 events + 1 counter, repeated
	// Entry 13 (the 4th of the second chunk) always fails.
	f := &fakeBus{fail: func(call, i int, e domainevents.Event) bool { return e.EntrySeq == 14 }}
	resp, _ := publisher(f).HandleStream(t.Context(), events.DynamoDBEvent{Records: recs})
	want := seqOfEntry(t, recs, 14)
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != want {
		t.Fatalf("failures %+v, want %s", resp.BatchItemFailures, want)
	}
	// The third chunk is not sent: the batch is retried from entry 14.
	for _, e := range f.accepted {
		if e.EntrySeq > 20 {
			t.Fatalf("entry %d published after a failed chunk", e.EntrySeq)
		}
	}
	if n := len(f.calls); n != 4 {
		t.Fatalf("%d calls, want 1 + 3 attempts", n)
	}
}

func seqOfEntry(t *testing.T, recs []events.DynamoDBEventRecord, seq int64) string {
	for _, r := range recs {
		evs, _ := domainevents.FromRecord(r)
		if len(evs) == 1 && evs[0].EntrySeq == seq {
			return r.Change.SequenceNumber
		}
	}
	t.Fatalf("no record of entry %d", seq)
	return ""
}

func TestHandleStreamBusDown(t *testing.T) {
	down := errors.New("connection refused")
	f := &fakeBus{callErr: func(int) error { return down }}
	recs, _ := earnRecords(t, 3)
	irrelevant := record("INSERT", "P#acme", "BUDGET#x", nil, image(t, map[string]any{"spent": 1}, "P#acme", "BUDGET#x", nil))
	recs = append([]events.DynamoDBEventRecord{irrelevant}, recs...)
	resp, err := publisher(f).HandleStream(t.Context(), events.DynamoDBEvent{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != recs[1].Change.SequenceNumber {
		t.Fatalf("failures %+v, want the first record with an event (%s)", resp.BatchItemFailures, recs[1].Change.SequenceNumber)
	}
	if len(f.calls) != 3 {
		t.Fatalf("%d calls, want 3 attempts", len(f.calls))
	}
}

func TestHandleStreamCorruptRecord(t *testing.T) {
	f := &fakeBus{}
	recs, ids := earnRecords(t, 3)
	bad := record("INSERT", mpk, "E#9", nil, image(t, map[string]any{"pts": 1}, mpk, "E#9", nil)) // an entry without a kind
	recs = append(recs[:2], append([]events.DynamoDBEventRecord{bad}, recs[2:]...)...)
	resp, _ := publisher(f).HandleStream(t.Context(), events.DynamoDBEvent{Records: recs})
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != bad.Change.SequenceNumber {
		t.Fatalf("failures %+v, want the corrupt record", resp.BatchItemFailures)
	}
	if got := acceptedIDs(f); fmt.Sprint(got) != fmt.Sprint(ids[:2]) {
		t.Fatalf("accepted %v, want the events before the corrupt record %v", got, ids[:2])
	}
}

func TestHandleStreamNothingToPublish(t *testing.T) {
	f := &fakeBus{}
	recs := []events.DynamoDBEventRecord{
		record("INSERT", "P#acme", "BUDGET#x", nil, image(t, map[string]any{"spent": 1}, "P#acme", "BUDGET#x", nil)),
		record("REMOVE", "P#acme#IDEM", "k", image(t, map[string]any{"x": 1}, "P#acme#IDEM", "k", nil), nil),
	}
	resp, err := publisher(f).HandleStream(t.Context(), events.DynamoDBEvent{Records: recs})
	if err != nil || len(resp.BatchItemFailures) != 0 || len(f.calls) != 0 {
		t.Fatalf("resp %+v err %v calls %d", resp, err, len(f.calls))
	}
}
