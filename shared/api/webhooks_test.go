package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/shared/store"
	"github.com/accrue/accrue/shared/webhooks"
)

// newWebhookHarness is the harness with the webhook routes' dependencies on
// moto, under the URL policy p (names resolved by r).
func newWebhookHarness(t *testing.T, p webhooks.URLPolicy, r webhooks.Resolver) *harness {
	t.Helper()
	h := buildWith(t, harnessOptions{webhooks: &p, resolver: r})
	t.Cleanup(func() { checkOpenAPI(t, h.exchanges()) })
	return h
}

// hosts resolves names from a map (no DNS in tests).
type hosts map[string]string

func (m hosts) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	a, ok := m[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr(a)}, nil
}

func (h *harness) createWebhook(key string, body map[string]any) reply {
	h.t.Helper()
	return h.call("POST", "/v1/webhooks", key, body).expect(h.t, http.StatusCreated, "")
}

// The routes: an endpoint created with its secret shown once, read and
// listed without it, changed, its secret rotated (shown once again, the old
// one overlapping), deleted.
func TestWebhookEndpointRoutes(t *testing.T) {
	t.Parallel()
	h := newWebhookHarness(t, webhooks.PolicyLocal, nil)
	created := h.createWebhook("telco/admin", map[string]any{"url": "http://127.0.0.1:9999/hook", "event_types": []string{"tier.changed", "points.earned", "points.earned"}})
	id, secret := str(created.Body, "id"), str(created.Body, "secret")
	if !store.ValidWebhookID(id) || !webhooks.ValidSecret(secret) || created.Body["active"] != true {
		t.Fatalf("created %s", created.Raw)
	}
	if got := fmt.Sprint(created.Body["event_types"]); got != "[points.earned tier.changed]" {
		t.Errorf("event_types %s, want sorted without duplicates", got)
	}
	for i := range 2 {
		h.createWebhook("telco/admin", map[string]any{"url": fmt.Sprintf("https://hooks.example.com/%d", i), "active": false})
	}
	got := h.call("GET", "/v1/webhooks/"+id, "telco/admin", nil).expect(t, 200, "")
	if _, ok := got.Body["secret"]; ok || str(got.Body, "url") != "http://127.0.0.1:9999/hook" {
		t.Fatalf("GET %s", got.Raw)
	}
	var ids []string
	cursor := ""
	for {
		page := h.call("GET", "/v1/webhooks?limit=2&cursor="+cursor, "telco/admin", nil).expect(t, 200, "")
		for _, w := range page.Body["data"].([]any) {
			if _, ok := w.(map[string]any)["secret"]; ok {
				t.Fatalf("a list shows a secret: %s", page.Raw)
			}
			ids = append(ids, str(w, "id"))
		}
		if cursor = str(page.Body, "next_cursor"); cursor == "" {
			break
		}
	}
	if len(ids) != 3 {
		t.Errorf("listed %v, want 3 endpoints", ids)
	}

	patched := h.call("PATCH", "/v1/webhooks/"+id, "telco/admin", map[string]any{"url": "http://127.0.0.1:9999/v2", "event_types": []string{}, "active": false}).expect(t, 200, "")
	if str(patched.Body, "url") != "http://127.0.0.1:9999/v2" || patched.Body["active"] != false || fmt.Sprint(patched.Body["event_types"]) != "[]" {
		t.Errorf("patched %s", patched.Raw)
	}
	if _, ok := patched.Body["secret"]; ok {
		t.Errorf("a PATCH without rotation shows a secret: %s", patched.Raw)
	}
	rotated := h.call("PATCH", "/v1/webhooks/"+id, "telco/admin", map[string]any{"rotate_secret": map[string]any{"overlap_hours": 48}}).expect(t, 200, "")
	if s := str(rotated.Body, "secret"); !webhooks.ValidSecret(s) || s == secret {
		t.Errorf("rotated %s", rotated.Raw)
	}
	if until := str(rotated.Body, "previous_secret_expires_at"); until != now.Add(48*time.Hour).Format(time.RFC3339) {
		t.Errorf("previous secret until %q, want 48 h from now", until)
	}
	noOverlap := h.call("PATCH", "/v1/webhooks/"+id, "telco/admin", map[string]any{"rotate_secret": map[string]any{"overlap_hours": 0}}).expect(t, 200, "")
	if _, ok := noOverlap.Body["previous_secret_expires_at"]; ok || !webhooks.ValidSecret(str(noOverlap.Body, "secret")) {
		t.Errorf("rotation without overlap %s", noOverlap.Raw)
	}

	h.call("DELETE", "/v1/webhooks/"+id, "telco/admin", nil).expect(t, http.StatusNoContent, "")
	h.call("GET", "/v1/webhooks/"+id, "telco/admin", nil).expect(t, 404, "not-found")
	h.call("DELETE", "/v1/webhooks/"+id, "telco/admin", nil).expect(t, 404, "not-found")
}

