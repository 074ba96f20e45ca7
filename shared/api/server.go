// Package api is the partner HTTP API (spec §4) as a standard net/http handler:
// the same handler runs under httptest, the local stack and Lambda (through an
// API Gateway adapter in functions/api).
//
// Conventions: Bearer API keys with roles (admin ⊇ app); RFC 9457
// application/problem+json errors with stable types (ProblemBase + slug);
// Idempotency-Key on every state-changing POST (same key and body → the same
// response, replayed; same key, other body → 409); request bodies at most
// MaxBodyBytes; unknown JSON fields rejected with the field named; lists
// paginated with an opaque cursor (?limit=&cursor=, next_cursor in the reply).
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/accrue/accrue/shared/awsclient"
	"github.com/accrue/accrue/shared/imports"
	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/keys"
	"github.com/accrue/accrue/shared/metrics"
	"github.com/accrue/accrue/shared/store"
	"github.com/accrue/accrue/shared/webhooks"
)

// Authenticator resolves a bearer token to its principal.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (keys.Principal, error)
}

// Store is what the routes use of the store: one small interface per group
// of handlers, each defined beside its handlers (*store.Store has them all).
type Store interface {
	ProgramStore
	MemberStore
	RedemptionStore
	ReviewStore
	HistoryStore
	StatsStore
	RejectionStore
	PrivacyStore
	IdempotencyStore
	TransferStore
	MergeStore
	AuditStore
	WebhookStore
	ImportStore
}

// Deps are what the API needs.
type Deps struct {
	Store  Store
	Keys   KeyStore
	Ingest EventIngester
	// Uploads signs the upload URLs of import files (POST /v1/imports).
	Uploads Uploader
	Log     *slog.Logger
	Now     func() time.Time
	// RequestTimeout is each request's deadline (0: RequestTimeout).
	RequestTimeout time.Duration
	// Webhooks: what the webhook routes need (nil: they answer 500).
	Webhooks *WebhookDeps
}

// Wire builds the API of the api function on table: the key store and one
// store shared by the routes and the ingestion path of POST /v1/events, so
// that a PUT /v1/program refreshes the program cache both of them read; wh
// are the webhook routes' dependencies; uploads signs the upload URLs of
// import files.
func Wire(db *dynamodb.Client, table string, wh *WebhookDeps, uploads Uploader, log *slog.Logger) http.Handler {
	st := store.New(db, table)
	proc := ingest.New(st, log, metrics.New(os.Stdout))
	return New(Deps{Store: st, Keys: keys.New(db, table), Ingest: proc, Uploads: uploads, Log: log, Webhooks: wh})
}

// WebhookDepsFromEnv are the webhook routes' dependencies in the api
// function: the webhook key (ACCRUE_WEBHOOK_KEY), the deliveries queue
// (ACCRUE_WEBHOOK_DELIVERIES_QUEUE_URL) for re-sends, the stage's URL policy
// (ACCRUE_WEBHOOK_URLS) and the system's resolver.
func WebhookDepsFromEnv(cfg aws.Config, getenv func(string) string) (*WebhookDeps, error) {
	key, queueURL := getenv(webhooks.KeyEnv), getenv(webhooks.DeliveriesQueueEnv)
	if key == "" || queueURL == "" {
		return nil, fmt.Errorf("environment variables %s and %s are required", webhooks.KeyEnv, webhooks.DeliveriesQueueEnv)
	}
	policy, err := webhooks.ParsePolicy(getenv(webhooks.PolicyEnv))
	if err != nil {
		return nil, err
	}
	return &WebhookDeps{
		Box: webhooks.NewBox(kms.NewFromConfig(cfg), key), Queue: webhooks.NewQueue(sqs.NewFromConfig(cfg), queueURL),
		Policy: policy, Resolver: net.DefaultResolver,
	}, nil
}

