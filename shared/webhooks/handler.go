package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/metrics"
	"github.com/accrue/accrue/shared/store"
)

// Store is what the delivery function uses of the store.
type Store interface {
	PartnerWebhooks(ctx context.Context, partner string) ([]store.Webhook, error)
	RecordDeliveryAttempt(ctx context.Context, d store.Delivery) (bool, error)
}

// Decrypter decrypts endpoints' signing secrets (Box).
type Decrypter interface {
	DecryptSecret(ctx context.Context, partner, webhook string, blob []byte) (string, error)
}

// Config of a Handler.
type Config struct {
	Store Store
	Box   Decrypter
	// Queue is the deliveries queue (next attempts; hiding early ones).
	Queue  *Queue
	Policy URLPolicy
	// Schedule of retries (default DefaultSchedule).
	Schedule Schedule
	// Timeout of each attempt (default AttemptTimeout).
	Timeout time.Duration
	// CacheTTL: how long a partner's endpoints (and their decrypted
	// secrets) are kept in the process (default 1 s): a change of an
	// endpoint reaches deliveries within it. (A query of a partner's
	// endpoints per second and process: at a peak's 100 processes, 100
	// small queries a second.)
	CacheTTL time.Duration
	Log      *slog.Logger
	Metrics  *metrics.EMF
	Now      func() time.Time
}

// DefaultCacheTTL is Config.CacheTTL's default.
const DefaultCacheTTL = time.Second

// Handler is the webhooks function: the fan-out of domain events to the
// partner's endpoints and the attempts of each delivery.
type Handler struct {
	cfg    Config
	poster *Poster
	mu     sync.Mutex
	cache  map[string]cachedEndpoints
}

type cachedEndpoints struct {
	at        time.Time
	endpoints []store.Webhook
	// secrets decrypted, by endpoint id and version.
	secrets map[string][]string
}

// New returns the handler.
func New(cfg Config) *Handler {
	if cfg.Schedule == nil {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Queue != nil {
		cfg.Queue.now = cfg.Now
	}
	return &Handler{cfg: cfg, poster: NewPoster(cfg.Policy, cfg.Timeout), cache: map[string]cachedEndpoints{}}
}

// Metric names and the Outcome dimension's values (EMF, namespace Accrue).
const (
	// MetricDeliveries counts attempts by Outcome.
	MetricDeliveries = "WebhookDeliveries"
	OutcomeDelivered = "delivered"
	OutcomeFailed    = "failed" // a retry is scheduled
	OutcomeDead      = "dead"   // the last attempt failed: alarmed
)

// Handle is the Lambda handler of both queues of the function (an SQS event
// of either: each record is told by its shape): an EventBridge event of the
// events queue is fanned out, a Message of the deliveries queue is
// attempted. The records are handled concurrently; those that fail, or whose
// attempt is not due yet, are reported as batch item failures (the queue
// gives them again later).
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var mu sync.Mutex
	var resp events.SQSEventResponse
	var wg sync.WaitGroup
	for _, rec := range ev.Records {
		wg.Go(func() {
			var err error
			if isEvent([]byte(rec.Body)) {
				err = h.fanOut(ctx, rec)
			} else {
				err = h.attempt(ctx, rec)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, errNotDue) {
				h.cfg.Log.ErrorContext(ctx, "webhooks: message failed; it will be handled again", "message_id", rec.MessageId, "error", err)
			}
			mu.Lock()
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			mu.Unlock()
		})
	}
	wg.Wait()
	return resp, nil
}

// isEvent tells an EventBridge event (the events queue) from a Message.
func isEvent(body []byte) bool {
	var probe struct {
		DetailType *string `json:"detail-type"`
	}
	return json.Unmarshal(body, &probe) == nil && probe.DetailType != nil
}

// busEvent is the part of an EventBridge event the fan-out reads.
type busEvent struct {
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
}

