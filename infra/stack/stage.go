package stack

import (
	"fmt"
	"sort"
	"time"

	"github.com/accrue/accrue/shared/webhooks"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
)

// Stage holds every setting that differs between the dev and prod stacks. The
// stage is chosen with CDK context (`cdk deploy -c stage=prod`); the values
// themselves live here, in code, so they are reviewed like code.
type Stage struct {
	// Name is "dev" or "prod"; it suffixes the stack, bus and dashboard names.
	Name string

	// RemovalPolicy applies to the data and its key (table, KMS key, log
	// groups): RETAIN in prod, DESTROY in dev so `cdk destroy` leaves nothing.
	RemovalPolicy awscdk.RemovalPolicy
	// DeletionProtection is the table's deletion protection.
	DeletionProtection bool
	// KeyPendingWindow is how long a deleted KMS key can still be recovered.
	KeyPendingWindow time.Duration

	// LogRetention of the functions' and the API's access log groups.
	LogRetention awslogs.RetentionDays
	// EventArchiveRetention of the event bus archive (replayable domain events).
	EventArchiveRetention time.Duration

	// APIThrottle is the default route throttling of the HTTP API stage.
	APIThrottle Throttle
	// APIUnmatchedThrottle throttles the API's $default route: the requests
	// no explicit route matches (a wrong method on a known path, an unknown
	// path), which the api function answers 405 or 404. Lower than
	// APIThrottle: only clients' mistakes and scanners take it, and each is
	// a Lambda invocation.
	APIUnmatchedThrottle Throttle

	// Concurrency bounds what each function may take of the account's Lambda
	// concurrency, so that no function (ingest at a billing-day peak) can
	// starve the others (the API).
	Concurrency Concurrency

	// Alarms are the alarm thresholds.
	Alarms AlarmThresholds

	// WebhookURLs: the endpoint URLs partners may register (and deliveries
	// may connect to): https only and public addresses only in prod; http
	// too in dev. (make dev and the tests allow 127.0.0.1.)
	WebhookURLs webhooks.URLPolicy
}

// Throttle is API Gateway's token bucket: steady requests per second and burst.
type Throttle struct {
	RateLimit  float64
	BurstLimit float64
}

// Concurrency is the Lambda concurrency of a stage's functions.
type Concurrency struct {
	// Reserved is each function's reserved concurrency, by Function.Name:
	// the function always has that many concurrent executions available, and
	// never more. Every function has one (ValidateConcurrency).
	Reserved map[string]int
	// QueueMax is the payments queue's event source mapping's maximum
	// concurrency (ScalingConfig.MaximumConcurrency, 2..1000): how many
	// batches the ingest function processes at once. At most ingest's
	// Reserved, so the mapping never invokes more than the function may run
	// (a throttled batch returns to the queue and counts as a receive,
	// towards the DLQ).
	QueueMax int
	// WebhookQueueMax is the maximum concurrency of each of the webhooks
	// function's two queue mappings (2..1000): the two together at most its
	// reserved concurrency, for the same reason as QueueMax.
	WebhookQueueMax int
	// Account is the account's Lambda concurrency quota the stage is sized
	// for (AWS's default is 1000 per region). Lambda refuses a reservation
	// that leaves less than UnreservedMin of it unreserved.
	Account int
}

// UnreservedMin is the concurrency Lambda keeps unreserved in an account: it
// refuses reservations that would leave less.
const UnreservedMin = 100

// AlarmThresholds are the thresholds of the stack's CloudWatch alarms. The DLQ
// alarms have no threshold: any message in a DLQ is an alarm.
type AlarmThresholds struct {
	// Period over which each metric is aggregated.
	Period time.Duration
	// EvaluationPeriods: consecutive breaching periods before the alarm fires.
	EvaluationPeriods int
	// PaymentsQueueAge: age of the oldest message of the payments queue.
	PaymentsQueueAge time.Duration
	// ImportsQueueAge: age of the oldest message of the imports queue (an
	// import waiting for the imports function).
	ImportsQueueAge time.Duration
	// StreamIteratorAge: how far a stream consumer (events, stats) is
	// behind the table's stream, the age of the last record it read
	// (IteratorAge, Maximum).
	StreamIteratorAge time.Duration
	// FunctionErrors per period, per function (alarm when >= threshold).
	FunctionErrors float64
	// FunctionThrottles per period, per function (alarm when >= threshold).
	FunctionThrottles float64
	// API5xx: server errors of the HTTP API per period (alarm when >= threshold).
	API5xx float64
	// WebhookEventsAge: age of the oldest event waiting for the webhooks'
	// fan-out: deliveries start late.
	WebhookEventsAge time.Duration
	// WebhookBacklog: attempts due but not taken (the deliveries queue's
	// visible messages; those waiting for their retry are hidden).
	WebhookBacklog float64
	// WebhookDead: deliveries that died (every attempt failed: a partner's
	// endpoint down for a day) per period.
	WebhookDead float64
}

