package devstack

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// eventBus creates the local event bus on moto (if missing) and a rule that
// copies every Accrue event to an SQS queue, so a developer can watch what a
// partner's rule would receive. It returns that queue's URL.
func eventBus(ctx context.Context, eb *eventbridge.Client, sq *sqs.Client, bus string) (string, error) {
	_, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)})
	var exists *ebtypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return "", fmt.Errorf("create event bus: %w", err)
	}
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(bus + "-events")})
	if err != nil {
		return "", fmt.Errorf("create events queue: %w", err)
	}
	qa, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", fmt.Errorf("events queue arn: %w", err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{EventBusName: aws.String(bus), Name: aws.String("all-accrue-events"),
		EventPattern: aws.String(`{"source":["accrue"]}`)}); err != nil {
		return "", fmt.Errorf("put rule: %w", err)
	}
	out, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{EventBusName: aws.String(bus), Rule: aws.String("all-accrue-events"),
		Targets: []ebtypes.Target{{Id: aws.String("events-queue"), Arn: aws.String(qa.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}})
	if err != nil || out.FailedEntryCount > 0 {
		return "", fmt.Errorf("put rule target: %v (%d failed)", err, out.FailedEntryCount)
	}
	return aws.ToString(q.QueueUrl), nil
}
