package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/shared/api"
	"github.com/accrue/accrue/shared/imports"
	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/keys"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
	"github.com/accrue/accrue/shared/webhooks"
)

var now = time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC)

// harness: the API over HTTP (httptest) on a fresh DynamoDB Local table with
// two partners, each with an admin and an app key, plus a revoked key.
type harness struct {
	t        testing.TB
	srv      *httptest.Server
	handler  http.Handler
	st       *store.Store
	db       *dynamodb.Client
	table    string
	s3       *s3.Client
	bucket   string
	keys     map[string]string // "telco/admin", "telco/app", "other/admin", "other/app", "telco/revoked"
	mu       sync.Mutex
	seen     []exchange
	norecord bool
	// deliveries is the webhook deliveries queue (harnessOptions.webhooks).
	deliveries string
}

// exchange is one request and its response, checked against the OpenAPI
// document when the test ends.
type exchange struct {
	Method, Path, Query string
	ReqHeader           http.Header
	ReqBody             []byte
	Status              int
	RespHeader          http.Header
	RespBody            []byte
}

func programJSON(t testing.TB) []byte {
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "program-telco.json"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := build(t)
	t.Cleanup(func() { checkOpenAPI(t, h.exchanges()) })
	return h
}

// newBenchHarness is the harness without recording exchanges.
func newBenchHarness(b *testing.B) *harness {
	h := build(b)
	h.norecord = true
	return h
}

func build(t testing.TB) *harness { return buildWith(t, harnessOptions{}) }

// harnessOptions change what build makes: the clock of the store and the
// API, options of the DynamoDB client they use (fault injection), and the
// API's request deadline.
type harnessOptions struct {
	clock          func() time.Time
	dynamo         []func(*dynamodb.Options)
	requestTimeout time.Duration
	// webhooks gives the API its webhook routes' dependencies on moto (a
	// KMS key, a deliveries queue: h.deliveries) with this URL policy.
	webhooks *webhooks.URLPolicy
	resolver webhooks.Resolver
}

func buildWith(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	if o.clock == nil {
		o.clock = func() time.Time { return now }
	}
	c := awstest.Client(t)
	def := store.CreateTableInput
	if _, bench := t.(*testing.B); bench {
		def = awstest.NoStream(def)
	}
	table := awstest.NewTable(t, c, def)
	setup := store.New(c, table, store.WithClock(o.clock))
	st := setup
	if len(o.dynamo) > 0 {
		st = store.New(dynamodb.New(c.Options(), o.dynamo...), table, store.WithClock(o.clock))
	}
	ks := keys.New(c, table, keys.WithClock(o.clock))
	h := &harness{t: t, st: setup, db: c, table: table, keys: map[string]string{}}
	h.s3 = awstest.S3Client(t)
	h.bucket = awstest.NewBucket(t, h.s3)
	ctx := context.Background()
	for _, partner := range []string{"telco", "other"} {
		p, err := program.Parse(programJSON(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := setup.PutProgram(ctx, partner, p); err != nil {
			t.Fatal(err)
		}
		for _, role := range []string{keys.RoleAdmin, keys.RoleApp} {
			k, _, err := ks.Create(ctx, partner, role, "test")
			if err != nil {
				t.Fatal(err)
			}
			h.keys[partner+"/"+role] = k
		}
	}
	k, meta, err := ks.Create(ctx, "telco", keys.RoleAdmin, "revoked")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Revoke(ctx, "telco", meta.ID); err != nil {
		t.Fatal(err)
	}
	h.keys["telco/revoked"] = k
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	apiKeys := ks // the API's writes of keys go through the same client as the store's
	if len(o.dynamo) > 0 {
		apiKeys = keys.New(dynamodb.New(c.Options(), o.dynamo...), table, keys.WithClock(o.clock))
	}
	var wh *api.WebhookDeps
	if o.webhooks != nil {
		km := awstest.KMSClient(t)
		h.deliveries = awstest.NewQueue(t, awstest.SQSClient(t), "", nil)
		wh = &api.WebhookDeps{Box: webhooks.NewBox(km, awstest.NewKMSKey(t, km)), Queue: webhooks.NewQueue(awstest.SQSClient(t), h.deliveries),
			Policy: *o.webhooks, Resolver: o.resolver}
	}
	uploads := imports.NewUploads(h.s3, h.bucket)
	h.handler = api.New(api.Deps{Store: st, Keys: apiKeys, Ingest: ingest.New(st, log, nil), Uploads: uploads, Log: log, Now: o.clock, RequestTimeout: o.requestTimeout,
		Webhooks: wh})
	h.srv = httptest.NewServer(h.handler)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) exchanges() []exchange {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]exchange(nil), h.seen...)
}

