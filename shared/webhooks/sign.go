package webhooks

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The headers of a delivery (Standard Webhooks).
const (
	// HeaderID is the message id: the event's stable id, the same on every
	// attempt and re-send of the event to an endpoint (receivers deduplicate
	// on it).
	HeaderID = standardwebhooks.HeaderWebhookID
	// HeaderTimestamp is the attempt's time, unix seconds (signed with the
	// body: a receiver refuses one outside ReplayWindow).
	HeaderTimestamp = standardwebhooks.HeaderWebhookTimestamp
	// HeaderSignature holds "v1,<base64 HMAC-SHA256>" per signing secret,
	// separated by spaces (two during a rotation's overlap).
	HeaderSignature = standardwebhooks.HeaderWebhookSignature
)

// ReplayWindow is how far a delivery's webhook-timestamp may be from the
// receiver's clock, either way: a receiver refuses a delivery outside it, so a
// captured delivery cannot be replayed later. It is the Standard Webhooks
// libraries' tolerance (Verify applies it). Each attempt is signed anew, with
// its own timestamp.
const ReplayWindow = 5 * time.Minute

// SecretPrefix starts every signing secret: "whsec_" + base64 of the key.
const SecretPrefix = "whsec_"

// SecretBytes is the size of a signing key (Standard Webhooks: 24 to 64 bytes).
const SecretBytes = 32

// NewSecret returns a new random signing secret: "whsec_" + the standard
// base64 of 32 random bytes.
func NewSecret() string {
	key := make([]byte, SecretBytes)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// ValidSecret reports whether s is a signing secret of the format NewSecret
// makes (the base64 of 24 to 64 bytes, with or without the prefix).
func ValidSecret(s string) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
	return err == nil && len(key) >= 24 && len(key) <= 64
}

// ErrNoSecret: signing needs at least one secret.
var ErrNoSecret = errors.New("no signing secret")

// Sign returns the webhook-signature header of the message id sent at at with
// body: one "v1,<signature>" per secret, separated by spaces — a receiver
// accepts the message when any of them verifies with its secret, which is
// what lets a rotated secret overlap its successor.
func Sign(id string, at time.Time, body []byte, secrets ...string) (string, error) {
	if len(secrets) == 0 {
		return "", ErrNoSecret
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return "", fmt.Errorf("signing secret: %w", err)
		}
		sig, err := wh.Sign(id, at, body)
		if err != nil {
			return "", fmt.Errorf("sign %s: %w", id, err)
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// Headers sets the Standard Webhooks headers of a message on h.
func Headers(h http.Header, id string, at time.Time, signature string) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(HeaderSignature, signature)
}

// Verify is what a receiver does (accrue webhook listen, the README's
// snippet): it checks that the headers carry a signature of body by secret
// (any of the header's signatures) and a timestamp within ReplayWindow of
// now. It uses the Standard Webhooks library's verification.
func Verify(secret string, h http.Header, body []byte) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return fmt.Errorf("signing secret: %w", err)
	}
	if err := wh.Verify(body, h); err != nil {
		return fmt.Errorf("webhook %s: %w", h.Get(HeaderID), err)
	}
	return nil
}
