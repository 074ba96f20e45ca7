package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/accrue/accrue/shared/store"
)

// IdempotencyStore keeps Idempotency-Key claims and their responses (the
// write paths of the store commit a response with the change it answers).
type IdempotencyStore interface {
	BeginIdempotent(ctx context.Context, partner, key, hash string, leaseUntil time.Time) (*store.IdemClaim, *store.IdemRecord, error)
	FinishIdempotent(ctx context.Context, c *store.IdemClaim, resp store.IdemResponse) error
	AbandonIdempotent(ctx context.Context, c *store.IdemClaim) error
}

// rawJSON is a stored response replayed as is.
type rawJSON struct {
	contentType string
	body        []byte
}

// unstored is a body holding what the stored response of an Idempotency-Key
// leaves out (a new API key's secret): the first answer is it, a replay is
// the stored response. Never stored itself.
type unstored struct{ body any }

// MaxIdempotencyKey is the longest Idempotency-Key accepted.
const MaxIdempotencyKey = 255

// idempotent runs h at most once per (partner, Idempotency-Key): the first
// request's response (success or client error) is stored for 24 hours and
// replayed to any retry with the same method, path and body; the same key with
// another request is refused with 409.
//
// The response of a request that changes something is stored in the same
// DynamoDB transaction as the change (the handler registers how to render it
// with call.respond; see store/idempotency.go), so a crash or an ambiguous
// failure after the commit still replays, and a claim is leased only until the
// request's own deadline: a retry after it takes over a claim whose request
// died before committing. A server-side failure before any commit forgets the
// claim so that the client's retry runs again.
func (s *server) idempotent(ctx context.Context, c *call, key string, h handlerFunc) (result, error) {
	if len(key) > MaxIdempotencyKey {
		return result{}, invalid("Idempotency-Key", "at most 255 characters")
	}
	sum := sha256.Sum256([]byte(c.r.Method + " " + c.r.URL.Path + "\n" + string(c.body)))
	hash := hex.EncodeToString(sum[:])
	// The claim is the request's until its own deadline, on the clock the
	// store compares leases with.
	left := s.RequestTimeout
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d)
	}
	lease := s.Now().Add(left)
	claim, old, err := s.Store.BeginIdempotent(ctx, c.principal.PartnerID, key, hash, lease)
	if err != nil {
		return result{}, err
	}
	if old != nil {
		switch {
		case old.RequestHash != hash:
			return result{}, problem(probIdemReuse, "this Idempotency-Key was used for another request in the last 24 hours")
		case !old.Done:
			wait := math.Ceil(old.Lease().Sub(s.Now()).Seconds())
			c.w.Header().Set("Retry-After", strconv.Itoa(int(max(wait, 1))))
			return result{}, problem(probIdemBusy, "retry after the first request finishes (or its deadline passes)")
		}
		body := old.Body
		if old.Sealed {
			if body, err = s.openSealed(ctx, c.principal.PartnerID, old.Body); err != nil {
				return result{}, err
			}
		}
		c.w.Header().Set("Idempotent-Replayed", "true")
		return result{status: old.Status, body: rawJSON{contentType: old.ContentType, body: body}}, nil
	}
	c.idem = claim
	res, err := h(store.WithIdempotency(ctx, claim), c)
	if claim.Stored {
		if u, ok := res.body.(unstored); ok && err == nil {
			// The first answer adds what the stored one leaves out.
			return result{res.status, u.body}, nil
		}
		// The change committed with its response: that is the answer, now
		// and on every retry.
		if err != nil {
			c.log.ErrorContext(ctx, "the change committed, then the handler failed; answering the stored response", "error", err)
		}
		if c.plain != nil {
			return stored(*c.plain), nil // the stored one is sealed
		}
		return stored(claim.Response), nil
	}
	// Cleanup writes run even when the request's own deadline has passed.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	resp, status5xx := c.encode(res, err)
	if status5xx {
		if aerr := s.Store.AbandonIdempotent(cctx, claim); aerr != nil {
			c.log.ErrorContext(ctx, "forgetting an idempotency key failed", "error", aerr)
		}
		if u, ok := res.body.(unstored); ok && err == nil {
			return result{res.status, u.body}, nil
		}
		return result{}, err
	}
	if sealed, serr := c.sealed(resp); serr != nil {
		c.log.ErrorContext(ctx, "sealing an idempotent response failed; not stored", "error", serr)
		if aerr := s.Store.AbandonIdempotent(cctx, claim); aerr != nil {
			c.log.ErrorContext(ctx, "forgetting an idempotency key failed", "error", aerr)
		}
	} else if ferr := s.Store.FinishIdempotent(cctx, claim, sealed); ferr != nil {
		c.log.ErrorContext(ctx, "storing an idempotent response failed", "error", ferr)
	}
	return stored(resp), nil
}