// Lambda is the api function's handler (functions/api): Wire's handler
// behind API Gateway's HTTP API (payload format 2.0) adapter, signing
// upload URLs into the imports bucket (ACCRUE_IMPORTS_BUCKET).
func Lambda(cfg aws.Config, db *dynamodb.Client, table string, log *slog.Logger) (any, error) {
	wh, err := WebhookDepsFromEnv(cfg, os.Getenv)
	if err != nil {
		return nil, err
	}
	bucket, err := awsclient.Env(imports.EnvBucket)
	if err != nil {
		return nil, err
	}
	uploads := imports.NewUploads(awsclient.S3(cfg), bucket)
	return httpadapter.NewV2(Wire(db, table, wh, uploads, log)).ProxyWithContext, nil
}

type server struct {
	Deps
}

// New returns the API handler.
func New(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.RequestTimeout <= 0 {
		d.RequestTimeout = RequestTimeout
	}
	s := &server{Deps: d}
	mux := http.NewServeMux()
	route := func(pattern string, role string, idempotent bool, h handlerFunc) {
		mux.Handle(pattern, s.wrap(role, idempotent, h))
	}
	const app, admin = keys.RoleApp, keys.RoleAdmin
	mux.HandleFunc("GET /v1/openapi.json", serveOpenAPI)
	mux.HandleFunc("GET /problems", s.serveProblems)
	mux.HandleFunc("GET /problems/{slug}", s.serveProblems)

	route("GET /v1/program", app, false, s.getProgram)
	route("PUT /v1/program", admin, false, s.putProgram)
	route("POST /v1/program/simulate", admin, false, s.simulate)

	route("POST /v1/members", app, true, s.enroll)
	route("GET /v1/members/{id}", app, false, s.getMember)
	route("PATCH /v1/members/{id}", app, false, s.patchMember)
	route("GET /v1/members/{id}/ledger", app, false, s.getLedger)
	route("POST /v1/members/{id}/activities", app, true, s.postActivity)
	route("POST /v1/members/{id}/redemptions", app, true, s.redeem)
	route("POST /v1/members/{id}/redemptions/{rid}/capture", app, true, s.capture)
	route("POST /v1/members/{id}/redemptions/{rid}/cancel", app, true, s.cancel)
	route("POST /v1/members/{id}/adjustments", admin, true, s.adjust)
	route("POST /v1/members/{id}/transfers", app, true, s.transfer)
	route("POST /v1/members/{id}/merge", admin, true, s.mergeMembers)
	route("GET /v1/members/{id}/data", admin, false, s.exportData)
	route("DELETE /v1/members/{id}/data", admin, false, s.eraseData)

	route("GET /v1/rewards", app, false, s.getRewards)
	route("PUT /v1/rewards", admin, false, s.putRewards)
	route("GET /v1/stats", admin, false, s.getStats)
	route("GET /v1/review", admin, false, s.listReview)
	route("POST /v1/review/{id}/approve", admin, true, s.approve)
	route("POST /v1/review/{id}/reject", admin, true, s.reject)
	route("GET /v1/rejected-events", admin, false, s.listRejected)
	route("POST /v1/events", app, true, s.postEvent)
	route("POST /v1/imports", admin, true, s.createImport)
	route("GET /v1/imports/{id}", admin, false, s.getImport)

	route("GET /v1/event-types", app, false, s.listEventTypes)
	route("GET /v1/event-types/{type}", app, false, s.getEventType)
	route("GET /v1/event-types/{type}/versions/{version}", app, false, s.getEventTypeVersion)
	route("POST /v1/keys", admin, true, s.createKey)
	route("GET /v1/keys", admin, false, s.listKeys)
	route("DELETE /v1/keys/{id}", admin, false, s.revokeKey)
	route("GET /v1/audit", admin, false, s.listAudit)

	route("POST /v1/webhooks", admin, true, s.createWebhook)
	route("GET /v1/webhooks", admin, false, s.listWebhooks)
	route("GET /v1/webhooks/{id}", admin, false, s.getWebhook)
	route("PATCH /v1/webhooks/{id}", admin, false, s.patchWebhook)
	route("DELETE /v1/webhooks/{id}", admin, false, s.deleteWebhook)
	route("GET /v1/webhooks/{id}/deliveries", admin, false, s.listDeliveries)
	route("GET /v1/webhooks/{id}/deliveries/{delivery_id}", admin, false, s.getDelivery)
	route("POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry", admin, true, s.retryDelivery)

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowed(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, r, d.Log, problem(probMethod, r.Method+" is not a method of "+r.URL.Path+" (allowed: "+strings.Join(allow, ", ")+")"))
			return
		}
		writeError(w, r, d.Log, problem(probNotFound, "no route "+r.Method+" "+r.URL.Path))
	})
	return mux
}

