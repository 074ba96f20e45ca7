package webhooks_test

// End to end on the emulators, through the local stack's webhook path
// (internal/devstack.NewWebhooks, what make dev runs): the API on DynamoDB
// Local, the table's stream published to a bus on moto by the events
// publisher, the bus's rule to the events queue, the webhooks handler on both
// queues through Lambda-like pollers, KMS on moto, and receivers on
// httptest servers.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/devstack"
	"github.com/accrue/accrue/internal/streampoller"
	"github.com/accrue/accrue/shared/api"
	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/eventschema/eventschematest"
	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/keys"
	"github.com/accrue/accrue/shared/memberjobs"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
	"github.com/accrue/accrue/shared/webhooks"
)

// e2eProgram: 1 point per 1.00 RUB, a gold tier at 1000 qualifying points
// over 30 days, points expiring 30 days after earning (announced 7 days
// before), payments of 10 000.00 RUB or more held for review.
const e2eProgram = `{
  "name": "Webhooks E2E",
  "auto_enroll": true,
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 100}}],
  "tiers": [{"name": "base", "threshold": 0, "multiplier": "1"}, {"name": "gold", "threshold": 1000, "multiplier": "1"}],
  "qualifying_window_days": 30,
  "expiry": {"rolling_days": 30, "warn_days": 7},
  "fraud": {"large_payment_minor": {"RUB": 1000000}},
  "point_value": {"minor": "100", "currency": "RUB"}
}`

var t0 = time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// rig is the whole path on the emulators.
type rig struct {
	t      *testing.T
	st     *store.Store
	stream string
	sc     *dynamodbstreams.Client
	wh     *devstack.Webhooks
	api    *httptest.Server
	keys   map[string]string // "telco/admin", "telco/app", "other/admin"
	// clock of the store, the API and the jobs (the domain's time).
	clock atomic.Int64
	jobs  *memberjobs.Runner
}

