// Package queue defines the payments queue and its DLQ once, for the CDK
// stack and the local stack (settings, and creating them on an emulator), and
// moves dead-lettered messages back for operators (redrive.go). The local
// consumer with Lambda's batch semantics is internal/sqspoller.
package queue

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// The payments queue, as both the CDK stack and the local stack create it.
const (
	// MaxReceiveCount: a message received this many times without success moves
	// to the DLQ (spec §3).
	MaxReceiveCount = 5
	// IngestTimeout is the ingest function's timeout; the queue's visibility
	// timeout is VisibilityFactor times it (AWS's advice for Lambda consumers).
	IngestTimeout    = 30 * time.Second
	VisibilityFactor = 6
	// BatchSize is the event source mapping's batch size.
	BatchSize = 10
	// DLQRetention keeps failed messages for the operator (SQS's maximum).
	DLQRetention = 14 * 24 * time.Hour
)

// VisibilityTimeout of the payments queue.
func VisibilityTimeout() time.Duration { return VisibilityFactor * IngestTimeout }

// Queues names a payments queue and its DLQ.
type Queues struct {
	URL, DLQURL string
}

// CreatePayments creates (or finds) the payments queue named name and its DLQ
// with the redrive policy, on an SQS endpoint such as moto. visibility
// overrides VisibilityTimeout() when > 0 (the local stack uses a short one so
// retries are visible within seconds).
func CreatePayments(ctx context.Context, c *sqs.Client, name string, visibility time.Duration) (Queues, error) {
	if visibility <= 0 {
		visibility = VisibilityTimeout()
	}
	return CreateQueues(ctx, c, name, visibility)
}

// CreateQueues creates (or finds) the queue named name with the visibility
// timeout and its own DLQ (name-dlq, after MaxReceiveCount receives): the
// payments queue's shape, which the imports queue shares.
func CreateQueues(ctx context.Context, c *sqs.Client, name string, visibility time.Duration) (Queues, error) {
	dlq, err := CreateDLQ(ctx, c, name+"-dlq")
	if err != nil {
		return Queues{}, err
	}
	url, err := CreateWithDLQ(ctx, c, name, dlq, visibility)
	return Queues{URL: url, DLQURL: dlq}, err
}

// CreateDLQ creates (or finds) a dead-letter queue named name, keeping
// messages DLQRetention, and returns its URL.
func CreateDLQ(ctx context.Context, c *sqs.Client, name string) (string, error) {
	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name),
		Attributes: map[string]string{"MessageRetentionPeriod": strconv.Itoa(int(DLQRetention.Seconds()))}})
	if err != nil {
		return "", fmt.Errorf("create DLQ %s: %w", name, err)
	}
	return aws.ToString(dlq.QueueUrl), nil
}

// CreateWithDLQ creates (or finds) the queue named name with the visibility
// timeout and a redrive policy to the DLQ at dlqURL after MaxReceiveCount
// receives, and returns its URL.
func CreateWithDLQ(ctx context.Context, c *sqs.Client, name, dlqURL string, visibility time.Duration) (string, error) {
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(dlqURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", fmt.Errorf("DLQ arn: %w", err)
	}
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		"VisibilityTimeout": strconv.Itoa(int(visibility.Seconds())),
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`, attrs.Attributes["QueueArn"], MaxReceiveCount),
	}})
	if err != nil {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return aws.ToString(q.QueueUrl), nil
}