// A retry of POST /v1/webhooks with its Idempotency-Key gets the same
// answer, secret included; the table holds that answer only encrypted, and
// the secret nowhere in the clear.
func TestWebhookCreationIsIdempotentAndTheSecretNeverStored(t *testing.T) {
	t.Parallel()
	h := newWebhookHarness(t, webhooks.PolicyLocal, nil)
	body := map[string]any{"url": "http://127.0.0.1:9999/hook"}
	first := h.call("POST", "/v1/webhooks", "telco/admin", body, "Idempotency-Key", "k1").expect(t, 201, "")
	again := h.call("POST", "/v1/webhooks", "telco/admin", body, "Idempotency-Key", "k1").expect(t, 201, "")
	if string(again.Raw) != string(first.Raw) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay %s (%v), want %s", again.Raw, again.Header, first.Raw)
	}
	list := h.call("GET", "/v1/webhooks", "telco/admin", nil).expect(t, 200, "")
	if n := len(list.Body["data"].([]any)); n != 1 {
		t.Fatalf("%d endpoints after a replayed creation", n)
	}
	secret := str(first.Body, "secret")
	key := strings.TrimPrefix(secret, webhooks.SecretPrefix)
	out, err := h.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(h.table)})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range out.Items {
		b, _ := json.Marshal(it)
		if strings.Contains(string(b), key) {
			t.Errorf("the table holds the secret in the clear: %s", b)
		}
	}
}

// Every webhook route needs an admin key, and a partner reaches only its
// own endpoints and deliveries: another partner's are not found.
func TestWebhookRoutesRolesAndIsolation(t *testing.T) {
	t.Parallel()
	h := newWebhookHarness(t, webhooks.PolicyLocal, nil)
	id := str(h.createWebhook("other/admin", map[string]any{"url": "http://127.0.0.1:9999/other"}).Body, "id")
	at := now.Add(-time.Hour)
	d := store.Delivery{ID: store.DeliveryID(id, "evt_x", at), PartnerID: "other", WebhookID: id, EventID: "evt_x", EventType: "points.earned",
		EventTime: at, Status: store.DeliveryDead, Attempts: 8, Body: `{"id":"evt_x"}`, MessageID: "m"}
	if _, err := h.st.RecordDeliveryAttempt(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	routes := []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/webhooks", map[string]any{"url": "http://127.0.0.1:9999/x"}},
		{"GET", "/v1/webhooks", nil},
		{"GET", "/v1/webhooks/" + id, nil},
		{"PATCH", "/v1/webhooks/" + id, map[string]any{"active": false}},
		{"DELETE", "/v1/webhooks/" + id, nil},
		{"GET", "/v1/webhooks/" + id + "/deliveries", nil},
		{"GET", "/v1/webhooks/" + id + "/deliveries/" + d.ID, nil},
		{"POST", "/v1/webhooks/" + id + "/deliveries/" + d.ID + "/retry", nil},
	}
	for _, r := range routes {
		h.call(r.method, r.path, "other/app", r.body).expect(t, http.StatusForbidden, "forbidden")
		h.call(r.method, r.path, "telco/revoked", r.body).expect(t, http.StatusUnauthorized, "unauthenticated")
		if strings.Contains(r.path, id) {
			h.call(r.method, r.path, "telco/admin", r.body).expect(t, http.StatusNotFound, "not-found")
		}
	}
	// Still there for its partner.
	h.call("GET", "/v1/webhooks/"+id+"/deliveries/"+d.ID, "other/admin", nil).expect(t, 200, "")
	if page := h.call("GET", "/v1/webhooks", "telco/admin", nil).expect(t, 200, ""); len(page.Body["data"].([]any)) != 0 {
		t.Errorf("telco lists other's endpoints: %s", page.Raw)
	}
}

