package stack

import (
	"fmt"
	"sort"
	"time"

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

	// Alarms are the alarm thresholds.
	Alarms AlarmThresholds
}

// Throttle is API Gateway's token bucket: steady requests per second and burst.
type Throttle struct {
	RateLimit  float64
	BurstLimit float64
}

// AlarmThresholds are the thresholds of the stack's CloudWatch alarms. The DLQ
// alarms have no threshold: any message in a DLQ is an alarm.
type AlarmThresholds struct {
	// Period over which each metric is aggregated.
	Period time.Duration
	// EvaluationPeriods: consecutive breaching periods before the alarm fires.
	EvaluationPeriods int
	// PaymentsQueueAge: age of the oldest message of the payments queue.
	PaymentsQueueAge time.Duration
	// StreamIteratorAge: how far a stream consumer (the events function) is
	// behind the table's stream, the age of the last record it read
	// (IteratorAge, Maximum).
	StreamIteratorAge time.Duration
	// FunctionErrors per period, per function (alarm when >= threshold).
	FunctionErrors float64
	// FunctionThrottles per period, per function (alarm when >= threshold).
	FunctionThrottles float64
	// API5xx: server errors of the HTTP API per period (alarm when >= threshold).
	API5xx float64
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
		Alarms: AlarmThresholds{
			Period:            5 * time.Minute,
			EvaluationPeriods: 1,
			PaymentsQueueAge:  30 * time.Minute,
			StreamIteratorAge: 5 * time.Minute,
			FunctionErrors:    5,
			FunctionThrottles: 5,
			API5xx:            5,
		},
	},
	"prod": {
		Name:                  "prod",
		RemovalPolicy:         awscdk.RemovalPolicy_RETAIN,
		DeletionProtection:    true,
		KeyPendingWindow:      30 * 24 * time.Hour,
		LogRetention:          awslogs.RetentionDays_ONE_YEAR,
		EventArchiveRetention: 90 * 24 * time.Hour,
		APIThrottle:           Throttle{RateLimit: 1000, BurstLimit: 2000},
		Alarms: AlarmThresholds{
			Period:            time.Minute,
			EvaluationPeriods: 3,
			PaymentsQueueAge:  5 * time.Minute,
			StreamIteratorAge: 5 * time.Minute,
			FunctionErrors:    1,
			FunctionThrottles: 1,
			API5xx:            1,
		},
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