// allowed lists the methods of the routes whose pattern matches r's path: a
// request that reached the catch-all with one of them got the wrong method.
func allowed(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
			out = append(out, m)
		}
	}
	return out
}

// call is one authenticated request.
type call struct {
	w         http.ResponseWriter
	r         *http.Request
	principal keys.Principal
	body      []byte
	log       *slog.Logger
	requestID string
	// idem is the Idempotency-Key claim of the request, if it has one.
	idem *store.IdemClaim
	// seal, set by a handler whose answer shows a secret, encrypts the
	// answer stored for replay (see idempotent); plain is that answer
	// unsealed, once stored.
	seal  func([]byte) ([]byte, error)
	plain *store.IdemResponse
}

// RequestTimeout is every request's deadline (API Gateway gives up after 30 s):
// an Idempotency-Key claim is leased until it.
const RequestTimeout = 25 * time.Second

// result of a handler: a status and a JSON value (nil for 204).
type result struct {
	status int
	body   any
}

type handlerFunc func(ctx context.Context, c *call) (result, error)

// requestID is API Gateway's id of the request (its access log's
// requestId), or a new random one when the handler runs without API Gateway
// (make dev, tests).
func requestID(r *http.Request) string {
	if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && gw.RequestID != "" {
		return gw.RequestID
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "req_" + hex.EncodeToString(b)
}

// wrap adds, in order: request id and logging, authentication, the role check,
// body reading, and idempotency for state-changing POSTs.
func (s *server) wrap(role string, idempotent bool, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.Now()
		rid := requestID(r)
		w.Header().Set("X-Request-Id", rid)
		log := s.Log.With("request_id", rid, "method", r.Method, "path", r.URL.Path)
		ctx, cancel := context.WithTimeout(r.Context(), s.RequestTimeout)
		defer cancel()
		c := &call{w: w, r: r, log: log, requestID: rid}
		fail := func(err error) { writeError(w, r, log, err) }

		token, ok := bearer(r)
		if !ok {
			fail(problem(probUnauth, "send Authorization: Bearer <api key>"))
			return
		}
		p, err := s.Keys.Authenticate(ctx, token)
		if err != nil {
			fail(err)
			return
		}
		c.principal = p
		c.log = log.With("partner_id", p.PartnerID, "key_id", p.KeyID)
		ctx = store.WithActor(ctx, p.KeyID) // the actor of the audit records its changes write
		if role == keys.RoleAdmin && p.Role != keys.RoleAdmin {
			fail(problem(probForbidden, "this route needs an admin key"))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodDelete {
			if c.body, err = readBody(r); err != nil {
				fail(err)
				return
			}
		}
		var res result
		if ik := r.Header.Get("Idempotency-Key"); idempotent && ik != "" {
			res, err = s.idempotent(ctx, c, ik, h)
		} else {
			res, err = h(ctx, c)
		}
		if err != nil {
			fail(err)
			return
		}
		if u, ok := res.body.(unstored); ok {
			res.body = u.body
		}
		if res.status == http.StatusNoContent {
			w.WriteHeader(res.status)
		} else if raw, ok := res.body.(rawJSON); ok {
			w.Header().Set("Content-Type", raw.contentType)
			w.WriteHeader(res.status)
			_, _ = w.Write(raw.body)
		} else {
			writeJSON(w, res.status, "application/json", res.body)
		}
		c.log.InfoContext(ctx, "request", "status", res.status, "ms", s.Now().Sub(start).Milliseconds())
	})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return h[len(prefix):], true
}
