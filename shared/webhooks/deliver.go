package webhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/accrue/accrue/shared/domainevents"
)

// AttemptTimeout is how long an attempt waits for the endpoint's answer
// (connection, TLS, request and response headers): an endpoint slower than
// that fails the attempt, which is retried.
const AttemptTimeout = 10 * time.Second

// UserAgent of deliveries.
const UserAgent = "Accrue-Webhooks/1"

// Outcome is how an attempt went: the HTTP status of the answer (0 when
// there was none) and, without a 2xx, why it failed.
type Outcome struct {
	Status int
	Err    string
}

// OK reports whether the endpoint accepted the delivery (any 2xx).
func (o Outcome) OK() bool { return o.Status >= 200 && o.Status <= 299 }

// Poster makes the attempts: one POST each, over connections that only reach
// the addresses the policy allows, following no redirects (a 3xx fails the
// attempt), ignoring proxy settings of the environment.
type Poster struct {
	client *http.Client
}

// NewPoster returns a poster for the policy, each attempt within timeout
// (0: AttemptTimeout).
func NewPoster(p URLPolicy, timeout time.Duration) *Poster {
	if timeout <= 0 {
		timeout = AttemptTimeout
	}
	d := Dialer(p)
	d.Timeout = timeout
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Poster{client: &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// maxAnswer is how much of an answer's body is read (then dropped): enough
// for the connection to be reused.
const maxAnswer = 64 * 1024

// Post POSTs body to url as the message id, signed at at.
func (p *Poster) Post(ctx context.Context, url, id string, at time.Time, signature string, body []byte) Outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return Outcome{Err: "bad URL: " + err.Error()}
	}
	req.Header.Set("Content-Type", domainevents.CloudEventsContentType)
	req.Header.Set("User-Agent", UserAgent)
	Headers(req.Header, id, at, signature)
	resp, err := p.client.Do(req)
	if err != nil {
		return Outcome{Err: describe(err)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	o := Outcome{Status: resp.StatusCode}
	if !o.OK() {
		o.Err = fmt.Sprintf("answered %d", resp.StatusCode)
	}
	return o
}

// maxErrLen bounds the error text an attempt records.
const maxErrLen = 200

// describe says why an attempt got no answer, briefly.
func describe(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrNotPublic):
		return "refused: the endpoint's address is not public"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout: no answer within " + AttemptTimeout.String()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed without an answer"
	}
	s := err.Error()
	if len(s) > maxErrLen {
		s = s[:maxErrLen]
	}
	return s
}

// SQS is the part of the SQS client deliveries use.
type SQS interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// DeliveriesQueueEnv names the deliveries queue's URL in a function's
// environment.
const DeliveriesQueueEnv = "ACCRUE_WEBHOOK_DELIVERIES_QUEUE_URL"

// Queue is the deliveries queue: one message per attempt.
type Queue struct {
	client SQS
	url    string
	now    func() time.Time
}

// NewQueue returns the deliveries queue at url.
func NewQueue(client SQS, url string) *Queue { return &Queue{client: client, url: url, now: time.Now} }

// Send puts an attempt on the queue, delayed until it is due (at most
// MaxDelay: the rest of a longer wait is made up when it arrives).
func (q *Queue) Send(ctx context.Context, m Message) error {
	body, err := m.Encode()
	if err != nil {
		return err
	}
	_, err = q.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(q.url), MessageBody: aws.String(body), DelaySeconds: DelaySeconds(m.Due.Sub(q.now())),
	})
	if err != nil {
		return fmt.Errorf("queue attempt %d of delivery %s: %w", m.Attempt, m.Delivery, err)
	}
	return nil
}

// hide hides a received message for d (it comes back then).
func (q *Queue) hide(ctx context.Context, receipt string, d time.Duration) error {
	_, err := q.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(q.url), ReceiptHandle: aws.String(receipt), VisibilityTimeout: VisibilitySeconds(d),
	})
	if err != nil {
		return fmt.Errorf("hide delivery message: %w", err)
	}
	return nil
}
