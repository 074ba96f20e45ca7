package ingest

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/store"
)

// HandleSQS is the Lambda handler of the payments queue. Messages are processed
// in order; a transient failure is reported as a batch item failure so that only
// that message returns to the queue (the event source mapping must have
// ReportBatchItemFailures). Rejected messages are recorded and acknowledged.
// The handler itself never fails the whole batch.
func (p *Processor) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	pays := make([]payment.Payment, len(ev.Records))
	errs := make([]error, len(ev.Records))
	for i, rec := range ev.Records {
		pays[i], errs[i] = payment.Parse([]byte(rec.Body))
	}
	hints := p.prefetch(ctx, pays, errs)
	for i, rec := range ev.Records {
		if ctx.Err() != nil {
			// Out of time: hand the rest back untouched.
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			continue
		}
		msg := Message{ID: rec.MessageId, Source: "sqs", Body: []byte(rec.Body), ReceivedAt: sentAt(rec, p.now)}
		if _, err := p.apply(ctx, msg, pays[i], errs[i], hints); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// prefetch reads the members of the batch's payments in one request. It is an
// optimisation only: on failure each event reads its member itself.
func (p *Processor) prefetch(ctx context.Context, pays []payment.Payment, errs []error) *store.Hints {
	valid := make([]payment.Payment, 0, len(pays))
	for i, pay := range pays {
		if errs[i] == nil {
			valid = append(valid, pay)
		}
	}
	h, err := p.store.Prefetch(ctx, valid)
	if err != nil {
		p.log.WarnContext(ctx, "prefetching the batch's members failed; reading them one by one", "error", err)
		return nil
	}
	return h
}

// sentAt is when SQS received the message (its SentTimestamp attribute), so a
// redelivered message keeps the same rejection key; the clock otherwise.
func sentAt(rec events.SQSMessage, now func() time.Time) time.Time {
	if ms, err := strconv.ParseInt(rec.Attributes["SentTimestamp"], 10, 64); err == nil && ms > 0 {
		return time.UnixMilli(ms).UTC()
	}
	return now().UTC()
}