// fanOut queues the first attempt of the event's delivery to each endpoint
// of its partner that receives its type. The delivery of an event to an
// endpoint has one id (store.DeliveryID): an event fanned out twice (the bus
// delivered it twice) makes the same deliveries, and the store records each
// once.
func (h *Handler) fanOut(ctx context.Context, rec events.SQSMessage) error {
	var be busEvent
	if err := json.Unmarshal([]byte(rec.Body), &be); err != nil {
		return fmt.Errorf("event message: %w", err)
	}
	if be.Source != domainevents.Source {
		h.cfg.Log.WarnContext(ctx, "webhooks: not an Accrue event, dropped", "source", be.Source, "message_id", rec.MessageId)
		return nil
	}
	var e domainevents.Event
	if err := json.Unmarshal(be.Detail, &e); err != nil {
		return fmt.Errorf("event detail: %w", err)
	}
	if e.ID == "" || e.PartnerID == "" || e.Type != be.DetailType || domainevents.SchemaVersion(e.Type) == 0 {
		return fmt.Errorf("event %q of type %q (detail-type %q) is not one of the catalogue's", e.ID, e.Type, be.DetailType)
	}
	endpoints, err := h.endpoints(ctx, e.PartnerID)
	if err != nil {
		return err
	}
	var body []byte
	var errs []error
	now := h.cfg.Now()
	for _, w := range endpoints {
		if !w.Receives(e.Type) {
			continue
		}
		if body == nil {
			if body, err = domainevents.CloudEvent(e); err != nil {
				return err
			}
		}
		m := Message{
			V: MessageVersion, Partner: e.PartnerID, Webhook: w.ID, Delivery: store.DeliveryID(w.ID, e.ID, e.Time),
			EventID: e.ID, EventType: e.Type, EventTime: e.Time, Body: string(body), Attempt: 1, Try: 1, Due: now,
		}
		if err := h.cfg.Queue.Send(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// errNotDue: the message arrived before its attempt is due and was hidden
// until then.
var errNotDue = errors.New("not due yet")

// attempt makes one attempt of a delivery: POSTs the event to the endpoint,
// records the outcome, and queues the next attempt when the schedule has
// one. The record is written before the next attempt is queued, and only by
// the message whose attempt it is (a duplicate message stops there), so a
// delivery has one chain of attempts; a failure after the record is
// written has the message handled again: the POST is repeated (a duplicate
// the receiver recognises by its webhook-id) and the same record rewritten.
func (h *Handler) attempt(ctx context.Context, rec events.SQSMessage) error {
	m, err := ParseMessage([]byte(rec.Body))
	if err != nil {
		return err
	}
	now := h.cfg.Now()
	if wait := m.Due.Sub(now); wait > 0 {
		if err := h.cfg.Queue.hide(ctx, rec.ReceiptHandle, wait); err != nil {
			return err
		}
		return errNotDue
	}
	log := h.cfg.Log.With("partner_id", m.Partner, "webhook_id", m.Webhook, "delivery_id", m.Delivery, "attempt", m.Attempt)
	w, found, err := h.endpoint(ctx, m.Partner, m.Webhook)
	if err != nil {
		return err
	}
	if !found {
		log.InfoContext(ctx, "webhooks: the endpoint was deleted; delivery dropped")
		return nil
	}
	d := store.Delivery{
		ID: m.Delivery, PartnerID: m.Partner, WebhookID: m.Webhook, EventID: m.EventID, EventType: m.EventType,
		EventTime: m.EventTime, Attempts: m.Attempt, LastAttemptAt: &now, MessageID: rec.MessageId,
	}
	var o Outcome
	if w.Active {
		secrets, err := h.secrets(ctx, w, now)
		if err != nil {
			return err
		}
		sig, err := Sign(m.EventID, now, []byte(m.Body), secrets...)
		if err != nil {
			return err
		}
		o = h.poster.Post(ctx, w.URL, m.EventID, now, sig, []byte(m.Body))
	} else {
		o = Outcome{Err: "not sent: the endpoint is inactive"}
	}
	d.LastStatusCode, d.LastError = o.Status, o.Err
	var next time.Time
	outcome := OutcomeDelivered
	switch due, dead := h.cfg.Schedule.Next(m.Try, now); {
	case o.OK():
		d.Status, d.DeliveredAt = store.DeliveryDelivered, &now
	case dead || !w.Active:
		d.Status, d.Body, outcome = store.DeliveryDead, m.Body, OutcomeDead
	default:
		d.Status, d.NextAttemptAt, next, outcome = store.DeliveryPending, &due, due, OutcomeFailed
	}
	mine, err := h.cfg.Store.RecordDeliveryAttempt(ctx, d)
	if err != nil {
		return err
	}
	h.cfg.Metrics.Count(MetricDeliveries, 1, map[string]string{"Outcome": outcome})
	log.InfoContext(ctx, "webhooks: attempt", "outcome", outcome, "status", o.Status, "error", o.Err, "recorded", mine)
	if !mine || next.IsZero() {
		return nil
	}
	m.Attempt, m.Try, m.Due = m.Attempt+1, m.Try+1, next
	return h.cfg.Queue.Send(ctx, m)
}

// endpoints returns a partner's endpoints, from the cache when fresh.
func (h *Handler) endpoints(ctx context.Context, partner string) ([]store.Webhook, error) {
	now := h.cfg.Now()
	h.mu.Lock()
	c, ok := h.cache[partner]
	h.mu.Unlock()
	if ok && now.Sub(c.at) < h.cfg.CacheTTL {
		return c.endpoints, nil
	}
	ws, err := h.cfg.Store.PartnerWebhooks(ctx, partner)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.cache[partner] = cachedEndpoints{at: now, endpoints: ws, secrets: map[string][]string{}}
	h.mu.Unlock()
	return ws, nil
}

func (h *Handler) endpoint(ctx context.Context, partner, id string) (store.Webhook, bool, error) {
	ws, err := h.endpoints(ctx, partner)
	if err != nil {
		return store.Webhook{}, false, err
	}
	for _, w := range ws {
		if w.ID == id {
			return w, true, nil
		}
	}
	return store.Webhook{}, false, nil
}

// secrets are the signing secrets of w at at, decrypted (once per version
// of the endpoint while it is cached).
func (h *Handler) secrets(ctx context.Context, w store.Webhook, at time.Time) ([]string, error) {
	blobs := w.Secrets(at)
	k := fmt.Sprintf("%s/%d/%d", w.ID, w.Version, len(blobs))
	h.mu.Lock()
	c := h.cache[w.PartnerID]
	got, ok := c.secrets[k]
	h.mu.Unlock()
	if ok {
		return got, nil
	}
	out := make([]string, 0, len(blobs))
	for _, b := range blobs {
		s, err := h.cfg.Box.DecryptSecret(ctx, w.PartnerID, w.ID, b)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	h.mu.Lock()
	if c, ok := h.cache[w.PartnerID]; ok && c.secrets != nil {
		c.secrets[k] = out
	}
	h.mu.Unlock()
	return out, nil
}
