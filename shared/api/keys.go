package api

import (
	"context"
	"net/http"

	"github.com/accrue/accrue/shared/keys"
	"github.com/accrue/accrue/shared/store"
)

// KeyStore is what the API uses of the API keys: authentication of every
// request, and the key routes (admin).
type KeyStore interface {
	Authenticator
	Create(ctx context.Context, partner, role, label string) (string, keys.Key, error)
	List(ctx context.Context, partner string, limit int32, cursor string) ([]keys.Key, string, error)
	RevokeUnlessLastAdmin(ctx context.Context, partner, keyID string) (keys.Key, error)
}

// idKey is an API key id (from POST or GET /v1/keys).
var idKey = idKind{"an API key id from GET /v1/keys: 26 characters", keys.ValidID}

type createKeyRequest struct {
	Role  string `json:"role"`
	Label string `json:"label"`
}

// createdKey is POST /v1/keys' answer: the key's metadata and, in the
// first answer only, the key itself.
type createdKey struct {
	Key keys.Key `json:"key"`
	// Secret is the key: shown once. Accrue keeps only its hash, so a
	// replay of the request (same Idempotency-Key) answers without it.
	Secret string `json:"secret,omitempty"`
}

// createKey is POST /v1/keys: a new key of the caller's partner. The stored
// response of an Idempotency-Key is the metadata alone: the secret is never
// stored (a client that lost the first answer revokes the key and creates
// another).
func (s *server) createKey(ctx context.Context, c *call) (result, error) {
	var req createKeyRequest
	if err := decodeStrict(c.body, &req); err != nil {
		return result{}, err
	}
	if !keys.ValidRole(req.Role) {
		return result{}, invalid("role", `"admin" or "app"`)
	}
	if !keys.ValidLabel(req.Label) {
		return result{}, invalid("label", "up to 100 printable characters")
	}
	render := func(w store.Written) (result, error) {
		k, _ := w.Result.(keys.Key)
		return result{http.StatusCreated, createdKey{Key: k}}, nil
	}
	c.respond(render)
	plain, k, err := s.Keys.Create(ctx, c.principal.PartnerID, req.Role, req.Label)
	if err != nil {
		return result{}, err
	}
	return result{http.StatusCreated, unstored{createdKey{Key: k, Secret: plain}}}, nil
}

// listKeys is GET /v1/keys: the partner's keys, revoked ones too, in
// creation order (never a key nor its hash).
func (s *server) listKeys(ctx context.Context, c *call) (result, error) {
	limit, cursor, err := pageParams(c.r)
	if err != nil {
		return result{}, err
	}
	ks, next, err := s.Keys.List(ctx, c.principal.PartnerID, limit, cursor)
	if err != nil {
		return result{}, err
	}
	return result{http.StatusOK, list[keys.Key]{Data: nonNil(ks), NextCursor: next}}, nil
}

// revokeKey is DELETE /v1/keys/{id}: the key stops working at once (every
// request reads its key consistently). Revoking a revoked key returns it; the
// partner's last active admin key is never revoked (409 last-admin-key).
func (s *server) revokeKey(ctx context.Context, c *call) (result, error) {
	id, err := pathID(c, "id", idKey)
	if err != nil {
		return result{}, err
	}
	k, err := s.Keys.RevokeUnlessLastAdmin(ctx, c.principal.PartnerID, id)
	if err != nil {
		return result{}, err
	}
	return result{http.StatusOK, k}, nil
}
