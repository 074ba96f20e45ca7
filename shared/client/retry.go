package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Retry bounds the retries of one call.
//
// A call is retried when the API or API Gateway answers:
//   - 503 (the API's `try-again`: nothing was applied; it carries
//     Retry-After);
//   - 429 (API Gateway's throttling: the request never reached the API; it has
//     no Retry-After);
//   - 409 `request-in-progress` (an earlier attempt of the same call, with the
//     same Idempotency-Key, is still running; it carries Retry-After);
//
// and when the request could not be sent or its answer was lost (a network
// error, a timeout, or API Gateway's 502 or 504) if it is safe to send again:
// a GET, or a request with an Idempotency-Key (the API then applies it at most
// once and replays its answer). A 500 is not retried.
//
// The wait is the answer's Retry-After (delay-seconds or an HTTP date), or,
// without one, an exponential backoff with jitter: BaseDelay × 2^(n-1), n the
// retry's number, of which a random half is waited on top of the other half.
// An answer that asks for more than MaxWait, or a wait that would end after
// the context's deadline, is returned to the caller instead of being waited
// out; the context's end stops a wait with the context's error.
type Retry struct {
	// MaxAttempts is the number of attempts of one call, the first included
	// (0: 5).
	MaxAttempts int
	// BaseDelay is the first backoff without Retry-After (0: 250 ms).
	BaseDelay time.Duration
	// MaxWait is the longest wait before one retry (0: 30 s).
	MaxWait time.Duration
}

// DefaultRetry is the retry policy of a zero Retry.
var DefaultRetry = Retry{MaxAttempts: 5, BaseDelay: 250 * time.Millisecond, MaxWait: 30 * time.Second}

func (r Retry) withDefaults() Retry {
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = DefaultRetry.MaxAttempts
	}
	if r.BaseDelay <= 0 {
		r.BaseDelay = DefaultRetry.BaseDelay
	}
	if r.MaxWait <= 0 {
		r.MaxWait = DefaultRetry.MaxWait
	}
	return r
}

// IdempotencyKeyHeader is the header of the API's idempotency keys.
const IdempotencyKeyHeader = "Idempotency-Key"

// readOnlyPOSTs are the POST routes (path suffixes) that change nothing and
// so take no Idempotency-Key; every other POST changes state and gets one.
var readOnlyPOSTs = []string{"/v1/program/simulate"}

// changesState reports whether req is a state-changing POST.
func changesState(req *http.Request) bool {
	if req.Method != http.MethodPost {
		return false
	}
	for _, p := range readOnlyPOSTs {
		if strings.HasSuffix(req.URL.Path, p) {
			return false
		}
	}
	return true
}

// retrying is the client's transport: it gives each state-changing POST an
// Idempotency-Key (kept for all its attempts) and retries as Retry says.
type retrying struct {
	next   HttpRequestDoer
	policy Retry
	newKey func() string
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time
}

func (d *retrying) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if changesState(req) && req.Header.Get(IdempotencyKeyHeader) == "" {
		req.Header.Set(IdempotencyKeyHeader, d.newKey())
	}
	for attempt := 1; ; attempt++ {
		resp, err := d.next.Do(req)
		wait, again := d.decide(req, resp, err, attempt)
		if !again {
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			_ = resp.Body.Close()
		}
		if serr := d.sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("accrue client: %s %s: waiting %v to retry: %w", req.Method, req.URL.Path, wait, serr)
		}
		next := req.Clone(ctx)
		if req.GetBody != nil {
			body, berr := req.GetBody()
			if berr != nil {
				return nil, fmt.Errorf("accrue client: %s %s: rewinding the body to retry: %w", req.Method, req.URL.Path, berr)
			}
			next.Body = body
		}
		req = next
	}
}

// decide says whether the answer (resp or err) of attempt number attempt is
// retried, and after how long.
func (d *retrying) decide(req *http.Request, resp *http.Response, err error, attempt int) (time.Duration, bool) {
	ctx := req.Context()
	if attempt >= d.policy.MaxAttempts || ctx.Err() != nil {
		return 0, false
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return 0, false // the body cannot be sent again
	}
	var wait time.Duration
	switch {
	case err != nil, resp.StatusCode == http.StatusBadGateway, resp.StatusCode == http.StatusGatewayTimeout:
		// No answer, or API Gateway's own for a function that failed or
		// timed out: the request may have been applied.
		if !safeToResend(req) {
			return 0, false
		}
		wait = d.backoff(attempt)
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusServiceUnavailable,
		resp.StatusCode == http.StatusConflict && req.Header.Get(IdempotencyKeyHeader) != "" && inProgress(resp):
		var ok bool
		if wait, ok = RetryAfter(resp.Header.Get("Retry-After"), d.now()); !ok {
			wait = d.backoff(attempt)
		}
	default:
		return 0, false
	}
	if wait > d.policy.MaxWait {
		return 0, false
	}
	if deadline, ok := ctx.Deadline(); ok && d.now().Add(wait).After(deadline) {
		return 0, false
	}
	return wait, true
}

// safeToResend: sending req twice cannot apply it twice.
func safeToResend(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return req.Header.Get(IdempotencyKeyHeader) != ""
}

// backoff is the wait before retry number attempt without Retry-After: half
// of BaseDelay × 2^(attempt-1) (capped at MaxWait) plus a random part of the
// other half.
func (d *retrying) backoff(attempt int) time.Duration {
	full := d.policy.MaxWait
	if shift := attempt - 1; shift < 32 {
		full = min(full, d.policy.BaseDelay<<shift)
	}
	half := full / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// inProgress reports whether a 409 is the problem request-in-progress; the
// body stays readable.
func inProgress(resp *http.Response) bool {
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return false
	}
	var p struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(body, &p) == nil && p.Type == ProblemBase+"request-in-progress"
}

// RetryAfter reads a Retry-After header (RFC 9110 §10.2.3): delay-seconds,
// or an HTTP date (a date already past is no wait). ok is false for an empty
// or unreadable value.
func RetryAfter(v string, now time.Time) (wait time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange), err == nil && n > uint64(math.MaxInt64/int64(time.Second)):
		return time.Duration(math.MaxInt64), true // longer than any MaxWait
	case err == nil:
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
