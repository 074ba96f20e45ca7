package stack

import (
	"github.com/accrue/accrue/shared/queue"

	"maps"
	"slices"
	"time"
)

// Function describes one Lambda function: its code (functions/<Name>), its
// trigger, and exactly the IAM actions it may use. The stack deploys one
// function per entry of Functions; adding a function (the scheduled jobs) is
// adding one entry.
type Function struct {
	// Name is the folder under functions/ and, under the asset directory, the
	// folder holding its `bootstrap` binary (bin/lambda/<Name>/bootstrap).
	Name        string
	Description string
	MemoryMB    int
	Timeout     time.Duration

	// Trigger says what invokes the function: a QueueTrigger, HTTPAPITrigger or
	// ScheduleTrigger.
	Trigger Trigger

	// Access lists, per resource of the stack, the exact IAM actions the
	// function may use on it. Every resource in Access is also passed to the
	// function in its environment variable (Resource.EnvVar), so a function's
	// environment follows from what it may touch. No wildcards.
	//
	// DynamoDB has no IAM action for TransactWriteItems (nor TransactGetItems):
	// each item of a transaction is authorized as its own action — a Put as
	// dynamodb:PutItem, an Update as dynamodb:UpdateItem, a Delete as
	// dynamodb:DeleteItem, a ConditionCheck as dynamodb:ConditionCheckItem —
	// so list those.
	Access map[Resource][]string

	// Env holds extra constant environment variables.
	Env map[string]string
}

// Trigger is what invokes a function. Exactly one per function.
type Trigger interface{ trigger() }

// QueueTrigger: the function consumes the payments queue (an SQS event source
// mapping with partial batch responses).
type QueueTrigger struct {
	BatchSize         int
	MaxBatchingWindow time.Duration
}

// HTTPAPITrigger: the function serves every route of the HTTP API (Routes),
// payload format 2.0.
type HTTPAPITrigger struct{}

// ScheduleTrigger: an EventBridge rule invokes the function on a schedule.
// Expression is an EventBridge schedule expression: "rate(5 minutes)",
// "cron(0 3 * * ? *)" (UTC).
type ScheduleTrigger struct {
	Expression string
}

func (QueueTrigger) trigger()    {}
func (HTTPAPITrigger) trigger()  {}
func (ScheduleTrigger) trigger() {}

// Resource is a resource of the stack that functions can be granted access to.
type Resource string

const (
	// Table is the DynamoDB table and all its indexes (ARN and ARN/index/*).
	Table Resource = "table"
	// TableKey is the customer-managed KMS key of the table. Grants on it are
	// conditioned on kms:ViaService = DynamoDB: the key serves the table only.
	TableKey Resource = "table-key"
	// EventBus is the domain events bus (spec §6).
	EventBus Resource = "event-bus"
	// PaymentsQueue is the payments SQS queue.
	PaymentsQueue Resource = "payments-queue"
	// PaymentsDLQ is the payments queue's dead-letter queue.
	PaymentsDLQ Resource = "payments-dlq"
)

// EnvVar is the environment variable through which a function granted access
// to the resource learns its name or URL ("" for none).
func (r Resource) EnvVar() string {
	switch r {
	case Table:
		return "ACCRUE_TABLE" // table name
	case EventBus:
		return "ACCRUE_EVENT_BUS" // bus name
	case PaymentsQueue:
		return "ACCRUE_PAYMENTS_QUEUE_URL"
	case PaymentsDLQ:
		return "ACCRUE_PAYMENTS_DLQ_URL"
	}
	return ""
}

// The actions every function gets, on its own resources only.
var (
	// LogActions on the function's own log group (no logs:CreateLogGroup: the
	// stack creates the group, with its retention).
	LogActions = []string{"logs:CreateLogStream", "logs:PutLogEvents"}
	// TracingActions: X-Ray active tracing (CDK adds them; X-Ray has no
	// resource-level permissions, so their resource is "*").
	TracingActions = []string{"xray:PutTelemetryRecords", "xray:PutTraceSegments"}
	// QueueConsumerActions on the payments queue, for a QueueTrigger: what the
	// Lambda event source mapping uses (as AWSLambdaSQSQueueExecutionRole).
	QueueConsumerActions = []string{"sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}
	// TableKeyActions: what DynamoDB needs from a caller to read and write a
	// table encrypted with a customer-managed key.
	TableKeyActions = []string{"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"}
)

// Functions are the stack's Lambda functions.
var Functions = []Function{
	{
		Name:        "ingest",
		Description: "Accrues points from the payment events of the payments queue",
		MemoryMB:    256,
		Timeout:     queue.IngestTimeout,
		Trigger:     QueueTrigger{BatchSize: queue.BatchSize, MaxBatchingWindow: time.Second},
		Access: map[Resource][]string{
			// Reads: Program (GetItem), member hints (BatchGetItem), lots
			// (Query). Writes: one TransactWriteItems per accrual, authorized
			// per item: member and entry Puts, budget counter Updates.
			Table: {
				"dynamodb:BatchGetItem",
				"dynamodb:GetItem",
				"dynamodb:PutItem",
				"dynamodb:Query",
				"dynamodb:UpdateItem",
			},
			TableKey: TableKeyActions,
		},
	},
	{
		Name:        "api",
		Description: "Serves the partner HTTP API",
		MemoryMB:    512,
		Timeout:     10 * time.Second,
		Trigger:     HTTPAPITrigger{},
		Access: map[Resource][]string{
			// Everything ingest does (POST /v1/events), plus deletes
			// (idempotency records, reward stock, GDPR erasure moves) and the
			// ConditionChecks of the GDPR erasure transactions.
			Table: {
				"dynamodb:BatchGetItem",
				"dynamodb:ConditionCheckItem",
				"dynamodb:DeleteItem",
				"dynamodb:GetItem",
				"dynamodb:PutItem",
				"dynamodb:Query",
				"dynamodb:UpdateItem",
			},
			TableKey: TableKeyActions,
			EventBus: {"events:PutEvents"},
		},
	},
	// The scheduled jobs are one entry each, e.g.:
	//	{
	//		Name: "release-pending", Description: "Releases pending points past their pending period",
	//		MemoryMB: 256, Timeout: 5 * time.Minute,
	//		Trigger: ScheduleTrigger{Expression: "rate(15 minutes)"},
	//		Access:  map[Resource][]string{Table: {"dynamodb:Query", "dynamodb:TransactWriteItems"}, TableKey: TableKeyActions, EventBus: {"events:PutEvents"}},
	//	},
}

// Actions returns every IAM action the deployed function's role allows, sorted:
// its Access, what its trigger needs, logging and tracing.
func (f Function) Actions() []string {
	set := map[string]bool{}
	add := func(as []string) {
		for _, a := range as {
			set[a] = true
		}
	}
	for _, as := range f.Access {
		add(as)
	}
	if _, ok := f.Trigger.(QueueTrigger); ok {
		add(QueueConsumerActions)
	}
	add(LogActions)
	add(TracingActions)
	return slices.Sorted(maps.Keys(set))
}
