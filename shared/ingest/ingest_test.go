package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/metrics"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

var now = time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC)

type harness struct {
	client  *dynamodb.Client
	st      *store.Store
	table   string
	proc    *ingest.Processor
	handler lambda.Handler
	logs    *bytes.Buffer
	metrics *bytes.Buffer
}

// newHarness: a table on DynamoDB Local with the demo program of events/ for
// partner "telco", and the SQS handler wrapped the way lambda.Start wraps it.
func newHarness(t *testing.T) *harness {
	t.Helper()
	c := awstest.Client(t)
	table := awstest.NewTable(t, c, store.CreateTableInput)
	st := store.New(c, table, store.WithClock(func() time.Time { return now }))
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "program-telco.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := program.Parse(raw)
	if err != nil {
		t.Fatalf("demo program: %v", err)
	}
	if _, err := st.PutProgram(context.Background(), "telco", p); err != nil {
		t.Fatal(err)
	}
	h := &harness{client: c, st: st, table: table, logs: &bytes.Buffer{}, metrics: &bytes.Buffer{}}
	log := slog.New(slog.NewJSONHandler(h.logs, nil))
	h.proc = ingest.New(st, log, metrics.New(h.metrics))
	h.handler = lambda.NewHandler(h.proc.HandleSQS)
	return h
}