// reply is a decoded response.
type reply struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// call sends a request with the key named by key ("telco/app", "" for none, or
// a literal "Bearer ..." value) and records the exchange.
func (h *harness) call(method, path, key string, body any, headers ...string) reply {
	h.t.Helper()
	return h.callT(h.t, method, path, key, body, headers...)
}

// callT is call reporting failures to t (a fuzz target's own T).
func (h *harness) callT(t testing.TB, method, path, key string, body any, headers ...string) reply {
	t.Helper()
	var rb []byte
	switch b := body.(type) {
	case nil:
	case string:
		rb = []byte(b)
	case []byte:
		rb = b
	default:
		var err error
		if rb, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, h.srv.URL+path, bytes.NewReader(rb))
	if err != nil {
		t.Fatal(err)
	}
	if rb != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case strings.HasPrefix(key, "Bearer "):
		req.Header.Set("Authorization", key)
	case key != "":
		k, ok := h.keys[key]
		if !ok {
			t.Fatalf("no key %q", key)
		}
		req.Header.Set("Authorization", "Bearer "+k)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.Body)
	}
	if h.norecord {
		return r
	}
	h.mu.Lock()
	h.seen = append(h.seen, exchange{Method: method, Path: req.URL.Path, Query: req.URL.RawQuery, ReqHeader: req.Header.Clone(),
		ReqBody: rb, Status: resp.StatusCode, RespHeader: resp.Header.Clone(), RespBody: raw})
	h.mu.Unlock()
	return r
}

// expect checks status and, for errors, the problem type.
func (r reply) expect(t testing.TB, status int, problemType string) reply {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	if problemType != "" {
		if got, _ := r.Body["type"].(string); got != api.ProblemBase+problemType {
			t.Fatalf("problem type %q, want %q: %s", got, api.ProblemBase+problemType, r.Raw)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("content type %q for a problem", ct)
		}
	}
	return r
}

func num(t testing.TB, v any, path ...string) int64 {
	t.Helper()
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("no %s in %v", p, v)
		}
		v = m[p]
	}
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("%v at %v is not a number", v, path)
	}
	return int64(f)
}

func str(v any, path ...string) string {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

// event is a payment event for POST /v1/events.
func event(partner, member, paymentID string, amount int64) map[string]any {
	return map[string]any{
		"specversion": "1.0", "id": "evt-" + paymentID, "source": "billing/test", "type": "payment.succeeded",
		"time": "2026-11-05T10:00:00Z", "datacontenttype": "application/json",
		"data": map[string]any{"partner_id": partner, "member_id": member, "payment_id": paymentID,
			"amount_minor": amount, "currency": "RUB", "category": "telecom",
			"recurring": map[string]any{"subscription_id": "plan-7", "period": "2026-11", "due_date": "2026-11-10"}},
	}
}

// seed enrolls a member of telco and credits it through POST /v1/events.
func (h *harness) seed(member string, amounts ...int64) {
	h.t.Helper()
	h.call("POST", "/v1/members", "telco/app", map[string]any{"member_id": member, "tags": []string{"vip"}}).expect(h.t, 201, "")
	for i, a := range amounts {
		h.call("POST", "/v1/events", "telco/app", event("telco", member, fmt.Sprintf("%s-p%d", member, i), a)).expect(h.t, 201, "")
	}
}