// Stages are the deployable stages by name.
var Stages = map[string]Stage{
	"dev": {
		Name:                  "dev",
		RemovalPolicy:         awscdk.RemovalPolicy_DESTROY,
		DeletionProtection:    false,
		KeyPendingWindow:      7 * 24 * time.Hour,
		LogRetention:          awslogs.RetentionDays_ONE_MONTH,
		EventArchiveRetention: 7 * 24 * time.Hour,
		APIThrottle:           Throttle{RateLimit: 50, BurstLimit: 100},
		APIUnmatchedThrottle:  Throttle{RateLimit: 10, BurstLimit: 20},
		// Dev sees test traffic: 48 in all, so dev and prod together fit in
		// one account of the default quota.
		Concurrency: Concurrency{
			Reserved:        map[string]int{"api": 20, "ingest": 10, "events": 5, "stats": 5, "jobs": 1, "rollup": 1, "webhooks": 4, "imports": 2},
			QueueMax:        10,
			WebhookQueueMax: 2,
			Account:         1000,
		},
		Alarms: AlarmThresholds{
			Period:            5 * time.Minute,
			EvaluationPeriods: 1,
			PaymentsQueueAge:  30 * time.Minute,
			ImportsQueueAge:   2 * time.Hour,
			StreamIteratorAge: 5 * time.Minute,
			FunctionErrors:    5,
			FunctionThrottles: 5,
			API5xx:            5,
			WebhookEventsAge:  30 * time.Minute,
			WebhookBacklog:    1000,
			WebhookDead:       1,
		},
		WebhookURLs: webhooks.PolicyHTTP,
	},
	"prod": {
		Name:                  "prod",
		RemovalPolicy:         awscdk.RemovalPolicy_RETAIN,
		DeletionProtection:    true,
		KeyPendingWindow:      30 * 24 * time.Hour,
		LogRetention:          awslogs.RetentionDays_ONE_YEAR,
		EventArchiveRetention: 90 * 24 * time.Hour,
		APIThrottle:           Throttle{RateLimit: 1000, BurstLimit: 2000},
		APIUnmatchedThrottle:  Throttle{RateLimit: 100, BurstLimit: 200},
		// Sized for the default quota of 1000: 526 reserved, 474 left for
		// anything else in the account.
		//   api 300: the stage lets 1000 requests/s through; at a p99
		//     latency of ~100 ms that is ~100 at once; 300 leaves room for a
		//     slow DynamoDB moment.
		//   ingest 20, its queue mapping at most 20: a batch of 10 payments
		//     is worked on in lanes, one per member, all at once
		//     (ingest.BatchWorkers), so it takes a BatchGetItem and its
		//     slowest transaction, ~30-50 ms on DynamoDB (assumed: not
		//     measurable here), so ~200-330 payments/s an invocation and
		//     ~4,000-6,500 payments/s in all, above a partner's billing-day
		//     peak; at ~5.5 WRU each (telco profile), ~22,000-36,000 WRU/s:
		//     this maximum is what keeps a billing run within the table's
		//     default quota of 40,000 WRU/s. Above it the queue holds the
		//     payments (its age is alarmed). Raise it with the table's quota.
		//   events 50, stats 50: a stream consumer runs one batch per shard at
		//     a time (ParallelizationFactor 1), and the stream has a shard per
		//     table partition: ~30 partitions at that write rate.
		//   jobs 2, rollup 2: one run per schedule, and an operator's manual
		//     run beside it.
		//   webhooks 100, each of its queue mappings at most 50: a batch of
		//     10 attempts runs at once, ~100 ms at a partner's endpoint, so
		//     ~5,000 attempts/s on the deliveries queue's 50 (the fan-out's 50
		//     take 10 events in a few ms each).
		//   imports 2, its queue mapping at most 2: two imports at once, the
		//     others wait in the imports queue. One import writes ~1,000
		//     members/s at ~11 WRU each (README, "Bulk import"): two take
		//     ~22,000 WRU/s of the table's 40,000, leaving room for payments.
		//   526 reserved in all.
		Concurrency: Concurrency{
			Reserved:        map[string]int{"api": 300, "ingest": 20, "events": 50, "stats": 50, "jobs": 2, "rollup": 2, "webhooks": 100, "imports": 2},
			QueueMax:        20,
			WebhookQueueMax: 50,
			Account:         1000,
		},
		Alarms: AlarmThresholds{
			Period:            time.Minute,
			EvaluationPeriods: 3,
			PaymentsQueueAge:  5 * time.Minute,
			ImportsQueueAge:   time.Hour,
			StreamIteratorAge: 5 * time.Minute,
			FunctionErrors:    1,
			FunctionThrottles: 1,
			API5xx:            1,
			WebhookEventsAge:  5 * time.Minute,
			WebhookBacklog:    20000,
			WebhookDead:       1,
		},
		WebhookURLs: webhooks.PolicyHTTPS,
	},
}

