package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/accrue/accrue/shared/eventschema"
	"github.com/accrue/accrue/shared/store"
	"github.com/accrue/accrue/shared/webhooks"
)

// WebhookStore is what the webhook routes use of the store.
type WebhookStore interface {
	CreateWebhook(ctx context.Context, w store.Webhook) (store.Webhook, error)
	Webhook(ctx context.Context, partner, id string) (store.Webhook, error)
	ListWebhooks(ctx context.Context, partner string, limit int32, cursor string) (store.Page[store.Webhook], error)
	UpdateWebhook(ctx context.Context, partner, id string, update func(*store.Webhook) error) (store.Webhook, error)
	DeleteWebhook(ctx context.Context, partner, id string) error
	ListDeliveries(ctx context.Context, q store.DeliveryQuery) (store.Page[store.Delivery], error)
	Delivery(ctx context.Context, partner, webhook, id string) (store.Delivery, error)
	MarkResent(ctx context.Context, partner, webhook, id string, prevAttempts int, at time.Time) (store.Delivery, error)
}

// SecretBox encrypts endpoints' signing secrets, and seals the stored
// answers that show one (webhooks.Box, on the stack's webhook key).
type SecretBox interface {
	EncryptSecret(ctx context.Context, partner, webhook, secret string) ([]byte, error)
	Seal(ctx context.Context, partner string, body []byte) ([]byte, error)
	Open(ctx context.Context, partner string, blob []byte) ([]byte, error)
}

// DeliveryQueue takes re-sent deliveries (webhooks.Queue).
type DeliveryQueue interface {
	Send(ctx context.Context, m webhooks.Message) error
}

// WebhookDeps are what the webhook routes need besides the store.
type WebhookDeps struct {
	Box   SecretBox
	Queue DeliveryQueue
	// Policy: the endpoint URLs the stage accepts (webhooks.PolicyHTTPS in
	// prod); Resolver looks their hosts up (net.DefaultResolver).
	Policy   webhooks.URLPolicy
	Resolver webhooks.Resolver
}

// Limits of the webhook routes.
const (
	// DefaultOverlapHours: how long a rotated secret still signs, unless
	// the rotation says.
	DefaultOverlapHours = 24
	// MaxOverlapHours bounds a rotation's overlap (a week).
	MaxOverlapHours = 7 * 24
)

// WebhookView is an endpoint as the API shows it: never its secret, except
// in the answer that made it (Secret, once).
type WebhookView struct {
	ID         string   `json:"id"`
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"`
	Active     bool     `json:"active"`
	// Secret: the new signing secret, in the answer of POST /v1/webhooks
	// and of a PATCH that rotates it; nowhere else, ever.
	Secret          string     `json:"secret,omitempty"`
	SecretCreatedAt time.Time  `json:"secret_created_at"`
	PreviousUntil   *time.Time `json:"previous_secret_expires_at,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

func webhookView(w store.Webhook, now time.Time) WebhookView {
	v := WebhookView{ID: w.ID, URL: w.URL, EventTypes: nonNil(w.EventTypes), Active: w.Active,
		SecretCreatedAt: w.SecretAt, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
	if w.PrevUntil != nil && now.Before(*w.PrevUntil) && len(w.PrevSecret) > 0 {
		v.PreviousUntil = w.PrevUntil
	}
	return v
}

// DeliveryView is a delivery of the log.
type DeliveryView struct {
	ID             string     `json:"id"`
	WebhookID      string     `json:"webhook_id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	EventTime      time.Time  `json:"event_time"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastAttemptAt  *time.Time `json:"last_attempt_at,omitempty"`
	LastStatusCode int        `json:"last_status_code,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty"`
	DeliveredAt    *time.Time `json:"delivered_at,omitempty"`
}

func deliveryView(d store.Delivery) DeliveryView {
	v := DeliveryView{ID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, EventType: d.EventType, EventTime: d.EventTime,
		Status: d.Status, Attempts: d.Attempts, LastAttemptAt: d.LastAttemptAt, LastStatusCode: d.LastStatusCode,
		LastError: d.LastError, DeliveredAt: d.DeliveredAt}
	if d.Status == store.DeliveryPending {
		v.NextAttemptAt = d.NextAttemptAt
	}
	return v
}

