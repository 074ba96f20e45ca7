package imports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/accrue/accrue/shared/queue"
)

// Deployment settings of the imports function, its queue and its bucket
// (the CDK stack and the local stack read them here).
const (
	// FunctionTimeout: the imports function works through a file for up to
	// this long per invocation (Lambda's maximum), then continues in the next.
	FunctionTimeout = 15 * time.Minute
	// QueueVisibility: Lambda's guidance for a queue's consumer, six times
	// its timeout: a message comes back only once its invocation is surely
	// over. A crashed invocation's import resumes from its checkpoint then.
	QueueVisibility = 6 * FunctionTimeout
	// UploadExpiryDays: uploaded files are deleted this long after their
	// upload (the bucket's lifecycle rule); the import's job item, counts
	// and rejected lines stay.
	UploadExpiryDays = 7
)

// ObjectPrefix is where import files go in the imports bucket: the bucket
// notifies the imports queue of objects created under it.
const ObjectPrefix = objectPrefix

// CreateLocal creates, on an emulator such as moto, what the CDK stack
// creates in AWS: the imports bucket, the imports queue (with its DLQ) and
// the bucket's notification of every object created under ObjectPrefix to
// the queue. Existing ones are kept. It returns the queues.
func CreateLocal(ctx context.Context, s3c *s3.Client, sq *sqs.Client, bucket, queueName string, visibility time.Duration) (queue.Queues, error) {
	_, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *s3types.BucketAlreadyOwnedByYou
	var exists *s3types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return queue.Queues{}, fmt.Errorf("create the imports bucket: %w", err)
	}
	qs, err := queue.CreateQueues(ctx, sq, queueName, visibility)
	if err != nil {
		return qs, fmt.Errorf("imports queue: %w", err)
	}
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(qs.URL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return qs, fmt.Errorf("imports queue arn: %w", err)
	}
	_, err = s3c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(bucket),
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
			QueueArn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
			Events:   []s3types.Event{s3types.EventS3ObjectCreated},
			Filter: &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: []s3types.FilterRule{
				{Name: s3types.FilterRuleNamePrefix, Value: aws.String(ObjectPrefix)}}}},
		}}},
	})
	if err != nil {
		return qs, fmt.Errorf("notify the imports queue of uploads: %w", err)
	}
	return qs, nil
}
