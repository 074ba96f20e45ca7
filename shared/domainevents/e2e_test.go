package domainevents_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/streampoller"
	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/eventschema/eventschematest"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// e2eProgram: 1 point per 1.00 RUB, a gold tier at 1000 qualifying points,
// payments of 10 000.00 RUB or more held for review, 1 point = 1.00 RUB.
const e2eProgram = `{
  "name": "E2E",
  "auto_enroll": true,
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 100}}],
  "tiers": [{"name": "base", "threshold": 0, "multiplier": "1"}, {"name": "gold", "threshold": 1000, "multiplier": "1"}],
  "qualifying_window_days": 365,
  "fraud": {"large_payment_minor": {"RUB": 1000000}},
  "point_value": {"minor": "100", "currency": "RUB"}
}`

type e2e struct {
	db     *dynamodb.Client
	st     *store.Store
	table  string
	stream string
	sc     *dynamodbstreams.Client
	eb     *eventbridge.Client
	bus    string
	sqs    *sqs.Client
	queue  string
	now    time.Time
}

// newE2E: a table with its stream on DynamoDB Local, a bus on moto with a
// rule sending every accrue event to an SQS queue (what arrives there is what
// a partner's rule would see), and the program above for partner "acme".
func newE2E(t *testing.T) *e2e {
	t.Helper()
	ctx := t.Context()
	c := awstest.Client(t)
	e := &e2e{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	e.db = c
	e.table = awstest.NewTable(t, c, store.CreateTableInput)
	var err error
	if e.stream, err = streampoller.StreamARN(ctx, c, e.table); err != nil {
		t.Fatal(err)
	}
	e.sc = dynamodbstreams.NewFromConfig(awstest.AWSConfig(), func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(awstest.Endpoint(t)) })
	var clock atomic.Int64
	clock.Store(e.now.UnixNano())
	e.st = store.New(c, e.table, store.WithClock(func() time.Time { return time.Unix(0, clock.Add(int64(time.Second))).UTC() }))
	p, err := program.Parse([]byte(e2eProgram))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.PutProgram(ctx, "acme", p); err != nil {
		t.Fatal(err)
	}

	e.eb = awstest.EventBridgeClient(t)
	e.sqs = awstest.SQSClient(t)
	e.bus = strings.ReplaceAll(awstest.TableName(t), "/", "_")
	if len(e.bus) > 64 {
		e.bus = e.bus[len(e.bus)-64:]
	}
	if _, err := e.eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(e.bus)}); err != nil {
		t.Fatalf("create bus: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = e.eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{EventBusName: aws.String(e.bus), Rule: aws.String("all"), Ids: []string{"q"}})
		_, _ = e.eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{EventBusName: aws.String(e.bus), Name: aws.String("all")})
		_, _ = e.eb.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String(e.bus)})
	})
	e.queue = awstest.NewQueue(t, e.sqs, "", nil)
	qa, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(e.queue), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.eb.PutRule(ctx, &eventbridge.PutRuleInput{
		EventBusName: aws.String(e.bus), Name: aws.String("all"), EventPattern: aws.String(`{"source":["accrue"]}`),
	}); err != nil {
		t.Fatalf("put rule: %v", err)
	}
	out, err := e.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{
		EventBusName: aws.String(e.bus), Rule: aws.String("all"),
		Targets: []ebTarget{{Id: aws.String("q"), Arn: aws.String(qa.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}},
	})
	if err != nil || out.FailedEntryCount > 0 {
		t.Fatalf("put targets: %v %+v", err, out)
	}
	return e
}

func (e *e2e) pay(t *testing.T, member, id string, amountMinor int64) {
	t.Helper()
	_, err := e.st.Apply(t.Context(), payment.Payment{
		EventID: "evt-" + id, Source: "test", Type: payment.TypeSucceeded, Time: e.now,
		PartnerID: "acme", MemberID: member, PaymentID: id, AmountMinor: amountMinor, Currency: "RUB", Category: "telecom",
	})
	if err != nil {
		t.Fatalf("apply %s: %v", id, err)
	}
}

