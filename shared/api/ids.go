package api

import (
	"encoding/base64"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/store"
)

// The ids a request may carry, checked in this one place before anything
// reaches the store: every id of a path or a body is one of these kinds, and a
// bad one is a validation-error naming the field. So no id can make a key that
// DynamoDB refuses (a 500), and what the checks accept is what the OpenAPI
// document says. Cursors are the store's own codec (store.ErrBadCursor).
type idKind struct {
	what  string // how the problem describes a valid one
	valid func(string) bool
}

var (
	// idMember is a partner's own member id (the external id).
	idMember = idKind{"a member id: 1 to 128 printable characters without spaces", payment.ValidExternalID}
	// idRedemption is an id Accrue gave a redemption ("rdm_" + hex).
	idRedemption = idKind{"a redemption id from POST /v1/members/{id}/redemptions", validOpaqueID}
	// idReview is an opaque review item id from GET /v1/review.
	idReview = idKind{"a review item id from GET /v1/review", validReviewID}
	// idCatalog names a reward (lower-case letters, digits, _ and -).
	idCatalog = idKind{"lower-case letters, digits, _ and -, 1 to 63 characters", validID}
	// idEventType names a domain event type (points.earned).
	idEventType = idKind{"an event type such as points.earned (GET /v1/event-types lists them)", validEventType}
	// idWebhook is an id Accrue gave a webhook endpoint ("wh_" + hex).
	idWebhook = idKind{"a webhook id from POST /v1/webhooks (wh_ and 24 hex digits)", store.ValidWebhookID}
	// idDelivery is an id of a webhook delivery ("dlv_" + hex).
	idDelivery = idKind{"a delivery id from GET /v1/webhooks/{id}/deliveries (dlv_ and 32 hex digits)", store.ValidDeliveryID}
	// idSchemaVersion is a version of an event type's schema.
	idSchemaVersion = idKind{"a schema version: an integer from 1 to 9999", validSchemaVersion}
)

// MaxReviewIDLen bounds a review item id (base64url of a key of at most a few
// hundred bytes; the sort key limit is 1024 bytes).
const MaxReviewIDLen = 1024

// pathID reads the path value name and checks it is an id of kind k.
func pathID(c *call, name string, k idKind) (string, error) {
	return checkID(name, c.r.PathValue(name), k)
}

// checkID checks that v, the value of field, is an id of kind k.
func checkID(field, v string, k idKind) (string, error) {
	if !k.valid(v) {
		return "", invalid(field, k.what)
	}
	return v, nil
}

// memberID reads and checks the {id} path value of the member routes.
func memberID(c *call) (string, error) { return pathID(c, "id", idMember) }

// validID: lower-case letters, digits, and (not first) _ and -; 1 to 63.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (i > 0 && (r == '_' || r == '-'))
		if !ok {
			return false
		}
	}
	return true
}

// validOpaqueID: an id Accrue made: ASCII letters, digits and _, 1 to 64.
func validOpaqueID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// validReviewID: base64url (no padding) of a non-empty key, within the limit.
func validReviewID(s string) bool {
	if len(s) == 0 || len(s) > MaxReviewIDLen {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) > 0
}
