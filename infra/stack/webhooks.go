package stack

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/accrue/accrue/shared/eventschema"
	"github.com/accrue/accrue/shared/queue"
	"github.com/accrue/accrue/shared/webhooks"
)

// WebhookEventPattern is the pattern of the rule that feeds the webhooks'
// fan-out: every Accrue event (the fan-out finds each partner's endpoints).
func WebhookEventPattern() *awsevents.EventPattern {
	return &awsevents.EventPattern{Source: jsii.Strings(eventschema.Source)}
}

// WebhookEventsRetention: how long an event waits in the events queue (as
// the payments queue, longer than a weekend's outage).
const WebhookEventsRetention = 4 * 24 * time.Hour

// usesWebhooks reports whether a function uses the webhooks' resources (the
// stack then creates them).
func usesWebhooks(fns []Function) bool {
	for _, f := range fns {
		if _, ok := f.Trigger.(WebhookTrigger); ok {
			return true
		}
		for _, res := range []Resource{WebhookKey, WebhookEventsQueue, WebhookDeliveriesQueue} {
			if _, ok := f.Access[res]; ok {
				return true
			}
		}
	}
	return false
}

// newWebhooks creates what the webhook deliveries run on:
//
//   - WebhookKey, a customer-managed KMS key of its own (rotating) for the
//     endpoints' signing secrets: the table holds only their ciphertext, and
//     only the functions granted this key (each for its own purpose) can use
//     it;
//   - WebhookEventsQueue, which a rule on the bus fills with every domain
//     event (WebhookEventPattern; what EventBridge cannot put there after a
//     day of retries goes to WebhookDLQ);
//   - WebhookDeliveriesQueue, one message per attempt of a delivery (its
//     retries wait on SQS: a delay of up to 15 minutes, then the message
//     hidden for the rest, up to 12 hours);
//   - WebhookDLQ, where both queues send a message the webhooks function
//     failed 5 times on (a fan-out or an attempt it could not even record:
//     the table or KMS failing, not a partner's endpoint), alarmed.
func (r *resources) newWebhooks(stage Stage) {
	stack := r.stack
	r.webhookKey = awskms.NewKey(stack, jsii.String("WebhookKey"), &awskms.KeyProps{
		Description:       jsii.String("Accrue " + stage.Name + ": encrypts the webhooks' signing secrets"),
		Alias:             jsii.String("alias/accrue-" + stage.Name + "-webhooks"),
		EnableKeyRotation: jsii.Bool(true),
		PendingWindow:     duration(stage.KeyPendingWindow),
		RemovalPolicy:     stage.RemovalPolicy,
	})
	r.webhookDLQ = awssqs.NewQueue(stack, jsii.String("WebhookDLQ"), &awssqs.QueueProps{
		RetentionPeriod: duration(queue.DLQRetention),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
	})
	dlq := &awssqs.DeadLetterQueue{Queue: r.webhookDLQ, MaxReceiveCount: jsii.Number(queue.MaxReceiveCount)}
	r.webhookEvents = awssqs.NewQueue(stack, jsii.String("WebhookEventsQueue"), &awssqs.QueueProps{
		VisibilityTimeout: duration(webhooks.QueueVisibility),
		RetentionPeriod:   duration(WebhookEventsRetention),
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		DeadLetterQueue:   dlq,
	})
	r.webhookDeliveries = awssqs.NewQueue(stack, jsii.String("WebhookDeliveriesQueue"), &awssqs.QueueProps{
		VisibilityTimeout: duration(webhooks.QueueVisibility),
		RetentionPeriod:   duration(WebhookEventsRetention),
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		DeadLetterQueue:   dlq,
	})
	awsevents.NewRule(stack, jsii.String("WebhookEventsRule"), &awsevents.RuleProps{
		EventBus:     r.bus,
		Description:  jsii.String("Every domain event, to the webhooks' fan-out"),
		EventPattern: WebhookEventPattern(),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSqsQueue(r.webhookEvents, &awseventstargets.SqsQueueProps{
			DeadLetterQueue: r.webhookDLQ,
			RetryAttempts:   jsii.Number(185),
			MaxEventAge:     awscdk.Duration_Hours(jsii.Number(24)),
		})},
	})
}
