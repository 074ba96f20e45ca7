package ingest

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/store"
)

// BatchWorkers bounds how many of a batch's members are worked on at once.
// A batch's accruals are I/O: one transaction each, ~10 ms on DynamoDB.
// Worked one after the other, a batch of 10 holds its Lambda for the sum of
// them; worked at once, for the slowest lane. With the ingest mapping's
// maximum concurrency fixed by the stage, that is what a partner's billing run
// can get through per second (docs/scale.md).
const BatchWorkers = 10

// HandleSQS is the Lambda handler of the payments queue. The batch's
// messages are parsed, their members read in one request (Prefetch), then
// applied in lanes, one lane per member: a member's messages in the order of
// the batch, different members' at once (at most BatchWorkers lanes at a
// time). Two lanes can still meet on one member (an id merged into another):
// the member's version fences each write, and the loser decides again.
//
// A transient failure is reported as a batch item failure so that only that
// message returns to the queue (the event source mapping must have
// ReportBatchItemFailures). Rejected messages are recorded and acknowledged.
// The handler itself never fails the whole batch.
func (p *Processor) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	pays := make([]payment.Payment, len(ev.Records))
	errs := make([]error, len(ev.Records))
	for i, rec := range ev.Records {
		pays[i], errs[i] = payment.Parse([]byte(rec.Body))
	}
	hints := p.prefetch(ctx, pays, errs)
	failed := make([]bool, len(ev.Records)) // each index written by its lane only
	var g errgroup.Group
	g.SetLimit(BatchWorkers)
	for _, lane := range lanes(pays, errs) {
		g.Go(func() error {
			for _, i := range lane {
				failed[i] = !p.applyRecord(ctx, ev.Records[i], pays[i], errs[i], hints)
			}
			return nil
		})
	}
	_ = g.Wait() // lanes report through failed, never an error
	var resp events.SQSEventResponse
	for i, rec := range ev.Records {
		if failed[i] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// applyRecord applies one record of a batch; false: hand it back to the
// queue (a transient failure, or the invocation is out of time: the record
// goes back untouched).
func (p *Processor) applyRecord(ctx context.Context, rec events.SQSMessage, pay payment.Payment, perr error, hints *store.Hints) bool {
	if ctx.Err() != nil {
		return false
	}
	msg := Message{ID: rec.MessageId, Source: "sqs", Body: []byte(rec.Body), ReceivedAt: sentAt(rec, p.now)}
	_, err := p.apply(ctx, msg, pay, perr, hints)
	return err == nil
}

// lanes groups a batch's record indexes by the member they concern, each
// lane in batch order, lanes in the order of their first record. A record
// that did not parse is a lane of its own: it touches no member.
func lanes(pays []payment.Payment, errs []error) [][]int {
	type member struct{ partner, id string }
	var out [][]int
	lane := map[member]int{}
	for i, pay := range pays {
		if errs[i] != nil {
			out = append(out, []int{i})
			continue
		}
		k := member{pay.PartnerID, pay.MemberID}
		if j, ok := lane[k]; ok {
			out[j] = append(out[j], i)
			continue
		}
		lane[k] = len(out)
		out = append(out, []int{i})
	}
	return out
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