// scenario drives the store: two accruals (the second crosses into gold), an
// immediate bill credit, a hold then captured, a held accrual approved, and a
// redelivered payment. It returns the events expected, as "type member points".
func (e *e2e) scenario(t *testing.T) []string {
	ctx := t.Context()
	e.pay(t, "m1", "p1", 50000) // 500 points; enrolled into base
	e.pay(t, "m1", "p2", 60000) // 600 points; gold
	e.pay(t, "m1", "p1", 50000) // redelivery: nothing
	if _, _, err := e.st.Redeem(ctx, "acme", "m1", ledger.RedeemRequest{Points: 300, As: "bill_credit", Capture: true}); err != nil {
		t.Fatal(err)
	}
	red, _, err := e.st.Redeem(ctx, "acme", "m1", ledger.RedeemRequest{Points: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.st.Capture(ctx, "acme", "m1", red.ID); err != nil {
		t.Fatal(err)
	}
	hold, _, err := e.st.Redeem(ctx, "acme", "m1", ledger.RedeemRequest{Points: 50})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.st.Cancel(ctx, "acme", "m1", hold.ID); err != nil { // no event
		t.Fatal(err)
	}
	e.pay(t, "m2", "big", 2000000) // 20000 points held: flagged
	q, err := e.st.ReviewQueue(ctx, "acme", 10, "")
	if err != nil || len(q.Items) != 1 {
		t.Fatalf("review queue %+v %v", q, err)
	}
	if _, _, err := e.st.Approve(ctx, "acme", q.Items[0].ID, "admin"); err != nil { // earned (release) and gold
		t.Fatal(err)
	}
	return []string{
		"member.flagged m2 20000",
		"points.earned m1 500",
		"points.earned m1 600",
		"points.earned m2 20000",
		"points.redeemed m1 100",
		"points.redeemed m1 300",
		"tier.changed m1 0",
		"tier.changed m2 0",
	}
}

// busMessage is what the rule's SQS target receives.
type busMessage struct {
	ID         string             `json:"id"`
	DetailType string             `json:"detail-type"`
	Source     string             `json:"source"`
	Detail     domainevents.Event `json:"detail"`
	// Raw is the whole EventBridge event as the target received it.
	Raw []byte `json:"-"`
}

// receive collects the queue's messages until want have arrived and the
// queue then stays empty for quiet.
func (e *e2e) receive(t *testing.T, want int, quiet time.Duration) []busMessage {
	t.Helper()
	var got []busMessage
	deadline := time.Now().Add(30 * time.Second)
	var emptySince time.Time
	for time.Now().Before(deadline) {
		out, err := e.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var bm busMessage
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &bm); err != nil {
				t.Fatalf("message %s: %v", aws.ToString(m.Body), err)
			}
			bm.Raw = []byte(aws.ToString(m.Body))
			got = append(got, bm)
			_, _ = e.sqs.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(e.queue), ReceiptHandle: m.ReceiptHandle})
		}
		switch {
		case len(out.Messages) > 0:
			emptySince = time.Time{}
		case len(got) >= want && emptySince.IsZero():
			emptySince = time.Now()
		case len(got) >= want && time.Since(emptySince) >= quiet:
			return got
		}
	}
	var evs []domainevents.Event
	for _, m := range got {
		evs = append(evs, m.Detail)
	}
	t.Fatalf("%d messages arrived within 30s, want %d: %q", len(got), want, summary(evs))
	return nil
}

// streamEvents reads the whole stream independently (TRIM_HORIZON) and maps
// it: the events that must arrive, with their ids.
func (e *e2e) streamEvents(t *testing.T) []domainevents.Event {
	t.Helper()
	var evs []domainevents.Event
	p := streampoller.NewPoller(e.sc, e.stream, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		for _, r := range ev.Records {
			got, err := domainevents.FromRecord(r)
			if err != nil {
				t.Errorf("record %s: %v", r.Change.SequenceNumber, err)
			}
			evs = append(evs, got...)
		}
		return events.DynamoDBEventResponse{}, nil
	})
	p.Log = quiet()
	for {
		n, err := p.Poll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return evs
		}
	}
}

func summary(evs []domainevents.Event) []string {
	var s []string
	for _, e := range evs {
		s = append(s, fmt.Sprintf("%s %s %d", e.Type, e.MemberID, e.Points))
	}
	sort.Strings(s)
	return s
}

func (e *e2e) runPoller(t *testing.T, h streampoller.Handler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := streampoller.NewPoller(e.sc, e.stream, h)
	p.Interval, p.MinBackoff, p.MaxBackoff, p.Log = 50*time.Millisecond, 20*time.Millisecond, 200*time.Millisecond, quiet()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("poller: %v", err)
		}
	})
}