// invoke feeds a sample event file through the handler's JSON layer and returns
// the ids of the messages reported as failed.
func (h *harness) invoke(t *testing.T, file string) (events.SQSEvent, []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", file))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	out, err := h.handler.Invoke(context.Background(), raw)
	if err != nil {
		t.Fatalf("invoke %s: %v", file, err)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	return ev, failed
}

func TestSamplePaymentAndDuplicates(t *testing.T) {
	h := newHarness(t)
	if _, failed := h.invoke(t, "sqs-payment.json"); len(failed) > 0 {
		t.Fatalf("failed: %v", failed)
	}
	m, err := h.st.Member(context.Background(), "telco", "cust-42")
	if err != nil {
		t.Fatal(err)
	}
	// 1299.00 RUB at 1 point per 100.00 = 12 (floor of 12.99), streak 1 of 3,
	// frequency 1 of 4: no bonus yet.
	if m.Available != 12 {
		t.Fatalf("available %d, want 12", m.Available)
	}
	// The same payment three times (once with a new event id), and again later.
	for range 2 {
		if _, failed := h.invoke(t, "sqs-duplicate.json"); len(failed) > 0 {
			t.Fatalf("failed: %v", failed)
		}
	}
	m2, _ := h.st.Member(context.Background(), "telco", "cust-42")
	if m2.Available != 12 || m2.Seq != 1 {
		t.Fatalf("after duplicates: available %d seq %d, want 12 and 1", m2.Available, m2.Seq)
	}
	if !strings.Contains(h.logs.String(), `"duplicate":true`) {
		t.Fatalf("duplicates are not logged as such:\n%s", h.logs)
	}
	if err := h.st.Audit(context.Background(), "telco", "cust-42"); err != nil {
		t.Fatal(err)
	}
}

func TestSamplePartialRefund(t *testing.T) {
	h := newHarness(t)
	// The refund first: its payment is unknown yet → reported for retry.
	ev, failed := h.invoke(t, "sqs-partial-refund.json")
	if !slices.Equal(failed, []string{ev.Records[0].MessageId}) {
		t.Fatalf("refund before payment: failed = %v, want its message id", failed)
	}
	h.invoke(t, "sqs-payment.json")
	if _, failed := h.invoke(t, "sqs-partial-refund.json"); len(failed) > 0 {
		t.Fatalf("refund after payment failed: %v", failed)
	}
	m, _ := h.st.Member(context.Background(), "telco", "cust-42")
	// 12 points for 129900; 50000 refunded → floor(12*50000/129900) = 4 reversed.
	if m.Available != 8 || m.Lifetime != 8 {
		t.Fatalf("available %d lifetime %d, want 8 and 8", m.Available, m.Lifetime)
	}
	if err := h.st.Audit(context.Background(), "telco", "cust-42"); err != nil {
		t.Fatal(err)
	}
}

// Every kind of bad message handled is recorded with its reason, field and raw
// body, acknowledged (not retried), and counted in a metric.
func TestMalformedMessagesAreRecorded(t *testing.T) {
	h := newHarness(t)
	ev, failed := h.invoke(t, "sqs-malformed.json")
	if len(failed) > 0 {
		t.Fatalf("bad messages must not be retried; failed = %v", failed)
	}
	want := []struct {
		reason, field string
		partner       string // "" = operators' partition
	}{
		{payment.ReasonMalformed, "", ""},
		{payment.ReasonMalformed, "", ""},
		{payment.ReasonCurrency, "data.currency", "telco"},
		{payment.ReasonAmount, "data.amount_minor", "telco"},
		{payment.ReasonAmount, "data.amount_minor", "telco"},
		{ingest.ReasonUnknownPartner, "", ""},
		{payment.ReasonData, "data.category", "telco"},
		{payment.ReasonData, "data.refund_of", "telco"},
		{payment.ReasonUnsupportedType, "type", "telco"},
		{payment.ReasonEnvelope, "time", "telco"},
		{payment.ReasonData, "data.recurring.period", "telco"},
		{payment.ReasonData, "data", ""},
	}
	if len(want) != len(ev.Records) {
		t.Fatalf("test table has %d rows for %d sample messages", len(want), len(ev.Records))
	}
	got := map[string]store.Rejection{}
	for _, partner := range []string{"telco", ""} {
		rs, _, err := h.st.Rejections(context.Background(), partner, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.PartnerID != partner {
				t.Fatalf("rejection of %q stored under %q", r.PartnerID, partner)
			}
			got[r.MessageID] = r
		}
	}
	for i, rec := range ev.Records {
		r, ok := got[rec.MessageId]
		w := want[i]
		switch {
		case !ok:
			t.Errorf("message %d (%s): no rejection recorded", i, rec.MessageId)
		case r.Reason != w.reason || r.Field != w.field || r.PartnerID != w.partner:
			t.Errorf("message %d: reason %q field %q partner %q; want %q %q %q (%s)", i, r.Reason, r.Field, r.PartnerID, w.reason, w.field, w.partner, r.Detail)
		case r.Body != rec.Body || r.Source != "sqs" || r.Detail == "":
			t.Errorf("message %d: body/source/detail not kept: %+v", i, r)
		}
	}
	if n := strings.Count(h.metrics.String(), `"RejectedEvents":1`); n != len(ev.Records) {
		t.Errorf("%d RejectedEvents metric lines, want %d", n, len(ev.Records))
	}
	if strings.Contains(h.metrics.String(), `"Reason":"`+ingest.ReasonOther+`"`) {
		t.Errorf("a reason outside ingest.Reasons() reached the metric:\n%s", h.metrics)
	}
	// Redelivery of the same bad batch records nothing new.
	h.invoke(t, "sqs-malformed.json")
	rs, _, _ := h.st.Rejections(context.Background(), "telco", 100, "")
	ops, _, _ := h.st.Rejections(context.Background(), "", 100, "")
	if len(rs)+len(ops) != len(ev.Records) {
		t.Fatalf("after redelivery %d rejections, want %d", len(rs)+len(ops), len(ev.Records))
	}
}

// A batch with a transient failure in the middle reports only that message.
func TestPartialBatchFailure(t *testing.T) {
	h := newHarness(t)
	body := func(typ, id, refundOf string) string {
		b, _ := json.Marshal(map[string]any{
			"specversion": "1.0", "id": "e-" + id, "source": "t", "type": typ, "time": "2026-11-05T10:00:00Z",
			"data": map[string]any{"partner_id": "telco", "member_id": "m1", "payment_id": id, "amount_minor": 100000,
				"currency": "RUB", "category": "retail", "refund_of": refundOf},
		})
		return string(b)
	}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "a", Body: body(payment.TypeSucceeded, "p1", "")},
		{MessageId: "b", Body: body(payment.TypeRefunded, "r9", "p9")}, // payment p9 not seen yet
		{MessageId: "c", Body: body(payment.TypeSucceeded, "p2", "")},
	}}
	resp, err := h.proc.HandleSQS(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "b" {
		t.Fatalf("failures = %+v, want only b", resp.BatchItemFailures)
	}
	m, _ := h.st.Member(context.Background(), "telco", "m1")
	if m.Available != 10 { // 2 × 1000.00 retail at 1 per 200.00 = 5 + 5
		t.Fatalf("available %d, want 10", m.Available)
	}
}