// webhookRequest is the body of POST /v1/webhooks and PATCH
// /v1/webhooks/{id}: absent (or null) fields are left as they are (POST: url
// is required, event_types default to [] — every type — and active to
// true).
type webhookRequest struct {
	URL          *string        `json:"url"`
	EventTypes   *[]string      `json:"event_types"`
	Active       *bool          `json:"active"`
	RotateSecret *rotateRequest `json:"rotate_secret"`
}

type rotateRequest struct {
	OverlapHours *int `json:"overlap_hours"`
}

// webhookChange is a checked webhookRequest.
type webhookChange struct {
	url        *string
	eventTypes *[]string // sorted, without duplicates
	active     *bool
	rotate     bool
	overlap    time.Duration
}

// parseWebhookRequest decodes and checks a request body: on POST (create)
// url is required and rotate_secret is not a field; event types must be in
// the catalogue; the URL must satisfy the policy (looked up with r, when not
// nil). Every problem names its field.
func parseWebhookRequest(ctx context.Context, body []byte, create bool, p webhooks.URLPolicy, r webhooks.Resolver) (webhookChange, error) {
	var req webhookRequest
	if err := decodeStrict(body, &req); err != nil {
		return webhookChange{}, err
	}
	var ch webhookChange
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	switch {
	case req.URL != nil:
		if err := webhooks.CheckURL(ctx, *req.URL, p, r); err != nil {
			var ue *webhooks.URLError
			if !errors.As(err, &ue) {
				return webhookChange{}, err
			}
			bad("url", ue.Msg)
		}
		ch.url = req.URL
	case create:
		bad("url", "required")
	}
	if req.EventTypes != nil {
		known := eventschema.Types()
		types := []string{}
		for i, t := range *req.EventTypes {
			if !slices.Contains(known, t) {
				bad(fmt.Sprintf("event_types[%d]", i), "unknown event type (GET /v1/event-types lists them)")
				continue
			}
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
		slices.Sort(types)
		ch.eventTypes = &types
	}
	ch.active = req.Active
	if req.RotateSecret != nil {
		if create {
			bad("rotate_secret", "unknown field")
		}
		ch.rotate, ch.overlap = true, DefaultOverlapHours*time.Hour
		if h := req.RotateSecret.OverlapHours; h != nil {
			if *h < 0 || *h > MaxOverlapHours {
				bad("rotate_secret.overlap_hours", fmt.Sprintf("an integer from 0 to %d", MaxOverlapHours))
			}
			ch.overlap = time.Duration(*h) * time.Hour
		}
	}
	if len(errs) > 0 {
		ae := invalid(errs[0].Field, errs[0].Message)
		ae.fields = errs
		return webhookChange{}, ae
	}
	return ch, nil
}

// webhookDeps returns the routes' dependencies, or a 500 when the API runs
// without them.
func (s *server) webhookDeps() (*WebhookDeps, error) {
	if s.Webhooks == nil {
		return nil, errors.New("webhooks are not configured (no WebhookDeps)")
	}
	return s.Webhooks, nil
}

// newSecret makes a signing secret for endpoint id and encrypts it.
func newSecret(ctx context.Context, d *WebhookDeps, partner, id string) (string, []byte, error) {
	secret := webhooks.NewSecret()
	blob, err := d.Box.EncryptSecret(ctx, partner, id, secret)
	if err != nil {
		return "", nil, fmt.Errorf("encrypt the signing secret: %w", err)
	}
	return secret, blob, nil
}

// createWebhook is POST /v1/webhooks: a new endpoint and its signing secret,
// shown in this answer only. Its stored answer (for a retry with the same
// Idempotency-Key) is sealed with the webhook key.
func (s *server) createWebhook(ctx context.Context, c *call) (result, error) {
	d, err := s.webhookDeps()
	if err != nil {
		return result{}, err
	}
	ch, err := parseWebhookRequest(ctx, c.body, true, d.Policy, d.Resolver)
	if err != nil {
		return result{}, err
	}
	partner, now := c.principal.PartnerID, s.Now().UTC()
	w := store.Webhook{ID: store.NewWebhookID(), PartnerID: partner, URL: *ch.url, Active: true,
		SecretAt: now, CreatedAt: now, UpdatedAt: now}
	if ch.eventTypes != nil {
		w.EventTypes = *ch.eventTypes
	}
	if ch.active != nil {
		w.Active = *ch.active
	}
	secret, blob, err := newSecret(ctx, d, partner, w.ID)
	if err != nil {
		return result{}, err
	}
	w.Secret = blob
	c.seal = func(b []byte) ([]byte, error) { return d.Box.Seal(ctx, partner, b) }
	render := func(wr store.Written) (result, error) {
		v := webhookView(*wr.Webhook, now)
		v.Secret = secret
		return result{http.StatusCreated, v}, nil
	}
	c.respond(render)
	created, err := s.Store.CreateWebhook(ctx, w)
	if err != nil {
		return result{}, err
	}
	return render(store.Written{Webhook: &created})
}

// webhookID reads and checks the {id} path value of the webhook routes.
func webhookID(c *call) (string, error) { return pathID(c, "id", idWebhook) }

// listWebhooks is GET /v1/webhooks.
func (s *server) listWebhooks(ctx context.Context, c *call) (result, error) {
	limit, cursor, err := pageParams(c.r)
	if err != nil {
		return result{}, err
	}
	page, err := s.Store.ListWebhooks(ctx, c.principal.PartnerID, limit, cursor)
	if err != nil {
		return result{}, err
	}
	now := s.Now()
	out := list[WebhookView]{Data: make([]WebhookView, 0, len(page.Items)), NextCursor: page.Next}
	for _, w := range page.Items {
		out.Data = append(out.Data, webhookView(w, now))
	}
	return result{http.StatusOK, out}, nil
}

// getWebhook is GET /v1/webhooks/{id}.
func (s *server) getWebhook(ctx context.Context, c *call) (result, error) {
	id, err := webhookID(c)
	if err != nil {
		return result{}, err
	}
	w, err := s.Store.Webhook(ctx, c.principal.PartnerID, id)
	if err != nil {
		return result{}, err
	}
	return result{http.StatusOK, webhookView(w, s.Now())}, nil
}

// patchWebhook is PATCH /v1/webhooks/{id}: url, event_types, active, and
// rotate_secret — a new secret, shown in this answer only, while the one it
// replaces still signs (beside it) for overlap_hours (default 24; 0 ends it
// at once).
func (s *server) patchWebhook(ctx context.Context, c *call) (result, error) {
	d, err := s.webhookDeps()
	if err != nil {
		return result{}, err
	}
	id, err := webhookID(c)
	if err != nil {
		return result{}, err
	}
	ch, err := parseWebhookRequest(ctx, c.body, false, d.Policy, d.Resolver)
	if err != nil {
		return result{}, err
	}
	partner, now := c.principal.PartnerID, s.Now().UTC()
	var secret string
	var blob []byte
	if ch.rotate {
		// Made before the update, once: a retried update keeps it.
		if secret, blob, err = newSecret(ctx, d, partner, id); err != nil {
			return result{}, err
		}
	}
	w, err := s.Store.UpdateWebhook(ctx, partner, id, func(w *store.Webhook) error {
		if ch.url != nil {
			w.URL = *ch.url
		}
		if ch.eventTypes != nil {
			w.EventTypes = *ch.eventTypes
		}
		if ch.active != nil {
			w.Active = *ch.active
		}
		if ch.rotate {
			until := now.Add(ch.overlap)
			w.PrevSecret, w.PrevUntil, w.Secret, w.SecretAt = w.Secret, &until, blob, now
			if ch.overlap == 0 {
				w.PrevSecret, w.PrevUntil = nil, nil
			}
		}
		w.UpdatedAt = now
		return nil
	})
	if err != nil {
		return result{}, err
	}
	v := webhookView(w, now)
	v.Secret = secret
	return result{http.StatusOK, v}, nil
}

// deleteWebhook is DELETE /v1/webhooks/{id}: no more deliveries (those
// under way are dropped); its delivery log goes with it.
func (s *server) deleteWebhook(ctx context.Context, c *call) (result, error) {
	id, err := webhookID(c)
	if err != nil {
		return result{}, err
	}
	if err := s.Store.DeleteWebhook(ctx, c.principal.PartnerID, id); err != nil {
		return result{}, err
	}
	return result{status: http.StatusNoContent}, nil
}

// listDeliveries is GET /v1/webhooks/{id}/deliveries?status=: the delivery
// log, newest event first; status=dead is the dead-letter list.
func (s *server) listDeliveries(ctx context.Context, c *call) (result, error) {
	id, err := webhookID(c)
	if err != nil {
		return result{}, err
	}
	limit, cursor, err := pageParams(c.r)
	if err != nil {
		return result{}, err
	}
	status := c.r.URL.Query().Get("status")
	if status != "" && !slices.Contains(store.DeliveryStatuses, status) {
		return result{}, invalid("status", "one of pending, delivered, dead")
	}
	partner := c.principal.PartnerID
	if _, err := s.Store.Webhook(ctx, partner, id); err != nil {
		return result{}, err
	}
	page, err := s.Store.ListDeliveries(ctx, store.DeliveryQuery{Partner: partner, Webhook: id, Status: status, Limit: limit, Cursor: cursor})
	if err != nil {
		return result{}, err
	}
	out := list[DeliveryView]{Data: make([]DeliveryView, 0, len(page.Items)), NextCursor: page.Next}
	for _, d := range page.Items {
		out.Data = append(out.Data, deliveryView(d))
	}
	return result{http.StatusOK, out}, nil
}

// deliveryIDs reads and checks {id} and {delivery_id}, and that the endpoint
// is the partner's.
func (s *server) deliveryIDs(ctx context.Context, c *call) (webhook, delivery string, err error) {
	if webhook, err = webhookID(c); err != nil {
		return "", "", err
	}
	if delivery, err = pathID(c, "delivery_id", idDelivery); err != nil {
		return "", "", err
	}
	if _, err := s.Store.Webhook(ctx, c.principal.PartnerID, webhook); err != nil {
		return "", "", err
	}
	return webhook, delivery, nil
}

// getDelivery is GET /v1/webhooks/{id}/deliveries/{delivery_id}.
func (s *server) getDelivery(ctx context.Context, c *call) (result, error) {
	wh, id, err := s.deliveryIDs(ctx, c)
	if err != nil {
		return result{}, err
	}
	d, err := s.Store.Delivery(ctx, c.principal.PartnerID, wh, id)
	if err != nil {
		return result{}, err
	}
	return result{http.StatusOK, deliveryView(d)}, nil
}

// retryDelivery is POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry:
// a dead delivery is sent again, as a new round of the retry schedule (202;
// the delivery is pending until its attempt). Anything but a dead delivery
// is a 409.
func (s *server) retryDelivery(ctx context.Context, c *call) (result, error) {
	deps, err := s.webhookDeps()
	if err != nil {
		return result{}, err
	}
	wh, id, err := s.deliveryIDs(ctx, c)
	if err != nil {
		return result{}, err
	}
	if err := emptyBody(c); err != nil {
		return result{}, err
	}
	partner := c.principal.PartnerID
	d, err := s.Store.Delivery(ctx, partner, wh, id)
	if err != nil {
		return result{}, err
	}
	if d.Status != store.DeliveryDead || d.Body == "" {
		return result{}, store.ErrDeliveryNotDead
	}
	now := s.Now().UTC()
	// Queued first, then marked: a re-send that is queued but not marked
	// (a failure in between) is still made, and recorded by its attempt.
	if err := deps.Queue.Send(ctx, webhooks.Message{
		V: webhooks.MessageVersion, Partner: partner, Webhook: wh, Delivery: d.ID, EventID: d.EventID,
		EventType: d.EventType, EventTime: d.EventTime, Body: d.Body, Attempt: d.Attempts + 1, Try: 1, Due: now,
	}); err != nil {
		return result{}, err
	}
	render := func(w store.Written) (result, error) {
		return result{http.StatusAccepted, deliveryView(*w.Delivery)}, nil
	}
	c.respond(render)
	marked, err := s.Store.MarkResent(ctx, partner, wh, id, d.Attempts, now)
	if err != nil {
		return result{}, err
	}
	return render(store.Written{Delivery: &marked})
}
