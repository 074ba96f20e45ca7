package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/accrue/accrue/shared/queue"
)

// moveTasks answers the three calls MoveBack makes the way SQS documents
// them (moto has no message move tasks, so this is the only way to run this
// path here): the task is listed RUNNING for a number of polls, then ends
// with the final status.
type moveTasks struct {
	polls       int
	final       string
	moved       int64
	started     *sqs.StartMessageMoveTaskInput
	listedSince int
}

func (m *moveTasks) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	name := aws.ToString(in.QueueUrl)[strings.LastIndex(aws.ToString(in.QueueUrl), "/")+1:]
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{"QueueArn": "arn:aws:sqs:us-east-1:123456789012:" + name}}, nil
}

func (m *moveTasks) StartMessageMoveTask(_ context.Context, in *sqs.StartMessageMoveTaskInput, _ ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error) {
	m.started = in
	return &sqs.StartMessageMoveTaskOutput{TaskHandle: aws.String("handle-1")}, nil
}

func (m *moveTasks) ListMessageMoveTasks(_ context.Context, in *sqs.ListMessageMoveTasksInput, _ ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error) {
	m.listedSince++
	if m.listedSince <= m.polls {
		return &sqs.ListMessageMoveTasksOutput{Results: []types.ListMessageMoveTasksResultEntry{{
			TaskHandle: aws.String("handle-1"), Status: aws.String("RUNNING"), SourceArn: in.SourceArn,
			ApproximateNumberOfMessagesMoved: m.moved / 2,
		}}}, nil
	}
	e := types.ListMessageMoveTasksResultEntry{Status: aws.String(m.final), SourceArn: in.SourceArn, ApproximateNumberOfMessagesMoved: m.moved}
	if m.final == "FAILED" {
		e.FailureReason = aws.String("AWS.SimpleQueueService.NonExistentQueue")
	}
	return &sqs.ListMessageMoveTasksOutput{Results: []types.ListMessageMoveTasksResultEntry{e}}, nil
}

func TestMoveBack(t *testing.T) {
	tests := []struct {
		name    string
		polls   int
		final   string
		wantErr string
	}{
		{"completes at once", 0, "COMPLETED", ""},
		{"completes after running", 3, "COMPLETED", ""},
		{"fails with its reason", 1, "FAILED", "NonExistentQueue"},
		{"cancelled", 1, "CANCELLED", "CANCELLED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &moveTasks{polls: tc.polls, final: tc.final, moved: 42}
			n, err := queue.MoveBack(context.Background(), api, "https://sqs/123/payments-dlq", "https://sqs/123/payments", time.Millisecond)
			if got, want := aws.ToString(api.started.SourceArn)+">"+aws.ToString(api.started.DestinationArn),
				"arn:aws:sqs:us-east-1:123456789012:payments-dlq>arn:aws:sqs:us-east-1:123456789012:payments"; got != want {
				t.Fatalf("task %s, want %s", got, want)
			}
			if tc.wantErr == "" {
				if err != nil || n != 42 {
					t.Fatalf("moved %d, err %v", n, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want it to say %q", err, tc.wantErr)
			}
		})
	}
}

// A cancelled context stops the wait (the task goes on on SQS's side).
func TestMoveBackCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := queue.MoveBack(ctx, &moveTasks{polls: 100, final: "COMPLETED"}, "q/dlq", "q/main", time.Hour)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}
