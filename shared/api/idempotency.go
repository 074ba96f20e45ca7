package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
)

// rawJSON is a stored response replayed as is.
type rawJSON struct {
	contentType string
	body        []byte
}

// MaxIdempotencyKey is the longest Idempotency-Key accepted.
const MaxIdempotencyKey = 255

// idempotent runs h at most once per (partner, Idempotency-Key): the first
// request's response (success or client error) is stored for 24 hours and
// replayed to any retry with the same method, path and body; the same key with
// another request is refused with 409. A server-side failure forgets the key so
// that the client's retry runs again.
func (s *server) idempotent(ctx context.Context, c *call, key string, h handlerFunc) (result, error) {
	if len(key) > MaxIdempotencyKey {
		return result{}, invalid("Idempotency-Key", "at most 255 characters")
	}
	sum := sha256.Sum256([]byte(c.r.Method + " " + c.r.URL.Path + "\n" + string(c.body)))
	hash := hex.EncodeToString(sum[:])
	partner := c.principal.PartnerID
	old, err := s.Store.BeginIdempotent(ctx, partner, key, hash)
	if err != nil {
		return result{}, err
	}
	if old != nil {
		switch {
		case old.RequestHash != hash:
			return result{}, problem(probIdemReuse, "this Idempotency-Key was used for another request in the last 24 hours")
		case !old.Done:
			return result{}, problem(probIdemBusy, "retry after the first request finishes")
		}
		c.w.Header().Set("Idempotent-Replayed", "true")
		return result{status: old.Status, body: rawJSON{contentType: old.ContentType, body: old.Body}}, nil
	}
	res, err := h(ctx, c)
	status, ctype, body := res.status, "application/json", []byte(nil)
	if err != nil {
		p, _ := toProblem(err)
		if p.Status >= 500 {
			if aerr := s.Store.AbandonIdempotent(ctx, partner, key); aerr != nil {
				c.log.ErrorContext(ctx, "forgetting an idempotency key failed", "error", aerr)
			}
			return result{}, err
		}
		p.Instance = c.r.URL.Path
		status, ctype = p.Status, "application/problem+json"
		body, _ = json.Marshal(p)
		res = result{status: status, body: rawJSON{contentType: ctype, body: body}}
	} else if status != http.StatusNoContent {
		if body, err = json.Marshal(res.body); err != nil {
			return result{}, err
		}
		res.body = rawJSON{contentType: ctype, body: body}
	}
	if ferr := s.Store.FinishIdempotent(ctx, partner, key, hash, status, ctype, body); ferr != nil {
		c.log.ErrorContext(ctx, "storing an idempotent response failed", "error", ferr)
	}
	return res, nil
}