type rigOptions struct {
	schedule webhooks.Schedule
	// handlerNow is the delivery handler's clock (default time.Now: the
	// receivers check the timestamps against theirs).
	handlerNow func() time.Time
	// apiNow is the API's clock (default the domain's).
	apiNow func() time.Time
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	ctx := t.Context()
	r := &rig{t: t, keys: map[string]string{}}
	r.clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, r.clock.Load()).UTC() }
	db := awstest.Client(t)
	table := awstest.NewTable(t, db, store.CreateTableInput)
	var err error
	if r.stream, err = streampoller.StreamARN(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	r.sc = awstest.StreamsClient(t)
	r.st = store.New(db, table, store.WithClock(now), store.WithProgramCacheTTL(0))
	r.jobs = memberjobs.New(r.st, memberjobs.WithClock(now), memberjobs.WithLogger(quiet()))

	eb, sq, km := awstest.EventBridgeClient(t), awstest.SQSClient(t), awstest.KMSClient(t)
	bus := awstest.TableName(t)
	if len(bus) > 40 {
		bus = bus[len(bus)-40:]
	}
	bus = strings.Trim(strings.ReplaceAll(bus, "_", "-"), "-.")
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatalf("create bus: %v", err)
	}
	r.wh, err = devstack.NewWebhooks(ctx, eb, sq, km, store.New(db, table), devstack.WebhookConfig{
		Prefix: bus, Bus: bus, Schedule: o.schedule, CacheTTL: 50 * time.Millisecond, Now: o.handlerNow, Log: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, q := range []string{r.wh.EventsQueueURL, r.wh.DeliveriesQueueURL, r.wh.DLQURL} {
			_, _ = sq.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(q)})
		}
		_, _ = eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{EventBusName: aws.String(bus), Rule: aws.String(bus + "-webhooks"), Ids: []string{"queue"}})
		_, _ = eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{EventBusName: aws.String(bus), Name: aws.String(bus + "-webhooks")})
		_, _ = eb.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String(bus)})
	})

	// The pipeline: stream → publisher → bus; both webhook queues → handler.
	runCtx, cancel := context.WithCancel(context.Background())
	pub := domainevents.NewPublisher(eb, bus, domainevents.WithLogger(quiet()))
	p := streampoller.NewPoller(r.sc, r.stream, pub.HandleStream)
	p.Interval, p.MinBackoff, p.MaxBackoff, p.Log = 50*time.Millisecond, 20*time.Millisecond, 200*time.Millisecond, quiet()
	var wg sync.WaitGroup
	wg.Go(func() { _ = p.Run(runCtx) })
	wg.Go(func() { r.wh.Run(runCtx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	for _, partner := range []string{"telco", "other"} {
		prog, err := program.Parse([]byte(e2eProgram))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.st.PutProgram(ctx, partner, prog); err != nil {
			t.Fatal(err)
		}
		for _, role := range []string{keys.RoleAdmin, keys.RoleApp} {
			k, _, err := keys.New(db, table).Create(ctx, partner, role, "e2e")
			if err != nil {
				t.Fatal(err)
			}
			r.keys[partner+"/"+role] = k
		}
	}
	apiNow := now
	if o.apiNow != nil {
		apiNow = o.apiNow
	}
	r.api = httptest.NewServer(api.New(api.Deps{Store: r.st, Keys: keys.New(db, table), Ingest: ingest.New(r.st, quiet(), nil),
		Log: quiet(), Now: apiNow, Webhooks: r.wh.Deps}))
	t.Cleanup(r.api.Close)
	return r
}

func (r *rig) set(at time.Time) { r.clock.Store(at.UnixNano()) }

// call sends a request with key ("telco/admin", ...) and decodes the answer
// into out (when not nil); it fails the test unless the status is want.
func (r *rig) call(method, path, key string, body any, want int, out any) {
	r.t.Helper()
	var rb io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rb = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.api.URL+path, rb)
	req.Header.Set("Authorization", "Bearer "+r.keys[key])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.api.Client().Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		r.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			r.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// subscribe creates a webhook of partner to url and returns it (with its
// secret).
func (r *rig) subscribe(partner, url string, types []string, active bool) api.WebhookView {
	r.t.Helper()
	var v api.WebhookView
	body := map[string]any{"url": url, "active": active}
	if types != nil {
		body["event_types"] = types
	}
	r.call("POST", "/v1/webhooks", partner+"/admin", body, http.StatusCreated, &v)
	if !webhooks.ValidSecret(v.Secret) {
		r.t.Fatalf("webhook %+v without a secret", v)
	}
	return v
}

func payment(partner, member, id string, amount int64, refundOf string) map[string]any {
	typ, data := "payment.succeeded", map[string]any{"partner_id": partner, "member_id": member, "payment_id": id,
		"amount_minor": amount, "currency": "RUB", "category": "telecom"}
	if refundOf != "" {
		typ, data["refund_of"] = "payment.refunded", refundOf
	}
	return map[string]any{"specversion": "1.0", "id": "evt-" + id, "source": "billing/test", "type": typ,
		"time": t0.Format(time.RFC3339), "datacontenttype": "application/json", "data": data}
}

// streamEvents reads the whole stream afresh and maps it: every event the
// publisher puts on the bus, with its id.
func (r *rig) streamEvents() []domainevents.Event {
	r.t.Helper()
	var evs []domainevents.Event
	p := streampoller.NewPoller(r.sc, r.stream, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		for _, rec := range ev.Records {
			got, err := domainevents.FromRecord(rec)
			if err != nil {
				r.t.Errorf("record %s: %v", rec.Change.SequenceNumber, err)
			}
			evs = append(evs, got...)
		}
		return events.DynamoDBEventResponse{}, nil
	})
	p.Log = quiet()
	for {
		n, err := p.Poll(r.t.Context())
		if err != nil {
			r.t.Fatal(err)
		}
		if n == 0 {
			return evs
		}
	}
}

// receiver is a partner's endpoint: it records every request and answers
// what answer says (200 by default).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []request
	answer func(id string, n int) int // n: how many requests of id came before
}

type request struct {
	header http.Header
	body   []byte
	status int
	at     time.Time
}

