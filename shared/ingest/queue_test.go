package ingest_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/sqspoller"
	"github.com/accrue/accrue/shared/queue"
)

func sampleBodies(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", file))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range ev.Records {
		out = append(out, r.Body)
	}
	return out
}

func queueDepth(t *testing.T, c *sqs.Client, url string) int {
	t.Helper()
	out, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		var k int
		_ = json.Unmarshal([]byte(v), &k)
		n += k
	}
	return n
}

// Through a real queue (moto) with Lambda's semantics: a refund that arrives
// before its payment fails transiently, is received 5 times, lands in the DLQ
// (not lost), and once the payment is in, an operator's redrive applies it.
// Bad messages are recorded and deleted, never retried.
func TestQueueRetriesThenDLQThenRedrive(t *testing.T) {
	h := newHarness(t)
	c := awstest.SQSClient(t)
	dlq := awstest.NewQueue(t, c, "payments-dlq", nil)
	dlqArn, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(dlq), AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	q := awstest.NewQueue(t, c, "payments", map[string]string{
		"VisibilityTimeout": "1",
		"RedrivePolicy":     `{"deadLetterTargetArn":"` + dlqArn.Attributes["QueueArn"] + `","maxReceiveCount":"5"}`,
	})
	send := func(body string) {
		if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(q), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	send(sampleBodies(t, "sqs-partial-refund.json")[0])
	send(sampleBodies(t, "sqs-malformed.json")[0])
	p := &sqspoller.Poller{Client: c, QueueURL: q, Handler: h.proc.HandleSQS, WaitSeconds: 1}

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	receives := 0
	for queueDepth(t, c, dlq) == 0 {
		if ctx.Err() != nil {
			t.Fatalf("the refund never reached the DLQ (received %d times)", receives)
		}
		n, _, err := p.PollOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		receives += n
	}
	if receives != 6 { // the bad message once, the refund 5 times
		t.Errorf("%d receives, want 6 (1 rejected + 5 retries of the refund)", receives)
	}
	if n := queueDepth(t, c, q); n != 0 {
		t.Fatalf("%d messages left on the queue", n)
	}
	if rs, _, _ := h.st.Rejections(context.Background(), "", 10, ""); len(rs) != 1 {
		t.Fatalf("bad message: %d rejections recorded, want 1", len(rs))
	}

	// The payment arrives; the operator moves the DLQ back; the refund applies.
	send(sampleBodies(t, "sqs-payment.json")[0])
	if _, _, err := p.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if moved, err := queue.Redrive(ctx, c, dlq, q); err != nil || moved != 1 {
		t.Fatalf("redrive moved %d: %v", moved, err)
	}
	for range 5 {
		if _, _, err := p.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	m, err := h.st.Member(context.Background(), "telco", "cust-42")
	if err != nil {
		t.Fatal(err)
	}
	if m.Available != 8 || m.Seq != 2 {
		t.Fatalf("after the redriven refund: available %d seq %d, want 8 and 2", m.Available, m.Seq)
	}
	if err := h.st.Audit(context.Background(), "telco", "cust-42"); err != nil {
		t.Fatal(err)
	}
}
