package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/accrue/accrue/internal/sqspoller"
	"github.com/accrue/accrue/shared/api"
	"github.com/accrue/accrue/shared/queue"
	"github.com/accrue/accrue/shared/store"
	"github.com/accrue/accrue/shared/webhooks"
)

// WebhookConfig configures the local webhook delivery path.
type WebhookConfig struct {
	// Prefix names the queues (<prefix>-webhook-events,
	// <prefix>-webhook-deliveries, <prefix>-webhook-dlq) and the bus rule.
	Prefix string
	// Bus is the event bus whose Accrue events are delivered.
	Bus string
	// Schedule of retries (default webhooks.DefaultSchedule, as in AWS);
	// tests and make dev WEBHOOK_SCHEDULE=... shorten it.
	Schedule webhooks.Schedule
	// Policy of endpoint URLs (default webhooks.PolicyLocal: http and
	// 127.0.0.1 allowed).
	Policy *webhooks.URLPolicy
	// CacheTTL of the endpoints in the delivery handler (default
	// webhooks.DefaultCacheTTL).
	CacheTTL time.Duration
	// Now is the delivery handler's clock (default time.Now).
	Now func() time.Time
	Log *slog.Logger
}

// Webhooks is the webhook delivery path of the local stack, as the CDK stack
// builds it in AWS: a rule on the bus copies every Accrue event to the
// events queue; the webhooks function's handler, fed by two Lambda-like
// pollers, fans each event out to the deliveries queue and makes the
// attempts (signed, retried on the same schedule through the same SQS
// delays and visibility timeouts, recorded in the table); both queues send
// what fails five times to the DLQ. Signing secrets are encrypted with a KMS
// key on moto.
type Webhooks struct {
	EventsQueueURL, DeliveriesQueueURL, DLQURL string
	// KeyID is the KMS key of the secrets.
	KeyID   string
	Box     *webhooks.Box
	Queue   *webhooks.Queue
	Handler *webhooks.Handler
	// Deps are the API's webhook routes' dependencies on this path.
	Deps *api.WebhookDeps
	sqs  *sqs.Client
	log  *slog.Logger
}

// NewWebhooks creates the queues, the bus rule and the KMS key on moto, and
// the handler on st.
func NewWebhooks(ctx context.Context, eb *eventbridge.Client, sq *sqs.Client, km *kms.Client, st *store.Store, cfg WebhookConfig) (*Webhooks, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	policy := webhooks.PolicyLocal
	if cfg.Policy != nil {
		policy = *cfg.Policy
	}
	w := &Webhooks{sqs: sq, log: cfg.Log}
	var err error
	if w.DLQURL, err = queue.CreateDLQ(ctx, sq, cfg.Prefix+"-webhook-dlq"); err != nil {
		return nil, err
	}
	if w.EventsQueueURL, err = queue.CreateWithDLQ(ctx, sq, cfg.Prefix+"-webhook-events", w.DLQURL, webhooks.QueueVisibility); err != nil {
		return nil, err
	}
	if w.DeliveriesQueueURL, err = queue.CreateWithDLQ(ctx, sq, cfg.Prefix+"-webhook-deliveries", w.DLQURL, webhooks.QueueVisibility); err != nil {
		return nil, err
	}
	if err := ruleToQueue(ctx, eb, sq, cfg.Bus, cfg.Prefix+"-webhooks", w.EventsQueueURL); err != nil {
		return nil, err
	}
	if w.KeyID, err = webhookKey(ctx, km, "alias/"+cfg.Prefix+"-webhooks"); err != nil {
		return nil, err
	}
	w.Box = webhooks.NewBox(km, w.KeyID)
	w.Queue = webhooks.NewQueue(sq, w.DeliveriesQueueURL)
	w.Handler = webhooks.New(webhooks.Config{
		Store: st, Box: w.Box, Queue: w.Queue, Policy: policy, Schedule: cfg.Schedule,
		CacheTTL: cfg.CacheTTL, Log: cfg.Log, Now: cfg.Now,
	})
	w.Deps = &api.WebhookDeps{Box: w.Box, Queue: webhooks.NewQueue(sq, w.DeliveriesQueueURL), Policy: policy}
	return w, nil
}

// Run feeds both queues to the handler, as the webhooks function's two
// event source mappings do, until ctx is done.
func (w *Webhooks) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, url := range []string{w.EventsQueueURL, w.DeliveriesQueueURL} {
		p := &sqspoller.Poller{Client: w.sqs, QueueURL: url, Handler: w.Handler.Handle, Log: w.log,
			BatchSize: webhooks.BatchSize, WaitSeconds: 1}
		wg.Go(func() { _ = p.Run(ctx) })
	}
	wg.Wait()
}

// ruleToQueue puts a rule on bus that sends every Accrue event to the queue.
func ruleToQueue(ctx context.Context, eb *eventbridge.Client, sq *sqs.Client, bus, rule, queueURL string) error {
	qa, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return fmt.Errorf("queue arn: %w", err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{EventBusName: aws.String(bus), Name: aws.String(rule),
		EventPattern: aws.String(`{"source":["accrue"]}`)}); err != nil {
		return fmt.Errorf("put rule %s: %w", rule, err)
	}
	out, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{EventBusName: aws.String(bus), Rule: aws.String(rule),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(qa.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}})
	if err != nil {
		return fmt.Errorf("put rule %s's target: %w", rule, err)
	}
	if out.FailedEntryCount > 0 {
		return fmt.Errorf("put rule %s's target: %d failed", rule, out.FailedEntryCount)
	}
	return nil
}

// webhookKey finds the KMS key of alias on moto, or creates it (moto keeps
// it while it runs: a kept database's secrets need the same key, so make dev
// FRESH=0 after a restart of moto cannot decrypt them; re-create or rotate
// the endpoints' secrets then).
func webhookKey(ctx context.Context, km *kms.Client, alias string) (string, error) {
	d, err := km.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	if err == nil {
		return aws.ToString(d.KeyMetadata.Arn), nil
	}
	k, err := km.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("Accrue local: webhook secrets")})
	if err != nil {
		return "", fmt.Errorf("create the webhook key: %w", err)
	}
	arn := aws.ToString(k.KeyMetadata.Arn)
	if _, err := km.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(arn)}); err != nil {
		return "", fmt.Errorf("alias the webhook key: %w", err)
	}
	return arn, nil
}

// checkSecrets warns of the demo partner's endpoints whose secret the
// current key cannot decrypt: made in an earlier make dev whose moto (and
// KMS key) is gone. Their deliveries fail until they get a new secret.
func (w *Webhooks) checkSecrets(ctx context.Context, st *store.Store, cfg Config) {
	eps, err := st.PartnerWebhooks(ctx, cfg.Partner)
	if err != nil {
		return
	}
	for _, ep := range eps {
		if _, err := w.Box.DecryptSecret(ctx, ep.PartnerID, ep.ID, ep.Secret); err != nil {
			cfg.Progress("webhook %s was made by an earlier make dev whose KMS key is gone: give it a new secret "+
				`(PATCH /v1/webhooks/%s {"rotate_secret":{"overlap_hours":0}}) or delete it`, ep.ID, ep.ID)
		}
	}
}