// Bad input is a problem naming its field, never a 5xx: URLs (https only
// under the production policy, no private addresses), event types of the
// catalogue only, ids, statuses, cursors, and the limit of 16 endpoints.
func TestWebhookBadInput(t *testing.T) {
	t.Parallel()
	h := newWebhookHarness(t, webhooks.PolicyHTTPS, hosts{"internal.example.com": "10.0.0.7", "hooks.example.com": "93.184.215.14"})
	id := str(h.createWebhook("telco/admin", map[string]any{"url": "https://hooks.example.com/accrue"}).Body, "id")
	dead := store.DeliveryID(id, "evt_x", now)
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		problem, field     string
	}{
		{"no url", "POST", "/v1/webhooks", map[string]any{"event_types": []string{}}, 400, "validation-error", "url"},
		{"not a URL", "POST", "/v1/webhooks", map[string]any{"url": "hooks.example.com"}, 400, "validation-error", "url"},
		{"http in prod", "POST", "/v1/webhooks", map[string]any{"url": "http://hooks.example.com/x"}, 400, "validation-error", "url"},
		{"loopback", "POST", "/v1/webhooks", map[string]any{"url": "https://127.0.0.1/x"}, 400, "validation-error", "url"},
		{"metadata service", "POST", "/v1/webhooks", map[string]any{"url": "https://169.254.169.254/latest"}, 400, "validation-error", "url"},
		{"a name of a private address", "POST", "/v1/webhooks", map[string]any{"url": "https://internal.example.com/x"}, 400, "validation-error", "url"},
		{"credentials in the URL", "POST", "/v1/webhooks", map[string]any{"url": "https://u:p@hooks.example.com/x"}, 400, "validation-error", "url"},
		{"unknown event type", "POST", "/v1/webhooks", map[string]any{"url": "https://hooks.example.com/x", "event_types": []string{"points.earned", "points.stolen"}}, 400, "validation-error", "event_types[1]"},
		{"a number as type", "POST", "/v1/webhooks", map[string]any{"url": "https://hooks.example.com/x", "event_types": []any{7}}, 400, "validation-error", "event_types"},
		{"active not a boolean", "POST", "/v1/webhooks", map[string]any{"url": "https://hooks.example.com/x", "active": "yes"}, 400, "validation-error", "active"},
		{"unknown field", "POST", "/v1/webhooks", map[string]any{"url": "https://hooks.example.com/x", "secret": "whsec_x"}, 400, "validation-error", "secret"},
		{"rotation on creation", "POST", "/v1/webhooks", map[string]any{"url": "https://hooks.example.com/x", "rotate_secret": map[string]any{}}, 400, "validation-error", "rotate_secret"},
		{"not JSON", "POST", "/v1/webhooks", "{", 400, "malformed-request", ""},
		{"bad id", "GET", "/v1/webhooks/wh_nothex", nil, 400, "validation-error", "id"},
		{"unknown id", "GET", "/v1/webhooks/wh_000000000000000000000000", nil, 404, "not-found", ""},
		{"patch: http in prod", "PATCH", "/v1/webhooks/" + id, map[string]any{"url": "http://hooks.example.com/x"}, 400, "validation-error", "url"},
		{"patch: overlap too long", "PATCH", "/v1/webhooks/" + id, map[string]any{"rotate_secret": map[string]any{"overlap_hours": 169}}, 400, "validation-error", "rotate_secret.overlap_hours"},
		{"patch: negative overlap", "PATCH", "/v1/webhooks/" + id, map[string]any{"rotate_secret": map[string]any{"overlap_hours": -1}}, 400, "validation-error", "rotate_secret.overlap_hours"},
		{"patch: unknown field", "PATCH", "/v1/webhooks/" + id, map[string]any{"rotate": true}, 400, "validation-error", "rotate"},
		{"bad status", "GET", "/v1/webhooks/" + id + "/deliveries?status=failed", nil, 400, "validation-error", "status"},
		{"bad limit", "GET", "/v1/webhooks/" + id + "/deliveries?limit=0", nil, 400, "validation-error", "limit"},
		{"bad cursor", "GET", "/v1/webhooks/" + id + "/deliveries?cursor=abc", nil, 400, "validation-error", "cursor"},
		{"bad list cursor", "GET", "/v1/webhooks?cursor=abc", nil, 400, "validation-error", "cursor"},
		{"bad delivery id", "GET", "/v1/webhooks/" + id + "/deliveries/dlv_1", nil, 400, "validation-error", "delivery_id"},
		{"unknown delivery", "GET", "/v1/webhooks/" + id + "/deliveries/" + dead, nil, 404, "not-found", ""},
		{"re-send of an unknown delivery", "POST", "/v1/webhooks/" + id + "/deliveries/" + dead + "/retry", nil, 404, "not-found", ""},
		{"re-send with a body", "POST", "/v1/webhooks/" + id + "/deliveries/" + dead + "/retry", map[string]any{"now": true}, 400, "validation-error", "now"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.callT(t, tc.method, tc.path, "telco/admin", tc.body).expect(t, tc.status, tc.problem)
			if tc.field != "" && !strings.Contains(string(r.Raw), `"field":"`+tc.field+`"`) {
				t.Errorf("the problem does not name %s: %s", tc.field, r.Raw)
			}
		})
	}
	for range store.MaxWebhooks - 1 {
		h.createWebhook("telco/admin", map[string]any{"url": "https://hooks.example.com/more"})
	}
	h.call("POST", "/v1/webhooks", "telco/admin", map[string]any{"url": "https://hooks.example.com/17th"}).expect(t, http.StatusConflict, "limit-reached")
}

