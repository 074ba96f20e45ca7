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
	hints := p.prefetch(ctx, ev.Records)
	for _, rec := range ev.Records {
		if ctx.Err() != nil {
			// Out of time: hand the rest back untouched.
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			continue
		}
		msg := Message{ID: rec.MessageId, Source: "sqs", Body: []byte(rec.Body), ReceivedAt: sentAt(rec, p.now)}
		if _, err := p.process(ctx, msg, hints); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// prefetch reads the members of the batch's payments in one request. It is an
// optimisation only: on failure each event reads its member itself.
func (p *Processor) prefetch(ctx context.Context, recs []events.SQSMessage) *store.Hints {
	pays := make([]payment.Payment, 0, len(recs))
	for _, rec := range recs {
		if pay, err := payment.Parse([]byte(rec.Body)); err == nil {
			pays = append(pays, pay)
		}
	}
	h, err := p.store.Prefetch(ctx, pays)
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
