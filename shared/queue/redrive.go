package queue

// Moving the messages of a DLQ back to its queue, once the cause of their
// failures is fixed. On AWS, SQS does it itself: a message move task
// (StartMessageMoveTask), which keeps each message's attributes and never
// loses one. Emulators that lack it (moto) get a receive / send / delete loop.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	smithytime "github.com/aws/smithy-go/time"
)

// MoveTaskAPI is what MoveBack needs of the SQS client.
type MoveTaskAPI interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, opts ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ListMessageMoveTasks(ctx context.Context, in *sqs.ListMessageMoveTasksInput, opts ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error)
}

// MoveBack moves every message of the DLQ at from back to the queue at to
// with an SQS message move task, and waits (polling every poll) until the
// task has ended. It returns how many messages the task moved; a task that
// failed or was cancelled is an error that says why.
func MoveBack(ctx context.Context, c MoveTaskAPI, from, to string, poll time.Duration) (int64, error) {
	src, err := queueArn(ctx, c, from)
	if err != nil {
		return 0, err
	}
	dst, err := queueArn(ctx, c, to)
	if err != nil {
		return 0, err
	}
	start, err := c.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(src), DestinationArn: aws.String(dst)})
	if err != nil {
		return 0, fmt.Errorf("start message move task: %w", err)
	}
	handle := aws.ToString(start.TaskHandle)
	for {
		out, err := c.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(src), MaxResults: aws.Int32(10)})
		if err != nil {
			return 0, fmt.Errorf("list message move tasks: %w", err)
		}
		task, found := findTask(out.Results, handle)
		if !found {
			return 0, fmt.Errorf("message move task %s is not listed for %s", handle, src)
		}
		moved := task.ApproximateNumberOfMessagesMoved
		switch aws.ToString(task.Status) {
		case "COMPLETED":
			return moved, nil
		case "FAILED", "CANCELLED":
			return moved, fmt.Errorf("message move task %s: %s: %s", handle, aws.ToString(task.Status), aws.ToString(task.FailureReason))
		}
		if err := smithytime.SleepWithContext(ctx, poll); err != nil {
			return moved, fmt.Errorf("waiting for message move task %s (still running on SQS's side): %w", handle, err)
		}
	}
}

// findTask picks the task with the handle; a running task has one, an ended
// task's entry may not (SQS lists the handle of running tasks only), in
// which case the newest entry is it (one move task per source at a time).
func findTask(ts []types.ListMessageMoveTasksResultEntry, handle string) (types.ListMessageMoveTasksResultEntry, bool) {
	for _, t := range ts {
		if aws.ToString(t.TaskHandle) == handle {
			return t, true
		}
	}
	if len(ts) > 0 && aws.ToString(ts[0].Status) != "RUNNING" {
		return ts[0], true
	}
	return types.ListMessageMoveTasksResultEntry{}, false
}

func queueArn(ctx context.Context, c MoveTaskAPI, url string) (string, error) {
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", fmt.Errorf("queue %s: %w", url, err)
	}
	arn := out.Attributes[string(types.QueueAttributeNameQueueArn)]
	if arn == "" {
		return "", fmt.Errorf("queue %s has no QueueArn attribute", url)
	}
	return arn, nil
}

// CopyAPI is what Redrive needs of the SQS client.
type CopyAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// Redrive moves every message from the DLQ at from back to the queue at to by
// receiving, sending and deleting them: for an endpoint without message move
// tasks (moto; on AWS use MoveBack). A message is deleted from the DLQ only
// after it was sent, so a failure can send one twice (ingestion is
// idempotent) but never loses one. It returns how many it moved.
func Redrive(ctx context.Context, c CopyAPI, from, to string) (int, error) {
	moved := 0
	sent := map[string]bool{}
	for {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(from), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return moved, fmt.Errorf("receive from DLQ: %w", err)
		}
		if len(out.Messages) == 0 {
			return moved, nil
		}
		var del []types.DeleteMessageBatchRequestEntry
		fresh := 0
		for i, m := range out.Messages {
			// A message received again (its delete not yet seen by the
			// queue) was sent already: only delete it.
			if id := aws.ToString(m.MessageId); !sent[id] {
				if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(to), MessageBody: m.Body, MessageAttributes: m.MessageAttributes}); err != nil {
					return moved, fmt.Errorf("send back to the queue: %w", err)
				}
				sent[id] = true
				fresh++
			}
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		res, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(from), Entries: del})
		if err != nil {
			return moved, fmt.Errorf("delete from DLQ: %w", err)
		}
		if len(res.Failed) > 0 {
			return moved + fresh, errors.New("some moved messages could not be deleted from the DLQ; they may be moved twice (ingestion is idempotent)")
		}
		moved += fresh
	}
}