// A dead delivery is re-sent: its message is on the deliveries queue (the
// same event, a new round of attempts) and it is pending; anything else is
// not re-sent.
func TestWebhookDeliveryResend(t *testing.T) {
	t.Parallel()
	h := newWebhookHarness(t, webhooks.PolicyLocal, nil)
	id := str(h.createWebhook("telco/admin", map[string]any{"url": "http://127.0.0.1:9999/hook"}).Body, "id")
	ctx := context.Background()
	record := func(event string, status string, attempts int) store.Delivery {
		d := store.Delivery{ID: store.DeliveryID(id, event, now), PartnerID: "telco", WebhookID: id, EventID: event, EventType: "points.earned",
			EventTime: now, Status: status, Attempts: attempts, LastStatusCode: 500, LastError: "answered 500", MessageID: "m-" + event}
		if status == store.DeliveryDead {
			d.Body = `{"specversion":"1.0","id":"` + event + `"}`
		}
		if _, err := h.st.RecordDeliveryAttempt(ctx, d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	dead, delivered := record("evt_dead", store.DeliveryDead, 8), record("evt_ok", store.DeliveryDelivered, 1)
	path := "/v1/webhooks/" + id + "/deliveries/"
	list := h.call("GET", "/v1/webhooks/"+id+"/deliveries?status=dead", "telco/admin", nil).expect(t, 200, "")
	if data := list.Body["data"].([]any); len(data) != 1 || str(data[0], "id") != dead.ID || num(t, data[0], "attempts") != 8 {
		t.Fatalf("dead-letter list %s", list.Raw)
	}
	r := h.call("POST", path+dead.ID+"/retry", "telco/admin", nil, "Idempotency-Key", "resend-1").expect(t, http.StatusAccepted, "")
	if str(r.Body, "status") != store.DeliveryPending || str(r.Body, "next_attempt_at") == "" {
		t.Errorf("re-sent %s", r.Raw)
	}
	if again := h.call("POST", path+dead.ID+"/retry", "telco/admin", nil, "Idempotency-Key", "resend-1").expect(t, http.StatusAccepted, ""); again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the retried re-send was not replayed")
	}
	out, err := awstest.SQSClient(t).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(h.deliveries), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("%d messages on the deliveries queue, want the one re-send", len(out.Messages))
	}
	m, err := webhooks.ParseMessage([]byte(aws.ToString(out.Messages[0].Body)))
	if err != nil || m.Delivery != dead.ID || m.Attempt != 9 || m.Try != 1 || m.Body != dead.Body || m.EventID != dead.EventID {
		t.Errorf("re-send message %+v %v", m, err)
	}
	h.call("POST", path+dead.ID+"/retry", "telco/admin", nil).expect(t, http.StatusConflict, "conflict")
	h.call("POST", path+delivered.ID+"/retry", "telco/admin", nil).expect(t, http.StatusConflict, "conflict")
}
