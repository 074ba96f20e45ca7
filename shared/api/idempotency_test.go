package api_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
)

// commitFault decides what happens to the next TransactWriteItems calls of
// the API's DynamoDB client, after the SDK's retries (so they see nothing):
// the call fails before it reaches DynamoDB, fails after DynamoDB committed
// it (the answer is lost), or hangs (before or after the commit) until
// released — a process that stopped there.
type commitFault struct {
	mode    atomic.Int32 // one of the fault* constants, for the next call only
	release chan struct{}
	hung    sync.WaitGroup
}

const (
	faultNone = iota
	faultBefore
	faultAfter
	faultHangBefore
	faultHangAfter
	faultTimeoutAfter // commit, then wait for the request's deadline and fail with it
)

// errLostAnswer is not one the SDK retries by itself (a "connection reset"
// would be, and its retry, with the same ClientRequestToken, is idempotent in
// DynamoDB): the store sees it.
var errLostAnswer = errors.New("injected: the answer was lost")

func newCommitFault() *commitFault { return &commitFault{release: make(chan struct{})} }

func (f *commitFault) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("commit-fault", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if middleware.GetOperationName(ctx) != "TransactWriteItems" {
				return next.HandleFinalize(ctx, in)
			}
			switch int(f.mode.Swap(faultNone)) {
			case faultBefore:
				return middleware.FinalizeOutput{}, middleware.Metadata{}, errLostAnswer
			case faultAfter:
				if _, _, err := next.HandleFinalize(ctx, in); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
				return middleware.FinalizeOutput{}, middleware.Metadata{}, errLostAnswer
			case faultHangBefore:
				f.hung.Add(1)
				defer f.hung.Done()
				<-f.release
				return next.HandleFinalize(context.WithoutCancel(ctx), in)
			case faultHangAfter:
				f.hung.Add(1)
				defer f.hung.Done()
				out, md, err := next.HandleFinalize(ctx, in)
				<-f.release
				return out, md, err
			case faultTimeoutAfter:
				if _, _, err := next.HandleFinalize(context.WithoutCancel(ctx), in); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
				<-ctx.Done()
				return middleware.FinalizeOutput{}, middleware.Metadata{}, ctx.Err()
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
	})
}

// stepClock is a clock the test moves.
type stepClock struct{ off atomic.Int64 }

func (c *stepClock) now() time.Time          { return now.Add(time.Duration(c.off.Load())) }
func (c *stepClock) advance(d time.Duration) { c.off.Add(int64(d)) }
func newIdemHarness(t *testing.T, f *commitFault, c *stepClock) *harness {
	h := buildWith(t, harnessOptions{clock: c.now, dynamo: []func(*dynamodb.Options){f.option}, requestTimeout: 2 * time.Second})
	t.Cleanup(func() { close(f.release); f.hung.Wait() })
	return h
}

// idemRoute is a state-changing request and how to count the changes it made.
type idemRoute struct {
	name    string
	method  string
	path    string
	body    any
	status  int
	changes func(h *harness) int // how many times the change was applied
	// secret: the first answer holds a key that the stored response (every
	// replay) leaves out.
	secret bool
}

func ledgerLen(h *harness, member string) int {
	r := h.call("GET", "/v1/members/"+member+"/ledger?limit=100", "telco/app", nil)
	d, _ := r.Body["data"].([]any)
	return len(d)
}

func idemRoutes() []idemRoute {
	return []idemRoute{
		{"redeem", "POST", "/v1/members/m1/redemptions", map[string]any{"points": 3, "capture": true}, 201,
			func(h *harness) int { return ledgerLen(h, "m1") - 1 }, false},
		{"adjust", "POST", "/v1/members/m1/adjustments", map[string]any{"points": 7, "reason": "goodwill"}, 201,
			func(h *harness) int { return ledgerLen(h, "m1") - 1 }, false},
		{"event", "POST", "/v1/events", event("telco", "m1", "p-idem", 250000), 201,
			func(h *harness) int { return ledgerLen(h, "m1") - 1 }, false},
		{"enroll", "POST", "/v1/members", map[string]any{"member_id": "new-idem"}, 201,
			func(h *harness) int {
				if h.call("GET", "/v1/members/new-idem", "telco/app", nil).Status == http.StatusOK {
					return 1
				}
				return 0
			}, false},
		{"transfer", "POST", "/v1/members/m1/transfers", map[string]any{"to_member_id": "m2", "points": 4}, 201,
			func(h *harness) int { return ledgerLen(h, "m2") }, false},
		{"merge", "POST", "/v1/members/m1/merge", map[string]any{"absorbed_member_id": "m2"}, 201,
			func(h *harness) int { return ledgerLen(h, "m1") - 1 }, false},
		{"key", "POST", "/v1/keys", map[string]any{"role": "app", "label": "idem"}, 201,
			func(h *harness) int {
				n := 0
				for _, k := range h.call("GET", "/v1/keys?limit=100", "telco/admin", nil).Body["data"].([]any) {
					if str(k, "label") == "idem" {
						n++
					}
				}
				return n
			}, true},
	}
}