// Rejections decided by the store, not the parser: each is recorded under the
// partner with its reason, and not retried.
func TestStoreRejections(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	closed, err := program.Parse([]byte(`{"name":"Closed","auto_enroll":false,"earning":[{"id":"b","rate":{"points":1,"per_minor":100}}],"point_value":{"minor":"1","currency":"RUB"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.PutProgram(ctx, "closed", closed); err != nil {
		t.Fatal(err)
	}
	msg := func(partner, member, typ, id, refundOf, currency string, amount int64) []byte {
		b, _ := json.Marshal(map[string]any{
			"specversion": "1.0", "id": "e-" + id, "source": "t", "type": typ, "time": "2026-11-05T10:00:00Z",
			"data": map[string]any{"partner_id": partner, "member_id": member, "payment_id": id, "amount_minor": amount,
				"currency": currency, "category": "retail", "refund_of": refundOf},
		})
		return b
	}
	apply := func(body []byte) ingest.Result {
		t.Helper()
		var ev struct{ ID string }
		_ = json.Unmarshal(body, &ev)
		res, err := h.proc.Process(ctx, ingest.Message{ID: ev.ID, Source: "api", Body: body, ReceivedAt: now})
		if err != nil {
			t.Fatalf("transient error: %v", err)
		}
		return res
	}
	apply(msg("telco", "m1", payment.TypeSucceeded, "p1", "", "RUB", 100000))
	apply(msg("telco", "m2", payment.TypeSucceeded, "p1", "", "RUB", 100000))
	if _, err := h.st.UpdateMember(ctx, "telco", "m2", func(m *ledger.Member) error { m.Status = ledger.StatusSuspended; return nil }); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, partner string
		body          []byte
		reason        string
	}{
		{"unknown member, no auto-enroll", "closed", msg("closed", "stranger", payment.TypeSucceeded, "p1", "", "RUB", 1000), ingest.ReasonUnknownMember},
		{"suspended member", "telco", msg("telco", "m2", payment.TypeSucceeded, "p2", "", "RUB", 1000), ingest.ReasonMemberInactive},
		{"refund over the payment", "telco", msg("telco", "m1", payment.TypeRefunded, "r1", "p1", "RUB", 100001), ingest.ReasonRefundExceeds},
		{"refund in another currency", "telco", msg("telco", "m1", payment.TypeRefunded, "r2", "p1", "USD", 100), ingest.ReasonRefundCurrency},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := apply(tc.body)
			if res.Rejection == nil || res.Rejection.Reason != tc.reason || res.Rejection.PartnerID != tc.partner {
				t.Fatalf("result %v %+v, want rejection %s under %s", res, res.Rejection, tc.reason, tc.partner)
			}
			rs, _, err := h.st.Rejections(ctx, tc.partner, 50, "")
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range rs {
				found = found || (r.Reason == tc.reason && r.Body == string(tc.body))
			}
			if !found {
				t.Fatalf("no stored rejection %s with the raw body", tc.reason)
			}
		})
	}
	if m, _ := h.st.Member(ctx, "telco", "m1"); m.Available != 5 { // 1000.00 retail at 1 per 200.00
		t.Fatalf("a rejected refund changed the balance: %d", m.Available)
	}
}

// emfLine is the part of a CloudWatch Embedded Metric Format line the tests read.
type emfLine struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
	Reason, Scope  string
	RejectedEvents *int64
}

// Every rejection is counted in the RejectedEvents metric with why (Reason,
// one of a fixed set) and where it is kept (Scope: the partner's, or the
// operators' partition when the partner is unknown or unreadable) as
// dimensions, in an EMF line CloudWatch reads (issue #9, item 9).
func TestRejectedEventsMetricSaysWhy(t *testing.T) {
	h := newHarness(t)
	body := func(partner, currency string) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":"e-%[1]s","source":"billing/x","type":"payment.succeeded","time":"2026-11-05T10:00:00Z",
			"data":{"partner_id":%[1]q,"member_id":"m1","payment_id":"p-%[1]s","amount_minor":100,"currency":%[2]q,"category":"telecom"}}`, partner, currency)
	}
	cases := []struct {
		body, reason, scope string
	}{
		{`{"data":`, "malformed_json", ingest.ScopeOperators},
		{body("nobody", "RUB"), "unknown_partner", ingest.ScopeOperators},
		{body("telco", "XAU"), "unknown_currency", ingest.ScopePartner},
	}
	for i, c := range cases {
		h.metrics.Reset()
		res, err := h.proc.Process(context.Background(), ingest.Message{ID: fmt.Sprintf("m%d", i), Source: "sqs", Body: []byte(c.body), ReceivedAt: now})
		if err != nil || res.Rejection == nil || res.Rejection.Reason != c.reason {
			t.Fatalf("%s: %+v, %v", c.reason, res, err)
		}
		lines := strings.Split(strings.TrimSpace(h.metrics.String()), "\n")
		if len(lines) != 1 {
			t.Fatalf("%s: %d metric lines:\n%s", c.reason, len(lines), h.metrics)
		}
		var l emfLine
		if err := json.Unmarshal([]byte(lines[0]), &l); err != nil {
			t.Fatalf("%s: %v: %s", c.reason, err, lines[0])
		}
		cw := l.AWS.CloudWatchMetrics
		if len(cw) != 1 || cw[0].Namespace != "Accrue" || !reflect.DeepEqual(cw[0].Dimensions, [][]string{{"Reason", "Scope"}}) ||
			len(cw[0].Metrics) != 1 || cw[0].Metrics[0].Name != ingest.MetricRejected || cw[0].Metrics[0].Unit != "Count" || l.AWS.Timestamp == 0 {
			t.Fatalf("%s: EMF metadata %s", c.reason, lines[0])
		}
		if l.Reason != c.reason || l.Scope != c.scope || l.RejectedEvents == nil || *l.RejectedEvents != 1 {
			t.Fatalf("%s: reason %q scope %q value %v, want %s %s 1: %s", c.reason, l.Reason, l.Scope, l.RejectedEvents, c.reason, c.scope, lines[0])
		}
	}
}

// The metric's Reason takes its values from a fixed set: the reasons every
// rejection path can produce.
func TestRejectionReasonsAreAFixedSet(t *testing.T) {
	rs := ingest.Reasons()
	seen := map[string]bool{}
	for _, r := range rs {
		if r == "" || r == ingest.ReasonOther || seen[r] {
			t.Fatalf("reason %q empty, reserved or listed twice: %v", r, rs)
		}
		seen[r] = true
	}
	for _, r := range []string{payment.ReasonMalformed, payment.ReasonTooLarge, ingest.ReasonUnknownPartner, ingest.ReasonMemberErased, ingest.ReasonPartnerMismatch} {
		if !seen[r] {
			t.Errorf("%s is not in Reasons()", r)
		}
	}
}
