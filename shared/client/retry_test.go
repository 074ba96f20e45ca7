package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// answer is one scripted answer of the test server; hangup closes the
// connection without answering (a lost answer).
type answer struct {
	status int
	header map[string]string
	body   string
	hangup bool
}

// seen is one request the test server received.
type seen struct {
	method, path, query string
	header              http.Header
	body                string
}

// script is an httptest server that answers its requests with answers, in
// order (the last one again when they run out), and records them.
type script struct {
	srv     *httptest.Server
	mu      sync.Mutex
	answers []answer
	got     []seen
}

func newScript(t *testing.T, answers ...answer) *script {
	t.Helper()
	s := &script{answers: answers}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got = append(s.got, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
		a := s.answers[min(len(s.got), len(s.answers))-1]
		s.mu.Unlock()
		if a.hangup {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *script) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.got...)
}

// testClient is New's client of s with the waits recorded instead of slept.
func testClient(t *testing.T, s *script, c Config) (*Accrue, *[]time.Duration) {
	t.Helper()
	c.BaseURL, c.APIKey = s.srv.URL, "acr_test"
	a, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	d := a.ClientInterface.(*Client).Client.(*retrying)
	d.sleep = func(ctx context.Context, w time.Duration) error {
		waits = append(waits, w)
		return ctx.Err()
	}
	d.now = func() time.Time { return now }
	return a, &waits
}

var now = time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC)

const (
	tryAgain       = `{"type":"https://accrue.dev/problems/try-again","title":"Temporarily unable to process; retry with the same Idempotency-Key","status":503}`
	inProgressBody = `{"type":"https://accrue.dev/problems/request-in-progress","title":"A request with this Idempotency-Key is still in progress","status":409}`
	conflict       = `{"type":"https://accrue.dev/problems/conflict","title":"Conflict with the current state","status":409}`
	throttled      = `{"message":"Too Many Requests"}`
	redeemed       = `{"redemption":{"id":"r1"}}`
)

var (
	problemJSON = map[string]string{"Content-Type": "application/problem+json"}
	okJSON      = map[string]string{"Content-Type": "application/json"}
)

func with(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for hk, hv := range h {
		out[hk] = hv
	}
	return out
}