// sealed is resp as it is stored: encrypted when the handler asked (its
// answer shows a secret: POST /v1/webhooks), as is otherwise.
func (c *call) sealed(resp store.IdemResponse) (store.IdemResponse, error) {
	if c.seal == nil || len(resp.Body) == 0 {
		return resp, nil
	}
	b, err := c.seal(resp.Body)
	if err != nil {
		return store.IdemResponse{}, fmt.Errorf("seal the stored answer: %w", err)
	}
	plain := resp
	c.plain = &plain
	resp.Body, resp.Sealed = b, true
	return resp, nil
}

// openSealed decrypts a sealed stored answer of the partner's.
func (s *server) openSealed(ctx context.Context, partner string, body []byte) ([]byte, error) {
	d, err := s.webhookDeps()
	if err != nil {
		return nil, err
	}
	b, err := d.Box.Open(ctx, partner, body)
	if err != nil {
		return nil, fmt.Errorf("open a sealed stored answer: %w", err)
	}
	return b, nil
}

func stored(r store.IdemResponse) result {
	return result{status: r.Status, body: rawJSON{contentType: r.ContentType, body: r.Body}}
}

// respond registers how the handler's answer is rendered from what its write
// produced. With an Idempotency-Key the store renders it just before the
// commit and stores it in the same transaction; without one it does nothing.
// A handler calls it before its store write and renders its own answer with
// the same function, so both are the same.
func (c *call) respond(render func(store.Written) (result, error)) {
	if c.idem == nil {
		return
	}
	c.idem.Respond = func(w store.Written) (store.IdemResponse, error) {
		res, err := render(w)
		resp, status5xx := c.encode(res, err)
		if status5xx {
			return store.IdemResponse{}, err
		}
		return c.sealed(resp)
	}
}

// encode is the response a handler's result or error would be, as stored for
// replay; status5xx is true for a server error (never stored).
func (c *call) encode(res result, err error) (resp store.IdemResponse, status5xx bool) {
	if err != nil {
		p, _ := toProblem(err)
		if p.Status >= 500 {
			return store.IdemResponse{}, true
		}
		p.Instance = c.r.URL.Path
		body, _ := json.Marshal(p)
		return store.IdemResponse{Status: p.Status, ContentType: "application/problem+json", Body: body}, false
	}
	if raw, ok := res.body.(rawJSON); ok {
		return store.IdemResponse{Status: res.status, ContentType: raw.contentType, Body: raw.body}, false
	}
	if _, ok := res.body.(unstored); ok {
		return store.IdemResponse{}, true // never stored: answered, and the claim forgotten
	}
	if res.status == http.StatusNoContent {
		return store.IdemResponse{Status: res.status, ContentType: "application/json"}, false
	}
	body, merr := json.Marshal(res.body)
	if merr != nil {
		return store.IdemResponse{}, true
	}
	return store.IdemResponse{Status: res.status, ContentType: "application/json", Body: body}, false
}
