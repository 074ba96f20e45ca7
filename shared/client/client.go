package client

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"time"

	smithytime "github.com/aws/smithy-go/time"
)

// Accrue is a client of the Accrue partner API: the generated client (one
// method per operation; the ...WithResponse ones decode the answer) on a
// transport that adds the API key, Idempotency-Keys and retries, plus the
// paging helpers.
type Accrue struct {
	*ClientWithResponses
}

// Config is what New needs; only BaseURL and APIKey are required.
type Config struct {
	// BaseURL is the API's address, such as
	// "https://abc123.execute-api.eu-west-1.amazonaws.com" or
	// "http://127.0.0.1:8080" (make dev).
	BaseURL string
	// APIKey is sent as Authorization: Bearer on every request.
	APIKey string
	// HTTPClient sends the requests (nil: an http.Client with a 35-second
	// timeout per attempt; the API answers within 30).
	HTTPClient HttpRequestDoer
	// Retry bounds the retries (zero: DefaultRetry; MaxAttempts 1 turns
	// them off).
	Retry Retry
	// NewIdempotencyKey makes the Idempotency-Key of each state-changing POST
	// that has none (nil: 26 random base32 characters, 130 bits).
	NewIdempotencyKey func() string
	// UserAgent is the User-Agent header ("" : "accrue-go-client").
	UserAgent string
}

// New returns a client of the API that c describes.
func New(c Config) (*Accrue, error) {
	if c.BaseURL == "" || c.APIKey == "" {
		return nil, errors.New("accrue client: Config needs a BaseURL and an APIKey")
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 35 * time.Second}
	}
	if c.NewIdempotencyKey == nil {
		c.NewIdempotencyKey = rand.Text
	}
	if c.UserAgent == "" {
		c.UserAgent = "accrue-go-client"
	}
	doer := &retrying{next: c.HTTPClient, policy: c.Retry.withDefaults(), newKey: c.NewIdempotencyKey, sleep: smithytime.SleepWithContext, now: time.Now}
	auth := func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
		req.Header.Set("User-Agent", c.UserAgent)
		return nil
	}
	gen, err := NewClientWithResponses(c.BaseURL, WithHTTPClient(doer), WithRequestEditorFn(auth))
	if err != nil {
		return nil, err
	}
	return &Accrue{ClientWithResponses: gen}, nil
}

// Ptr returns a pointer to v, for the optional fields of requests.
func Ptr[T any](v T) *T { return &v }