// checkArrived checks that the events that arrived are want (by id), each
// exactly as the catalogue describes it: the whole EventBridge event against
// the registry's schema of its type, its detail against the event's schema,
// and its CloudEvent (what a webhook will deliver).
func checkArrived(t *testing.T, got []busMessage, want []domainevents.Event, allowDuplicates bool) {
	t.Helper()
	byID := map[string]int{}
	var gotEvents []domainevents.Event
	for _, m := range got {
		if m.Source != "accrue" || m.DetailType != m.Detail.Type {
			t.Errorf("message source %q detail-type %q for a %s", m.Source, m.DetailType, m.Detail.Type)
		}
		if err := eventschematest.CheckEventBridge(withAccount(t, m.Raw)); err != nil {
			t.Error(err)
		}
		checkCloudEvent(t, m.Detail)
		if m.Detail.PartnerID != "acme" || m.Detail.MemberID == "" {
			t.Errorf("event %+v without partner or member", m.Detail)
		}
		if byID[m.Detail.ID]++; byID[m.Detail.ID] == 1 {
			gotEvents = append(gotEvents, m.Detail)
		}
	}
	for id, n := range byID {
		if n > 1 && !allowDuplicates {
			t.Errorf("event %s arrived %d times", id, n)
		}
	}
	wantIDs := map[string]domainevents.Event{}
	for _, w := range want {
		wantIDs[w.ID] = w
		if byID[w.ID] == 0 {
			t.Errorf("event %s (%s %s %d) never arrived", w.ID, w.Type, w.MemberID, w.Points)
		}
	}
	for id := range byID {
		if _, ok := wantIDs[id]; !ok {
			t.Errorf("unexpected event %s", id)
		}
	}
	if g, w := summary(gotEvents), summary(want); fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("arrived %q\nwant    %q", g, w)
	}
}

// withAccount adds the envelope's account where moto leaves it out (AWS
// always sets it, and the registry's schema requires it).
func withAccount(t *testing.T, raw []byte) []byte {
	t.Helper()
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if _, ok := ev["account"]; ok {
		return raw
	}
	ev["account"] = json.RawMessage(`"123456789012"`)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	pub := domainevents.NewPublisher(e.eb, e.bus, domainevents.WithLogger(quiet()))
	e.runPoller(t, pub.HandleStream)
	want := e.scenario(t)

	got := e.receive(t, len(want), 2*time.Second)
	expected := e.streamEvents(t)
	if s := summary(expected); fmt.Sprint(s) != fmt.Sprint(want) {
		t.Fatalf("the stream maps to %q\nwant %q", s, want)
	}
	checkArrived(t, got, expected, false)

	// Fields partners rely on.
	for _, m := range got {
		d := m.Detail
		switch {
		case d.Type == "points.redeemed" && d.Points == 300:
			if d.As != "bill_credit" || d.Value == nil || d.Value.AmountMinor != 30000 || d.Value.Currency != "RUB" || d.RedemptionID == "" {
				t.Errorf("bill credit event %+v", d)
			}
		case d.Type == "points.earned" && d.Points == 500:
			if d.Payment == nil || d.Payment.ID != "p1" || d.Payment.AmountMinor != 50000 || d.Payment.Currency != "RUB" || d.State != "available" || d.Kind != "earn" {
				t.Errorf("earned event %+v", d)
			}
		case d.Type == "points.earned" && d.MemberID == "m2":
			if d.Kind != "release" || d.Payment == nil || d.Payment.ID != "big" {
				t.Errorf("approved hold event %+v", d)
			}
		case d.Type == "member.flagged":
			if len(d.Reasons) != 1 || d.Reasons[0] != "large_payment" || d.Payment == nil || d.Payment.ID != "big" || d.HeldAt == nil {
				t.Errorf("flagged event %+v", d)
			}
		case d.Type == "tier.changed" && d.ToTier == "gold" && d.MemberID == "m1":
			if d.FromTier != "" || d.Qualifying == nil || *d.Qualifying != 1100 {
				t.Errorf("tier event %+v", d)
			}
		}
	}
}