// The retries of one call: what is retried, after how long, with which
// Idempotency-Key, and when the client gives up and returns the answer.
func TestRetries(t *testing.T) {
	redeem := func(ctx context.Context, a *Accrue, key string) (*http.Response, error) {
		var params *RedeemParams
		if key != "" {
			params = &RedeemParams{IdempotencyKey: &key}
		}
		return a.ClientInterface.Redeem(ctx, "cust-42", params, RedemptionRequest{Points: Ptr[int64](100)})
	}
	patch := func(ctx context.Context, a *Accrue, _ string) (*http.Response, error) {
		return a.ClientInterface.PatchMember(ctx, "cust-42", MemberPatch{Tags: &[]string{"vip"}})
	}
	getMember := func(ctx context.Context, a *Accrue, _ string) (*http.Response, error) {
		return a.ClientInterface.GetMember(ctx, "cust-42")
	}
	cases := []struct {
		name    string
		call    func(context.Context, *Accrue, string) (*http.Response, error)
		key     string // the caller's own Idempotency-Key
		answers []answer
		retry   Retry
		// want: the attempts made, the waits between them, the final status
		// (0: an error).
		attempts int
		waits    []time.Duration
		status   int
	}{
		{name: "503 with Retry-After, then success", call: redeem,
			answers:  []answer{{status: 503, header: with(problemJSON, "Retry-After", "2"), body: tryAgain}, {status: 201, header: okJSON, body: redeemed}},
			attempts: 2, waits: []time.Duration{2 * time.Second}, status: 201},
		{name: "the caller's key is kept", call: redeem, key: "my-key-1",
			answers:  []answer{{status: 503, header: with(problemJSON, "Retry-After", "1"), body: tryAgain}, {status: 201, header: okJSON, body: redeemed}},
			attempts: 2, waits: []time.Duration{time.Second}, status: 201},
		{name: "429 with an HTTP date", call: redeem,
			answers:  []answer{{status: 429, header: with(okJSON, "Retry-After", now.Add(7*time.Second).Format(http.TimeFormat)), body: throttled}, {status: 201, header: okJSON, body: redeemed}},
			attempts: 2, waits: []time.Duration{7 * time.Second}, status: 201},
		{name: "429 without Retry-After (API Gateway): backoff", call: getMember,
			answers:  []answer{{status: 429, header: okJSON, body: throttled}, {status: 429, header: okJSON, body: throttled}, {status: 200, header: okJSON, body: `{}`}},
			retry:    Retry{BaseDelay: 100 * time.Millisecond},
			attempts: 3, waits: []time.Duration{-100 * time.Millisecond, -200 * time.Millisecond}, status: 200},
		{name: "409 request-in-progress is waited out", call: redeem,
			answers:  []answer{{status: 409, header: with(problemJSON, "Retry-After", "3"), body: inProgressBody}, {status: 201, header: okJSON, body: redeemed}},
			attempts: 2, waits: []time.Duration{3 * time.Second}, status: 201},
		{name: "another 409 is the answer", call: redeem,
			answers:  []answer{{status: 409, header: problemJSON, body: conflict}},
			attempts: 1, status: 409},
		{name: "a PATCH is retried on 503 too (nothing was applied)", call: patch,
			answers:  []answer{{status: 503, header: with(problemJSON, "Retry-After", "1"), body: tryAgain}, {status: 200, header: okJSON, body: `{}`}},
			attempts: 2, waits: []time.Duration{time.Second}, status: 200},
		{name: "gives up after MaxAttempts with the last answer", call: redeem,
			answers:  []answer{{status: 503, header: with(problemJSON, "Retry-After", "1"), body: tryAgain}},
			retry:    Retry{MaxAttempts: 3},
			attempts: 3, waits: []time.Duration{time.Second, time.Second}, status: 503},
		{name: "a Retry-After beyond MaxWait is the answer", call: redeem,
			answers:  []answer{{status: 503, header: with(problemJSON, "Retry-After", "120"), body: tryAgain}},
			attempts: 1, status: 503},
		{name: "MaxAttempts 1: no retries", call: redeem,
			answers:  []answer{{status: 503, header: with(problemJSON, "Retry-After", "1"), body: tryAgain}},
			retry:    Retry{MaxAttempts: 1},
			attempts: 1, status: 503},
		{name: "a lost answer of a POST with a key is sent again", call: redeem,
			answers:  []answer{{hangup: true}, {status: 201, header: okJSON, body: redeemed}},
			retry:    Retry{BaseDelay: 100 * time.Millisecond},
			attempts: 2, waits: []time.Duration{-100 * time.Millisecond}, status: 201},
		{name: "a lost answer of a PATCH (no key) is not", call: patch,
			answers:  []answer{{hangup: true}},
			attempts: 1, status: 0},
		{name: "API Gateway's 504 of a POST with a key is sent again", call: redeem,
			answers:  []answer{{status: 504, header: okJSON, body: `{"message":"Service Unavailable"}`}, {status: 201, header: okJSON, body: redeemed}},
			retry:    Retry{BaseDelay: 100 * time.Millisecond},
			attempts: 2, waits: []time.Duration{-100 * time.Millisecond}, status: 201},
		{name: "API Gateway's 502 of a PATCH (no key) is the answer", call: patch,
			answers:  []answer{{status: 502, header: okJSON, body: `{"message":"Internal Server Error"}`}},
			attempts: 1, status: 502},
		{name: "a 500 is not retried", call: redeem,
			answers:  []answer{{status: 500, header: problemJSON, body: `{"type":"https://accrue.dev/problems/internal-error","title":"Internal error","status":500}`}},
			attempts: 1, status: 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newScript(t, tc.answers...)
			a, waits := testClient(t, s, Config{Retry: tc.retry})
			resp, err := tc.call(context.Background(), a, tc.key)
			switch {
			case tc.status == 0 && err == nil:
				t.Fatalf("status %d, want an error", resp.StatusCode)
			case tc.status != 0 && err != nil:
				t.Fatal(err)
			case tc.status != 0:
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
				}
				if tc.status == 409 && string(body) != conflict {
					t.Fatalf("the 409's body was not kept for the caller: %q", body)
				}
			}
			got := s.requests()
			if len(got) != tc.attempts {
				t.Fatalf("%d attempts, want %d", len(got), tc.attempts)
			}
			if len(*waits) != len(tc.waits) {
				t.Fatalf("waits %v, want %v", *waits, tc.waits)
			}
			for i, w := range tc.waits {
				// A negative want is a backoff of -want: from half of it to all.
				if ok := (w >= 0 && (*waits)[i] == w) || (w < 0 && (*waits)[i] >= -w/2 && (*waits)[i] <= -w); !ok {
					t.Fatalf("waits %v, want %v", *waits, tc.waits)
				}
			}
			// Every attempt is the same request: method, path, body, key
			// (a state-changing POST always has one; others none).
			first := got[0]
			key := first.header.Get(IdempotencyKeyHeader)
			switch {
			case first.method == http.MethodPost && key == "":
				t.Fatal("a state-changing POST without an Idempotency-Key")
			case first.method != http.MethodPost && key != "":
				t.Fatalf("a %s with an Idempotency-Key", first.method)
			case tc.key != "" && key != tc.key:
				t.Fatalf("Idempotency-Key %q, want the caller's %q", key, tc.key)
			}
			for _, r := range got {
				if r.method != first.method || r.path != first.path || r.body != first.body || r.header.Get(IdempotencyKeyHeader) != key {
					t.Fatalf("a retry differs: %+v, first %+v", r, first)
				}
				if r.header.Get("Authorization") != "Bearer acr_test" {
					t.Fatalf("Authorization %q", r.header.Get("Authorization"))
				}
			}
		})
	}
}