// DefaultStage is used when no `-c stage=...` is given.
const DefaultStage = "dev"

// StageNamed returns the stage called name ("" means DefaultStage).
func StageNamed(name string) (Stage, error) {
	if name == "" {
		name = DefaultStage
	}
	s, ok := Stages[name]
	if !ok {
		names := make([]string, 0, len(Stages))
		for n := range Stages {
			names = append(names, n)
		}
		sort.Strings(names)
		return Stage{}, fmt.Errorf("unknown stage %q: use -c stage=NAME with one of %v", name, names)
	}
	return s, nil
}

// mappingMax is the maximum concurrency of f's queue mapping: the stage's
// QueueMax for the payments queue, f's reserved concurrency for another
// queue (the imports queue: an import waits in the queue for a free slot).
func (s Stage) mappingMax(f Function) int {
	if q, _ := f.Trigger.(QueueTrigger); q.queue() == PaymentsQueue {
		return s.Concurrency.QueueMax
	}
	return s.Concurrency.Reserved[f.Name]
}

// ValidateConcurrency checks the stage's concurrency against the functions it
// deploys: every function has a reserved concurrency of at least 1, the
// reservations leave UnreservedMin of the account unreserved, and the payments
// queue's mapping (of the function with the QueueTrigger) invokes at most its
// reserved concurrency, within Lambda's 2..1000.
func (s Stage) ValidateConcurrency(fns []Function) error {
	c := s.Concurrency
	total := 0
	for _, f := range fns {
		n, ok := c.Reserved[f.Name]
		if !ok || n < 1 {
			return fmt.Errorf("stage %s: function %s has no reserved concurrency (Stage.Concurrency.Reserved)", s.Name, f.Name)
		}
		total += n
		if _, ok := f.Trigger.(WebhookTrigger); ok {
			if c.WebhookQueueMax < 2 || c.WebhookQueueMax > 1000 {
				return fmt.Errorf("stage %s: webhook queue mappings' maximum concurrency %d, Lambda allows 2..1000", s.Name, c.WebhookQueueMax)
			}
			if 2*c.WebhookQueueMax > n {
				return fmt.Errorf("stage %s: the webhook queue mappings' maximum concurrency, 2 x %d, above %s's reserved concurrency %d: the excess batches would be throttled and count towards the DLQ",
					s.Name, c.WebhookQueueMax, f.Name, n)
			}
		}
		if q, ok := f.Trigger.(QueueTrigger); ok && q.queue() != PaymentsQueue && n < 2 {
			return fmt.Errorf("stage %s: %s's queue mapping runs at most its reserved concurrency %d, Lambda allows 2..1000", s.Name, f.Name, n)
		}
		if q, ok := f.Trigger.(QueueTrigger); ok && q.queue() == PaymentsQueue {
			if c.QueueMax < 2 || c.QueueMax > 1000 {
				return fmt.Errorf("stage %s: queue mapping maximum concurrency %d, Lambda allows 2..1000", s.Name, c.QueueMax)
			}
			if c.QueueMax > n {
				return fmt.Errorf("stage %s: queue mapping maximum concurrency %d above %s's reserved concurrency %d: the excess batches would be throttled and count towards the DLQ",
					s.Name, c.QueueMax, f.Name, n)
			}
		}
	}
	if total > c.Account-UnreservedMin {
		return fmt.Errorf("stage %s: %d reserved of an account concurrency of %d leaves less than the %d Lambda keeps unreserved",
			s.Name, total, c.Account, UnreservedMin)
	}
	return nil
}