func newReceiver(t *testing.T, answer func(id string, n int) int) *receiver {
	rc := &receiver{answer: answer}
	rc.srv = httptest.NewServer(rc)
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	id := r.Header.Get(webhooks.HeaderID)
	n := 0
	for _, g := range rc.got {
		if g.header.Get(webhooks.HeaderID) == id {
			n++
		}
	}
	status := http.StatusOK
	if rc.answer != nil {
		status = rc.answer(id, n)
	}
	rc.got = append(rc.got, request{header: r.Header.Clone(), body: body, status: status, at: time.Now()})
	rc.mu.Unlock()
	w.WriteHeader(status)
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// accepted are the ids the receiver answered 2xx, each once.
func (rc *receiver) accepted() map[string]request {
	out := map[string]request{}
	for _, g := range rc.requests() {
		if g.status < 300 {
			out[g.header.Get(webhooks.HeaderID)] = g
		}
	}
	return out
}

// waitFor waits until cond holds (or fails after d).
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkDelivery checks one request as a partner's receiver would: signed
// with secret (and not with another), a CloudEvent whose id is the
// webhook-id, whose data is the event exactly as its schema describes it.
func checkDelivery(t *testing.T, g request, secret string) domainevents.Event {
	t.Helper()
	if err := webhooks.Verify(secret, g.header, g.body); err != nil {
		t.Errorf("delivery %s does not verify: %v", g.header.Get(webhooks.HeaderID), err)
	}
	if err := webhooks.Verify(webhooks.NewSecret(), g.header, g.body); err == nil {
		t.Errorf("delivery %s verifies with a wrong secret", g.header.Get(webhooks.HeaderID))
	}
	if ct := g.header.Get("Content-Type"); ct != domainevents.CloudEventsContentType {
		t.Errorf("Content-Type %q", ct)
	}
	var ce cloudevents.Event
	if err := json.Unmarshal(g.body, &ce); err != nil {
		t.Fatalf("not a CloudEvent: %v\n%s", err, g.body)
	}
	if err := ce.Validate(); err != nil {
		t.Errorf("CloudEvent: %v", err)
	}
	if err := eventschematest.Check(ce.Data()); err != nil {
		t.Error(err)
	}
	var e domainevents.Event
	if err := json.Unmarshal(ce.Data(), &e); err != nil {
		t.Fatal(err)
	}
	if id := g.header.Get(webhooks.HeaderID); id != ce.ID() || id != e.ID || ce.Type() != e.Type || ce.DataSchema() != e.DataSchema {
		t.Errorf("webhook-id %s, CloudEvent %s %s %s, event %s %s %s", id, ce.ID(), ce.Type(), ce.DataSchema(), e.ID, e.Type, e.DataSchema)
	}
	return e
}

// A partner's journey: every domain event of the catalogue it makes reaches
// its webhook, signed, as the catalogue describes it, although the receiver
// answers 500 to every first attempt (each is retried, with the same
// webhook-id); an endpoint subscribed to one type gets that type only, an
// inactive one nothing, and another partner's endpoint none of it.
func TestJourneyReachesTheWebhook(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{schedule: webhooks.Schedule{time.Second, time.Second, time.Second, time.Second}})
	all := newReceiver(t, func(_ string, n int) int {
		if n == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	redeemedOnly, inactive, others := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
	whAll := r.subscribe("telco", all.srv.URL+"/accrue", nil, true)
	whRedeemed := r.subscribe("telco", redeemedOnly.srv.URL, []string{"points.redeemed"}, true)
	r.subscribe("telco", inactive.srv.URL, nil, false)
	whOther := r.subscribe("other", others.srv.URL, nil, true)

	// Enrolment, payments, a redemption, a refund, a held payment approved,
	// a member merged into another, then the jobs: warnings, expiry, the tier going down.
	r.call("POST", "/v1/members", "telco/app", map[string]any{"member_id": "m1"}, http.StatusCreated, nil)
	r.call("POST", "/v1/events", "telco/app", payment("telco", "m1", "p1", 110000, ""), http.StatusCreated, nil)
	r.call("POST", "/v1/events", "telco/app", payment("telco", "m2", "p2", 20000, ""), http.StatusCreated, nil)
	r.call("POST", "/v1/members/m1/redemptions", "telco/app", map[string]any{"points": 100, "capture": true}, http.StatusCreated, nil)
	r.call("POST", "/v1/events", "telco/app", payment("telco", "m2", "p2-r", 10000, "p2"), http.StatusCreated, nil)
	r.call("POST", "/v1/events", "telco/app", payment("telco", "m3", "big", 2000000, ""), http.StatusCreated, nil)
	var review struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	r.call("GET", "/v1/review", "telco/admin", nil, http.StatusOK, &review)
	if len(review.Data) != 1 {
		t.Fatalf("review queue %+v", review)
	}
	r.call("POST", "/v1/review/"+review.Data[0].ID+"/approve", "telco/admin", nil, http.StatusOK, nil)
	r.call("POST", "/v1/events", "telco/app", payment("telco", "m4", "p4", 30000, ""), http.StatusCreated, nil)
	r.call("POST", "/v1/members/m1/merge", "telco/admin", map[string]any{"absorbed_member_id": "m4"}, http.StatusCreated, nil)
	r.call("POST", "/v1/events", "other/app", payment("other", "o1", "o1", 50000, ""), http.StatusCreated, nil)
	for _, at := range []time.Time{t0.AddDate(0, 0, 23), t0.AddDate(0, 0, 30), t0.AddDate(0, 0, 30).Add(time.Second)} {
		r.set(at)
		if _, err := r.jobs.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
	}

	// What must arrive: every event the stream maps to, by partner.
	want := map[string]map[string]domainevents.Event{"telco": {}, "other": {}}
	types := map[string]bool{}
	for _, e := range r.streamEvents() {
		want[e.PartnerID][e.ID] = e
		if e.PartnerID == "telco" {
			types[e.Type] = true
		}
	}
	for _, typ := range domainevents.Types() {
		if !types[typ] {
			t.Errorf("the journey makes no %s event: the test misses part of the catalogue", typ)
		}
	}
	waitFor(t, 90*time.Second, "every telco event delivered to its webhook", func() bool { return len(all.accepted()) >= len(want["telco"]) })
	waitFor(t, 30*time.Second, "other's events delivered", func() bool { return len(others.accepted()) >= len(want["other"]) })

	got := all.accepted()
	for id, e := range want["telco"] {
		if _, ok := got[id]; !ok {
			t.Errorf("%s %s (%s) never arrived", e.Type, id, e.MemberID)
		}
	}
	perID := map[string]int{}
	for _, g := range all.requests() {
		e := checkDelivery(t, g, whAll.Secret)
		perID[e.ID]++
		if _, ok := want["telco"][e.ID]; !ok || e.PartnerID != "telco" {
			t.Errorf("telco's webhook received %s %s of partner %s", e.Type, e.ID, e.PartnerID)
		}
	}
	t.Logf("%d telco events of %d types delivered in %d requests; %d of other's", len(got), len(types), len(all.requests()), len(others.accepted()))
	for id, n := range perID {
		if n < 2 {
			t.Errorf("event %s: %d requests; the first was answered 500, so it must have been retried", id, n)
		}
	}
	var redeemed []string
	for id, e := range want["telco"] {
		if e.Type == "points.redeemed" {
			redeemed = append(redeemed, id)
		}
	}
	waitFor(t, 20*time.Second, "the redeemed-only webhook got its events", func() bool { return len(redeemedOnly.accepted()) >= len(redeemed) })
	for _, g := range redeemedOnly.requests() {
		if e := checkDelivery(t, g, whRedeemed.Secret); e.Type != "points.redeemed" {
			t.Errorf("the points.redeemed webhook received a %s", e.Type)
		}
	}
	for _, g := range others.requests() {
		if e := checkDelivery(t, g, whOther.Secret); e.PartnerID != "other" {
			t.Errorf("other's webhook received %s %s of %s", e.Type, e.ID, e.PartnerID)
		}
	}
	if len(others.accepted()) != len(want["other"]) {
		t.Errorf("other's webhook accepted %d events, want %d", len(others.accepted()), len(want["other"]))
	}
	if n := len(inactive.requests()); n != 0 {
		t.Errorf("the inactive webhook received %d requests", n)
	}

	// The log: every delivery, delivered after two attempts, page by page.
	var ids []string
	cursor := ""
	for {
		var page struct {
			Data       []api.DeliveryView `json:"data"`
			NextCursor string             `json:"next_cursor"`
		}
		r.call("GET", "/v1/webhooks/"+whAll.ID+"/deliveries?limit=5&cursor="+cursor, "telco/admin", nil, http.StatusOK, &page)
		for _, d := range page.Data {
			ids = append(ids, d.EventID)
			if d.Status != store.DeliveryDelivered || d.Attempts < 2 || d.LastStatusCode != http.StatusNoContent || d.DeliveredAt == nil {
				t.Errorf("delivery %+v, want delivered at the second attempt or later", d)
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	sort.Strings(ids)
	var wantIDs []string
	for id := range want["telco"] {
		wantIDs = append(wantIDs, id)
	}
	sort.Strings(wantIDs)
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("the log lists %d deliveries, want %d", len(ids), len(wantIDs))
	}
}

// While the endpoint is down (nothing listens) the attempts fail and are
// retried; when it is back the delivery arrives, nothing lost.
func TestDeliveryRetriesWhileTheReceiverIsDown(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{schedule: webhooks.Schedule{time.Second, time.Second, time.Second, time.Second, time.Second, time.Second}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down
	wh := r.subscribe("telco", "http://"+addr+"/hook", nil, true)
	r.call("POST", "/v1/events", "telco/app", payment("telco", "m1", "p1", 50000, ""), http.StatusCreated, nil)

	var log struct {
		Data []api.DeliveryView `json:"data"`
	}
	waitFor(t, 60*time.Second, "two failed attempts recorded", func() bool {
		r.call("GET", "/v1/webhooks/"+wh.ID+"/deliveries", "telco/admin", nil, http.StatusOK, &log)
		for _, d := range log.Data {
			if d.Attempts < 2 {
				return false
			}
		}
		return len(log.Data) > 0
	})
	for _, d := range log.Data {
		if d.Status != store.DeliveryPending || d.LastError != "connection refused" || d.NextAttemptAt == nil {
			t.Errorf("while down: %+v", d)
		}
	}
	// Back up, on the same address.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	rc := &receiver{}
	srv := &http.Server{Handler: rc}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	waitFor(t, 60*time.Second, "the deliveries arrived once the receiver was back", func() bool { return len(rc.accepted()) >= len(log.Data) })
	for _, g := range rc.requests() {
		checkDelivery(t, g, wh.Secret)
	}
	waitFor(t, 10*time.Second, "the log shows them delivered", func() bool {
		r.call("GET", "/v1/webhooks/"+wh.ID+"/deliveries?status=delivered", "telco/admin", nil, http.StatusOK, &log)
		return len(log.Data) == len(rc.accepted())
	})
}

// After the last attempt of its schedule a delivery is dead: in the
// dead-letter list, and re-sent on request as a new round; re-sending
// anything else is refused.
func TestDeadDeliveriesAreListedAndResent(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{schedule: webhooks.Schedule{time.Second}})
	var up atomic.Bool
	rc := newReceiver(t, func(string, int) int {
		if up.Load() {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	wh := r.subscribe("telco", rc.srv.URL, []string{"points.earned"}, true)
	r.call("POST", "/v1/events", "telco/app", payment("telco", "m1", "p1", 50000, ""), http.StatusCreated, nil)

	var dead struct {
		Data []api.DeliveryView `json:"data"`
	}
	waitFor(t, 60*time.Second, "the delivery is dead", func() bool {
		r.call("GET", "/v1/webhooks/"+wh.ID+"/deliveries?status=dead", "telco/admin", nil, http.StatusOK, &dead)
		return len(dead.Data) == 1
	})
	d := dead.Data[0]
	if d.Attempts != 2 || d.LastStatusCode != http.StatusServiceUnavailable || d.NextAttemptAt != nil || len(rc.requests()) != 2 {
		t.Fatalf("dead delivery %+v after %d requests; want 2 attempts answered 503", d, len(rc.requests()))
	}
	var pending struct {
		Data []api.DeliveryView `json:"data"`
	}
	r.call("GET", "/v1/webhooks/"+wh.ID+"/deliveries?status=pending", "telco/admin", nil, http.StatusOK, &pending)
	if len(pending.Data) != 0 {
		t.Errorf("pending deliveries %+v", pending.Data)
	}

	up.Store(true)
	path := "/v1/webhooks/" + wh.ID + "/deliveries/" + d.ID
	var resent api.DeliveryView
	r.call("POST", path+"/retry", "telco/admin", nil, http.StatusAccepted, &resent)
	if resent.ID != d.ID || (resent.Status != store.DeliveryPending && resent.Attempts < 3) {
		t.Errorf("re-sent %+v", resent)
	}
	waitFor(t, 30*time.Second, "the re-sent delivery arrived", func() bool { return len(rc.accepted()) == 1 })
	for _, g := range rc.requests() {
		checkDelivery(t, g, wh.Secret)
		if g.header.Get(webhooks.HeaderID) != d.EventID {
			t.Errorf("webhook-id %s, want the event's %s on every attempt", g.header.Get(webhooks.HeaderID), d.EventID)
		}
	}
	var got api.DeliveryView
	waitFor(t, 10*time.Second, "the delivery is delivered", func() bool {
		r.call("GET", path, "telco/admin", nil, http.StatusOK, &got)
		return got.Status == store.DeliveryDelivered
	})
	if got.Attempts != 3 {
		t.Errorf("delivered after %d attempts, want 3 (2, and the re-send)", got.Attempts)
	}
	r.call("POST", path+"/retry", "telco/admin", nil, http.StatusConflict, nil)
}

// Rotation: during the overlap a delivery carries a signature by each
// secret, so it verifies with the old and with the new one; after the
// overlap, only with the new.
func TestSecretRotationOverlaps(t *testing.T) {
	t.Parallel()
	// The API's clock runs 58 minutes behind, so a rotation with an overlap
	// of 1 hour ends 2 minutes from now; the delivery handler's clock is
	// moved past that, within the receivers' replay window.
	var handlerAhead atomic.Int64
	r := newRig(t, rigOptions{
		schedule:   webhooks.Schedule{time.Second},
		apiNow:     func() time.Time { return time.Now().Add(-58 * time.Minute) },
		handlerNow: func() time.Time { return time.Now().Add(time.Duration(handlerAhead.Load())) },
	})
	rc := newReceiver(t, nil)
	wh := r.subscribe("telco", rc.srv.URL, []string{"points.earned"}, true)
	var rotated api.WebhookView
	r.call("PATCH", "/v1/webhooks/"+wh.ID, "telco/admin", map[string]any{"rotate_secret": map[string]any{"overlap_hours": 1}}, http.StatusOK, &rotated)
	if !webhooks.ValidSecret(rotated.Secret) || rotated.Secret == wh.Secret || rotated.PreviousUntil == nil {
		t.Fatalf("rotation answered %+v", rotated)
	}
	var read api.WebhookView
	r.call("GET", "/v1/webhooks/"+wh.ID, "telco/admin", nil, http.StatusOK, &read)
	if read.Secret != "" {
		t.Fatalf("GET shows the secret: %+v", read)
	}

	deliver := func(id string) request {
		t.Helper()
		r.call("POST", "/v1/events", "telco/app", payment("telco", "m-"+id, id, 50000, ""), http.StatusCreated, nil)
		var g request
		waitFor(t, 30*time.Second, "the delivery of "+id, func() bool {
			for _, req := range rc.requests() {
				var ce struct {
					Data struct {
						Payment struct{ ID string } `json:"payment"`
					} `json:"data"`
				}
				_ = json.Unmarshal(req.body, &ce)
				if ce.Data.Payment.ID == id {
					g = req
					return true
				}
			}
			return false
		})
		return g
	}
	during := deliver("during")
	if n := len(strings.Fields(during.header.Get(webhooks.HeaderSignature))); n != 2 {
		t.Errorf("during the overlap: %d signatures, want 2", n)
	}
	for _, s := range []string{wh.Secret, rotated.Secret} {
		if err := webhooks.Verify(s, during.header, during.body); err != nil {
			t.Errorf("during the overlap: %v", err)
		}
	}
	handlerAhead.Store(int64(3 * time.Minute))
	after := deliver("after")
	if err := webhooks.Verify(rotated.Secret, after.header, after.body); err != nil {
		t.Errorf("after the overlap, the new secret: %v", err)
	}
	if err := webhooks.Verify(wh.Secret, after.header, after.body); err == nil {
		t.Error("after the overlap, the old secret still verifies")
	}
}

// The endpoint's change reaches deliveries (deactivated: the attempts due
// are not made, the deliveries are dead and re-sendable; deleted: dropped).
func TestDeliveriesFollowTheEndpoint(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{schedule: webhooks.Schedule{2 * time.Second, 2 * time.Second}})
	var first atomic.Bool
	rc := newReceiver(t, func(string, int) int {
		first.Store(true)
		return http.StatusBadGateway
	})
	wh := r.subscribe("telco", rc.srv.URL, []string{"points.earned"}, true)
	r.call("POST", "/v1/events", "telco/app", payment("telco", "m1", "p1", 50000, ""), http.StatusCreated, nil)
	waitFor(t, 30*time.Second, "a first attempt", first.Load)
	r.call("PATCH", "/v1/webhooks/"+wh.ID, "telco/admin", map[string]any{"active": false}, http.StatusOK, nil)
	var dead struct {
		Data []api.DeliveryView `json:"data"`
	}
	waitFor(t, 30*time.Second, "the delivery is dead", func() bool {
		r.call("GET", "/v1/webhooks/"+wh.ID+"/deliveries?status=dead", "telco/admin", nil, http.StatusOK, &dead)
		return len(dead.Data) == 1
	})
	if d := dead.Data[0]; !strings.Contains(d.LastError, "inactive") || len(rc.requests()) != 1 {
		t.Errorf("dead delivery %+v after %d requests", d, len(rc.requests()))
	}
	r.call("DELETE", "/v1/webhooks/"+wh.ID, "telco/admin", nil, http.StatusNoContent, nil)
	r.call("GET", "/v1/webhooks/"+wh.ID+"/deliveries", "telco/admin", nil, http.StatusNotFound, nil)
}

// An attempt that arrives before it is due (a wait longer than SQS's delay
// of 15 minutes is a delay, then the message hidden for the rest) is hidden
// until it is due, then made.
func TestEarlyAttemptWaitsUntilDue(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{})
	rc := newReceiver(t, nil)
	wh := r.subscribe("telco", rc.srv.URL, nil, true)
	due := time.Now().Add(2 * time.Second)
	body := `{"specversion":"1.0","id":"evt_early","source":"https://accrue.dev/partners/telco","type":"points.earned"}`
	m := webhooks.Message{V: 1, Partner: "telco", Webhook: wh.ID, Delivery: store.DeliveryID(wh.ID, "evt_early", t0),
		EventID: "evt_early", EventType: "points.earned", EventTime: t0, Body: body, Attempt: 1, Try: 1, Due: due}
	raw, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// Sent without a delay: it arrives at once, before it is due.
	if _, err := awstest.SQSClient(t).SendMessage(t.Context(), &sqs.SendMessageInput{
		QueueUrl: aws.String(r.wh.DeliveriesQueueURL), MessageBody: aws.String(raw),
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the attempt", func() bool { return len(rc.requests()) > 0 })
	if at := rc.requests()[0].at; at.Before(due) {
		t.Errorf("attempted at %s, before it was due at %s", at.Format(time.StampMilli), due.Format(time.StampMilli))
	}
	if g := rc.requests()[0]; webhooks.Verify(wh.Secret, g.header, g.body) != nil || string(g.body) != body {
		t.Errorf("delivery %s %q", g.header, g.body)
	}
}