// Each call gets its own key; a read-only POST (simulate) gets none.
func TestIdempotencyKeys(t *testing.T) {
	s := newScript(t, answer{status: 201, header: okJSON, body: redeemed})
	n := 0
	a, _ := testClient(t, s, Config{NewIdempotencyKey: func() string { n++; return "k-" + strconv.Itoa(n) }})
	ctx := context.Background()
	for range 2 {
		if _, err := a.RedeemWithResponse(ctx, "cust-42", nil, RedemptionRequest{Points: Ptr[int64](1)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.SimulateProgramWithResponse(ctx, SimulationRequest{MemberId: Ptr("cust-42")}); err != nil {
		t.Fatal(err)
	}
	got := s.requests()
	if k0, k1, k2 := got[0].header.Get(IdempotencyKeyHeader), got[1].header.Get(IdempotencyKeyHeader), got[2].header.Get(IdempotencyKeyHeader); k0 != "k-1" || k1 != "k-2" || k2 != "" {
		t.Fatalf("keys %q %q %q, want k-1, k-2 and none for simulate", k0, k1, k2)
	}
	// The default keys are random and fit the API's 255 characters.
	d, _ := New(Config{BaseURL: "http://x", APIKey: "k"})
	k := d.ClientInterface.(*Client).Client.(*retrying).newKey()
	if len(k) < 20 || len(k) > 255 || k == d.ClientInterface.(*Client).Client.(*retrying).newKey() {
		t.Fatalf("default key %q", k)
	}
}

// The context bounds the retries: a wait that would end after its deadline is
// not begun (the caller gets the answer), and its end stops a wait.
func TestRetriesStopWithTheContext(t *testing.T) {
	s := newScript(t, answer{status: 503, header: with(problemJSON, "Retry-After", "5"), body: tryAgain})
	a, err := New(Config{BaseURL: s.srv.URL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := a.GetMemberWithResponse(ctx, "cust-42")
	if err != nil || r.StatusCode() != 503 || len(s.requests()) != 1 {
		t.Fatalf("deadline before the wait ends: %v, %d attempts", err, len(s.requests()))
	}
	if err := Check(r.HTTPResponse, r.Body); !IsProblem(err, "try-again") {
		t.Fatalf("Check: %v", err)
	}

	s2 := newScript(t, answer{status: 429, header: with(okJSON, "Retry-After", "10"), body: throttled})
	a2, _ := New(Config{BaseURL: s2.srv.URL, APIKey: "k"})
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel2)
	start := time.Now()
	_, err = a2.GetMemberWithResponse(ctx2, "cust-42")
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("cancelled during the wait: %v after %v", err, time.Since(start))
	}
}

// The wait is real: Retry-After 1 holds the retry back a second.
func TestRetryAfterIsWaited(t *testing.T) {
	s := newScript(t,
		answer{status: 503, header: with(problemJSON, "Retry-After", "1"), body: tryAgain},
		answer{status: 201, header: okJSON, body: redeemed})
	a, err := New(Config{BaseURL: s.srv.URL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r, err := a.RedeemWithResponse(context.Background(), "cust-42", nil, RedemptionRequest{Points: Ptr[int64](1)})
	if err != nil || r.JSON201 == nil || r.JSON201.Redemption.Id != "r1" {
		t.Fatalf("%v %+v", err, r)
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("retried after %v, before Retry-After's second", took)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{" 3 ", 3 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Thursday, 05-Nov-26 12:00:30 GMT", 30 * time.Second, true}, // RFC 850, obsolete but valid
		{"99999999999999999999999", 1<<63 - 1, true},
		{"9223372036854775807", 1<<63 - 1, true},
	}
	for _, tc := range cases {
		got, ok := RetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
