package webhooks

import (
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/accrue/accrue/shared/awsclient"
	"github.com/accrue/accrue/shared/metrics"
	"github.com/accrue/accrue/shared/store"
)

// ScheduleEnv overrides the retry schedule (ParseSchedule's form); unset in
// AWS, where DefaultSchedule applies.
const ScheduleEnv = "ACCRUE_WEBHOOK_SCHEDULE"

// Lambda is the webhooks function's handler (functions/webhooks): Handle on
// the table (ACCRUE_TABLE), the webhook key (ACCRUE_WEBHOOK_KEY), the
// deliveries queue (ACCRUE_WEBHOOK_DELIVERIES_QUEUE_URL) and the stage's URL
// policy (ACCRUE_WEBHOOK_URLS).
func Lambda(cfg aws.Config, log *slog.Logger) (any, error) {
	var env [3]string
	for i, name := range []string{"ACCRUE_TABLE", KeyEnv, DeliveriesQueueEnv} {
		v, err := awsclient.Env(name)
		if err != nil {
			return nil, err
		}
		env[i] = v
	}
	policy, err := ParsePolicy(os.Getenv(PolicyEnv))
	if err != nil {
		return nil, err
	}
	schedule := DefaultSchedule
	if s := os.Getenv(ScheduleEnv); s != "" {
		if schedule, err = ParseSchedule(s); err != nil {
			return nil, err
		}
	}
	return New(Config{
		Store:    store.New(awsclient.DynamoDB(cfg), env[0]),
		Box:      NewBox(kms.NewFromConfig(cfg), env[1]),
		Queue:    NewQueue(sqs.NewFromConfig(cfg), env[2]),
		Policy:   policy,
		Schedule: schedule,
		Log:      log,
		Metrics:  metrics.New(os.Stdout),
	}).Handle, nil
}