// withoutSecret is a key's answer as stored: without the key, the JSON
// object written as the server writes it.
func withoutSecret(t *testing.T, r reply) string {
	t.Helper()
	i := bytes.Index(r.Raw, []byte(`,"secret":`))
	if i < 0 {
		return string(r.Raw)
	}
	return string(r.Raw[:i]) + "}"
}

// A request's change and its stored response commit together (issue #9, item
// 3). For each fault, the first attempt fails (or hangs) at the commit and the
// client retries with the same key: the change is applied exactly once, and
// every answer after it is the same response.
func TestIdempotencyAcrossCommitFailures(t *testing.T) {
	cases := []struct {
		name string
		mode int32
		// firstStatus: what the first attempt answers, 5xx (500 or 503) or
		// 0: it hangs.
		firstStatus int
		// retryNow: the answer to a retry while the first is still hung.
		retryNow int
		// afterLease: the clock moves past the first attempt's lease before
		// the retry that succeeds.
		afterLease bool
	}{
		{"fails before the commit: the retry runs", faultBefore, 500, 0, false},
		{"fails after the commit: the retry replays", faultAfter, 500, 0, false},
		{"times out after the commit: the retry replays", faultTimeoutAfter, 500, 0, false},
		{"dies after the commit: the retry replays at once", faultHangAfter, 0, 201, false},
		{"dies before the commit: in progress, then taken over after its lease", faultHangBefore, 0, 409, true},
	}
	for _, tc := range cases {
		for _, r := range idemRoutes() {
			t.Run(tc.name+"/"+r.name, func(t *testing.T) {
				f, clock := newCommitFault(), &stepClock{}
				h := newIdemHarness(t, f, clock)
				h.norecord = true
				h.seed("m1", 100000)
				h.seed("m2")
				key := "idem-" + r.name
				f.mode.Store(tc.mode)
				first := make(chan reply, 1)
				go func() { first <- h.call(r.method, r.path, "telco/admin", r.body, "Idempotency-Key", key) }()
				if tc.firstStatus != 0 {
					got := <-first
					if got.Status < tc.firstStatus || got.Status > 599 {
						t.Fatalf("first attempt: %d, want %d: %s", got.Status, tc.firstStatus, got.Raw)
					}
				} else {
					waitHung(t, f)
					got := h.call(r.method, r.path, "telco/admin", r.body, "Idempotency-Key", key)
					if got.Status != tc.retryNow {
						t.Fatalf("retry while the first hangs: %d, want %d: %s", got.Status, tc.retryNow, got.Raw)
					}
					if got.Status == http.StatusConflict {
						if ra, err := strconv.Atoi(got.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 3 {
							t.Fatalf("request-in-progress with Retry-After %q, want 1..3 (the 2 s lease)", got.Header.Get("Retry-After"))
						}
					}
				}
				if tc.afterLease {
					clock.advance(3 * time.Second)
				}
				second := h.call(r.method, r.path, "telco/admin", r.body, "Idempotency-Key", key)
				if second.Status != r.status {
					t.Fatalf("retry: %d, want %d: %s", second.Status, r.status, second.Raw)
				}
				third := h.call(r.method, r.path, "telco/admin", r.body, "Idempotency-Key", key)
				want := string(second.Raw)
				if r.secret {
					want = withoutSecret(t, second)
				}
				if third.Status != r.status || string(third.Raw) != want || third.Header.Get("Idempotent-Replayed") != "true" {
					t.Fatalf("replay: %d %s (replayed %q), want the retry's answer %s", third.Status, third.Raw, third.Header.Get("Idempotent-Replayed"), second.Raw)
				}
				if tc.firstStatus == 0 {
					// The hung first attempt goes on: a commit that was
					// taken over must not land.
					f.release <- struct{}{}
					<-first
				}
				if n := r.changes(h); n != 1 {
					t.Fatalf("the change was applied %d times, want once", n)
				}
			})
		}
	}
}

// waitHung waits until a TransactWriteItems call hangs in the fault.
func waitHung(t *testing.T, f *commitFault) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.mode.Load() != faultNone {
		if time.Now().After(deadline) {
			t.Fatal("the first attempt never reached its commit")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // inside the fault's wait by now
}

// Without faults, concurrent requests with one key still apply once.
func TestIdempotencyConcurrentSameKey(t *testing.T) {
	f, clock := newCommitFault(), &stepClock{}
	h := newIdemHarness(t, f, clock)
	h.norecord = true
	h.seed("m1", 100000)
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = h.call("POST", "/v1/members/m1/redemptions", "telco/app", map[string]any{"points": 2, "capture": true}, "Idempotency-Key", "same").Status
		}()
	}
	wg.Wait()
	if n := ledgerLen(h, "m1") - 1; n != 1 {
		t.Fatalf("applied %d times (statuses %v)", n, statuses)
	}
	for _, s := range statuses {
		if s != 201 && s != 409 {
			t.Fatalf("statuses %v: want 201 (first or replayed) or 409 (in progress)", statuses)
		}
	}
}
