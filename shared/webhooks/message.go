package webhooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/store"
)

// Message is one attempt of a delivery, as a message of the deliveries
// queue: what the delivery function needs to make the attempt and to record
// it, everything but the endpoint's URL and secrets (read from the table
// when the attempt is made, so that an endpoint's change applies to the
// attempts still to come and no secret is ever on a queue).
type Message struct {
	// V is the message format's version (1).
	V         int    `json:"v"`
	Partner   string `json:"partner"`
	Webhook   string `json:"webhook"`
	Delivery  string `json:"delivery"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	// EventTime is the event's time (the delivery id starts with it).
	EventTime time.Time `json:"event_time"`
	// Body is the CloudEvent to POST, byte for byte.
	Body string `json:"body"`
	// Attempt is the number of this attempt among all of the delivery's
	// (re-sends included), from 1; Try its number in its round (a re-send
	// starts a round), from 1: the schedule's waits are by Try.
	Attempt int `json:"attempt"`
	Try     int `json:"try"`
	// Due: the attempt is not made before.
	Due time.Time `json:"due"`
}

// MessageVersion is the version of the message format.
const MessageVersion = 1

// MaxMessageBytes is SQS's limit on a message (256 KiB).
const MaxMessageBytes = 256 * 1024

// Encode returns the message's JSON.
func (m Message) Encode() (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode delivery %s: %w", m.Delivery, err)
	}
	if len(b) > MaxMessageBytes {
		return "", fmt.Errorf("delivery %s: message of %d bytes, more than SQS takes", m.Delivery, len(b))
	}
	return string(b), nil
}

// errBadMessage: a message of the deliveries queue that is not one of ours.
var errBadMessage = errors.New("not a delivery message")

// ParseMessage reads a message of the deliveries queue: the JSON of Encode,
// every field present and well-formed (ids of the store's forms, the
// delivery id the one of its endpoint and event, an attempt and a try from
// 1 with try <= attempt, a body that is a JSON object); unknown fields and
// trailing data are refused.
func ParseMessage(b []byte) (Message, error) {
	var m Message
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("%w: %w", errBadMessage, err)
	}
	if dec.More() {
		return m, fmt.Errorf("%w: trailing data", errBadMessage)
	}
	switch {
	case m.V != MessageVersion:
		return m, fmt.Errorf("%w: version %d", errBadMessage, m.V)
	case !payment.ValidPartnerID(m.Partner):
		return m, fmt.Errorf("%w: partner %q", errBadMessage, m.Partner)
	case !store.ValidWebhookID(m.Webhook):
		return m, fmt.Errorf("%w: webhook %q", errBadMessage, m.Webhook)
	case m.EventID == "" || len(m.EventID) > 128 || m.EventType == "" || len(m.EventType) > 64 || m.EventTime.IsZero():
		return m, fmt.Errorf("%w: event %q %q", errBadMessage, m.EventID, m.EventType)
	case m.Delivery != store.DeliveryID(m.Webhook, m.EventID, m.EventTime):
		return m, fmt.Errorf("%w: delivery %q is not the webhook's and event's", errBadMessage, m.Delivery)
	case m.Attempt < 1 || m.Try < 1 || m.Try > m.Attempt || m.Attempt > 1000:
		return m, fmt.Errorf("%w: attempt %d, try %d", errBadMessage, m.Attempt, m.Try)
	case m.Due.IsZero():
		return m, fmt.Errorf("%w: no due time", errBadMessage)
	case !json.Valid([]byte(m.Body)) || len(m.Body) < 2 || m.Body[0] != '{':
		return m, fmt.Errorf("%w: the body is not a JSON object", errBadMessage)
	}
	return m, nil
}