// downBus sends to a refusing endpoint while down is set, to moto otherwise.
type downBus struct {
	up, refusing *eventbridge.Client
	down         atomic.Bool
	refused      atomic.Int64
}

func (b *downBus) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	if b.down.Load() {
		out, err := b.refusing.PutEvents(ctx, in, opts...)
		if err != nil {
			b.refused.Add(1)
		}
		return out, err
	}
	return b.up.PutEvents(ctx, in, opts...)
}

func TestBusDown(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	cfg := awstest.AWSConfig()
	cfg.RetryMaxAttempts = 1
	bus := &downBus{up: e.eb, refusing: eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) {
		o.BaseEndpoint = aws.String("http://127.0.0.1:1") // nothing listens: connection refused
	})}
	bus.down.Store(true)
	var handled, failedBatches atomic.Int64
	pub := domainevents.NewPublisher(bus, e.bus, domainevents.WithLogger(quiet()), domainevents.WithRetries(2, 10*time.Millisecond))
	e.runPoller(t, func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		handled.Add(int64(len(ev.Records)))
		resp, err := pub.HandleStream(ctx, ev)
		if len(resp.BatchItemFailures) > 0 {
			failedBatches.Add(1)
		}
		return resp, err
	})
	want := e.scenario(t)

	// The bus stays down until the publisher has failed several times.
	deadline := time.Now().Add(30 * time.Second)
	for failedBatches.Load() < 5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if failedBatches.Load() < 5 || bus.refused.Load() < 10 {
		t.Fatalf("the publisher did not report failures while the bus was down (%d batches, %d refused puts)", failedBatches.Load(), bus.refused.Load())
	}
	out, err := e.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queue), MaxNumberOfMessages: 10})
	if err != nil || len(out.Messages) != 0 {
		t.Fatalf("messages arrived while the bus was down: %d, %v", len(out.Messages), err)
	}
	bus.down.Store(false)

	got := e.receive(t, len(want), 2*time.Second)
	expected := e.streamEvents(t)
	if s := summary(expected); fmt.Sprint(s) != fmt.Sprint(want) {
		t.Fatalf("the stream maps to %q\nwant %q", s, want)
	}
	// Nothing was put while the bus was down and the poller retries from the
	// first failed record: each event arrives exactly once.
	checkArrived(t, got, expected, false)
	if handled.Load() <= int64(len(expected)) {
		t.Errorf("only %d records handled: the failed batches were not retried", handled.Load())
	}
}

// A partial outage: the bus takes only some entries of each put (as under
// throttling) and the publisher gives up quickly, so records are retried after
// some of their batch's events were put. Every event arrives; duplicates are
// allowed (same id), as documented.
func TestBusThrottled(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	var calls atomic.Int64
	pub := domainevents.NewPublisher(&throttledBus{up: e.eb, calls: &calls}, e.bus, domainevents.WithLogger(quiet()), domainevents.WithRetries(1, time.Millisecond))
	e.runPoller(t, pub.HandleStream)
	want := e.scenario(t)
	got := e.receive(t, len(want), 2*time.Second)
	checkArrived(t, got, e.streamEvents(t), true)
}

// throttledBus rejects every other entry of every other call.
type throttledBus struct {
	up    *eventbridge.Client
	calls *atomic.Int64
}

func (b *throttledBus) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	if b.calls.Add(1)%2 == 1 {
		return b.up.PutEvents(ctx, in, opts...)
	}
	var pass []ebEntry
	var idx []int
	for i, en := range in.Entries {
		if i%2 == 0 {
			pass = append(pass, en)
			idx = append(idx, i)
		}
	}
	res := make([]ebResult, len(in.Entries))
	for i := range res {
		res[i] = ebResult{ErrorCode: aws.String("ThrottlingException"), ErrorMessage: aws.String("rate exceeded")}
	}
	out, err := b.up.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: pass}, opts...)
	if err != nil {
		return nil, err
	}
	for j, r := range out.Entries {
		res[idx[j]] = r
	}
	failed := int32(0)
	for _, r := range res {
		if r.ErrorCode != nil {
			failed++
		}
	}
	return &eventbridge.PutEventsOutput{Entries: res, FailedEntryCount: failed}, nil
}

type (
	ebTarget = ebtypes.Target
	ebEntry  = ebtypes.PutEventsRequestEntry
	ebResult = ebtypes.PutEventsResultEntry
)
