// Package sqspoller consumes an SQS queue the way Lambda's SQS event source
// mapping does, for the local stack and the tests: batches of up to 10
// messages handed to the same handler the Lambda runs, partial batch failures
// honoured (only the failed messages stay on the queue, to come back after
// the visibility timeout), and the queue's redrive policy moving a message to
// the DLQ after its max receives.
package sqspoller

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	smithytime "github.com/aws/smithy-go/time"
)

// SQS is the part of the SQS client the poller uses.
type SQS interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// Handler is the Lambda SQS handler signature with partial batch responses.
type Handler func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

// Poller feeds a queue's messages to a handler.
type Poller struct {
	Client   SQS
	QueueURL string
	Handler  Handler
	Log      *slog.Logger
	// BatchSize: at most 10 (SQS's limit per receive). Default 10.
	BatchSize int32
	// WaitSeconds: long-poll time of each receive. Default 1.
	WaitSeconds int32
}

// PollOnce receives one batch and handles it. It returns how many messages it
// received and how many were deleted (handled successfully).
func (p *Poller) PollOnce(ctx context.Context) (received, deleted int, err error) {
	batch := p.BatchSize
	if batch <= 0 || batch > 10 {
		batch = 10
	}
	wait := p.WaitSeconds
	if wait <= 0 {
		wait = 1
	}
	out, err := p.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(p.QueueURL), MaxNumberOfMessages: batch, WaitTimeSeconds: wait,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return 0, 0, fmt.Errorf("receive from %s: %w", p.QueueURL, err)
	}
	if len(out.Messages) == 0 {
		return 0, 0, nil
	}
	ev := toEvent(out.Messages, p.QueueURL)
	resp, herr := p.Handler(ctx, ev)
	if herr != nil {
		// Like Lambda: a handler error fails the whole batch; nothing is deleted.
		p.log().ErrorContext(ctx, "handler failed the whole batch", "error", herr, "messages", len(ev.Records))
		return len(out.Messages), 0, nil
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	var del []types.DeleteMessageBatchRequestEntry
	for i, m := range out.Messages {
		if !failed[aws.ToString(m.MessageId)] {
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(del) > 0 {
		res, err := p.Client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: del})
		if err != nil {
			return len(out.Messages), 0, fmt.Errorf("delete from %s: %w", p.QueueURL, err)
		}
		if len(res.Failed) > 0 {
			p.log().WarnContext(ctx, "some handled messages could not be deleted; they will be delivered again", "failed", len(res.Failed))
		}
		deleted = len(res.Successful)
	}
	return len(out.Messages), deleted, nil
}

// Run polls until ctx is done. Receive errors are logged and retried after a
// pause, as Lambda's poller does.
func (p *Poller) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if _, _, err := p.PollOnce(ctx); err != nil && ctx.Err() == nil {
			p.log().WarnContext(ctx, "polling failed; retrying", "error", err)
			_ = smithytime.SleepWithContext(ctx, time.Second) // a cancelled ctx ends the loop
		}
	}
	return nil
}

func (p *Poller) log() *slog.Logger {
	if p.Log == nil {
		return slog.Default()
	}
	return p.Log
}

// toEvent converts received messages to the Lambda SQS event shape.
func toEvent(msgs []types.Message, queueURL string) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		rec := events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), Md5OfBody: aws.ToString(m.MD5OfBody),
			Attributes: m.Attributes, EventSource: "aws:sqs", EventSourceARN: queueURL,
		}
		if len(m.MessageAttributes) > 0 {
			rec.MessageAttributes = map[string]events.SQSMessageAttribute{}
			for k, v := range m.MessageAttributes {
				rec.MessageAttributes[k] = events.SQSMessageAttribute{DataType: aws.ToString(v.DataType), StringValue: v.StringValue, BinaryValue: v.BinaryValue}
			}
		}
		ev.Records = append(ev.Records, rec)
	}
	return ev
}
