package stack

import (
	"github.com/accrue/accrue/shared/imports"
	"github.com/accrue/accrue/shared/queue"
	"github.com/accrue/accrue/shared/webhooks"

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

	// Trigger says what invokes the function: a QueueTrigger, HTTPAPITrigger,
	// ScheduleTrigger or StreamTrigger.
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
	// StageEnv holds environment variables whose values depend on the stage.
	StageEnv func(Stage) map[string]string

	// KeyPurposes says, for each action the function may use on the
	// WebhookKey (Access[WebhookKey]), the encryption contexts' purposes it
	// may use it with (kms:EncryptionContext:purpose): each such action is a
	// statement of its own, conditioned on them, so a function decrypts only
	// what it has to (the webhooks function signing secrets, the api
	// function its sealed answers).
	KeyPurposes map[string][]string
}

// Trigger is what invokes a function. Exactly one per function.
type Trigger interface{ trigger() }

// QueueTrigger: the function consumes a queue of the stack (an SQS event
// source mapping with partial batch responses): Queue, the payments queue
// when unset, or the imports queue.
type QueueTrigger struct {
	Queue             Resource
	BatchSize         int
	MaxBatchingWindow time.Duration
}

// queue is the queue the trigger consumes.
func (t QueueTrigger) queue() Resource {
	if t.Queue == "" {
		return PaymentsQueue
	}
	return t.Queue
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

// StreamTrigger: the function consumes the table's DynamoDB stream (a Lambda
// event source mapping). The retry policy is the stack's, not the entry's:
// from TRIM_HORIZON, in order, with ReportBatchItemFailures and bisection on
// error, retried without limit of attempts or age (the stream keeps a record
// 24 hours), then described in the EventsDLQ (the mapping's on-failure
// destination): a record is dropped only after a day of failures, and then
// the DLQ alarm fires.
type StreamTrigger struct {
	BatchSize         int
	MaxBatchingWindow time.Duration
	// ParallelizationFactor: concurrent batches per shard (1 keeps every
	// item's changes in order).
	ParallelizationFactor int
	// TumblingWindow, when set (up to 15 minutes), gives the mapping a
	// tumbling window: Lambda then names the shard in every batch
	// (DynamoDBTimeWindowEvent.ShardID) and wants a state in the response.
	// The stats consumer needs the shard id: its items are keyed by shard so
	// that each has one writer, which takes ParallelizationFactor 1 too.
	TumblingWindow time.Duration
}

// WebhookTrigger: the function consumes both webhook queues (an SQS event
// source mapping each, with partial batch responses): the events queue the
// bus's rule fills (the fan-out) and the deliveries queue (the attempts).
type WebhookTrigger struct {
	BatchSize         int
	MaxBatchingWindow time.Duration
}

func (WebhookTrigger) trigger()  {}
func (QueueTrigger) trigger()    {}
func (HTTPAPITrigger) trigger()  {}
func (ScheduleTrigger) trigger() {}
func (StreamTrigger) trigger()   {}

// Resource is a resource of the stack that functions can be granted access to.
type Resource string

const (
	// Table is the DynamoDB table and each of its indexes (its ARN and
	// ARN/index/NAME per index of the schema).
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
	// TableStream is the table's DynamoDB stream (its ARN).
	TableStream Resource = "table-stream"
	// EventsDLQ is the on-failure destination of the stream consumers (events
	// and stats): what the stream event source gave up on (the function, a
	// record's shard, sequence numbers).
	EventsDLQ Resource = "events-dlq"
	// WebhookKey is the customer-managed KMS key of the webhooks' signing
	// secrets (and of the sealed stored answers that show one). Grants on it
	// are per action and conditioned on the purpose (Function.KeyPurposes).
	WebhookKey Resource = "webhook-key"
	// WebhookEventsQueue receives every domain event from the bus (a rule):
	// the webhooks function fans them out.
	WebhookEventsQueue Resource = "webhook-events-queue"
	// WebhookDeliveriesQueue holds one message per attempt of a delivery.
	WebhookDeliveriesQueue Resource = "webhook-deliveries-queue"
	// ImportsBucket is the bucket partners upload import files to; grants
	// on it are on the objects of its imports/ prefix only.
	ImportsBucket Resource = "imports-bucket"
	// ImportsQueue is the queue the imports bucket notifies of uploads, and
	// the imports function sends its continuations to.
	ImportsQueue Resource = "imports-queue"
	// ImportsDLQ is the imports queue's dead-letter queue.
	ImportsDLQ Resource = "imports-dlq"
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
	case EventsDLQ:
		return "ACCRUE_EVENTS_DLQ_URL"
	case WebhookKey:
		return webhooks.KeyEnv // key ARN
	case WebhookDeliveriesQueue:
		return webhooks.DeliveriesQueueEnv
	case ImportsBucket:
		return imports.EnvBucket
	case ImportsQueue:
		return imports.EnvQueue
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
	// QueueConsumerActions on the trigger's queue, for a QueueTrigger: what
	// the Lambda event source mapping uses (as AWSLambdaSQSQueueExecutionRole).
	QueueConsumerActions = []string{"sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}
	// StreamConsumerActions on the table's stream, for a StreamTrigger: what
	// the Lambda event source mapping uses to read it (as the table's
	// grantStreamRead, or AWSLambdaDynamoDBExecutionRole, on this stream only).
	StreamConsumerActions = []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
	// StreamListActions, for a StreamTrigger, on "*": dynamodb:ListStreams has
	// no resource-level permissions.
	StreamListActions = []string{"dynamodb:ListStreams"}
	// StreamKeyActions on the table key, for a StreamTrigger: the stream is
	// encrypted with the table's key (with the same kms:ViaService condition).
	StreamKeyActions = []string{"kms:Decrypt"}
	// StreamFailureActions on the EventsDLQ, for a StreamTrigger: the event
	// source mapping sends its on-failure records with the function's role.
	StreamFailureActions = []string{"sqs:SendMessage"}
	// TableKeyActions: what DynamoDB needs from a caller to read and write a
	// table encrypted with a customer-managed key.
	TableKeyActions = []string{"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"}
)

// webhookURLsEnv is the environment of the functions that check endpoint
// URLs (at registration, at each connection): the stage's URL policy.
func webhookURLsEnv(s Stage) map[string]string {
	return map[string]string{webhooks.PolicyEnv: s.WebhookURLs.Name()}
}

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
			// The webhook routes: a new signing secret encrypted (never
			// decrypted here); the stored answer of POST /v1/webhooks
			// sealed and opened; re-sent deliveries queued.
			WebhookKey:             {"kms:Decrypt", "kms:Encrypt"},
			WebhookDeliveriesQueue: {"sqs:SendMessage"},
			// POST /v1/imports signs a PUT of the import's file with the
			// function's credentials: a presigned URL can do what its
			// signer may, so the role may put objects under imports/ and
			// nothing else (it reads none).
			ImportsBucket: {"s3:PutObject"},
		},
		KeyPurposes: map[string][]string{
			"kms:Encrypt": {webhooks.PurposeIdempotentResponse, webhooks.PurposeSigningSecret},
			"kms:Decrypt": {webhooks.PurposeIdempotentResponse},
		},
		StageEnv: webhookURLsEnv,
	},
	{
		// Bulk imports (package imports): an uploaded file's notification
		// (or a continuation it sent itself) names an import; the function
		// works through the file from its checkpoint, one transaction per
		// member, for up to its timeout, then queues its continuation.
		Name:        "imports",
		Description: "Imports members with their opening balances from the files partners upload",
		MemoryMB:    512,
		Timeout:     imports.FunctionTimeout,
		Trigger:     QueueTrigger{Queue: ImportsQueue, BatchSize: 1},
		Access: map[Resource][]string{
			// Reads: the program, a member already present (GetItem).
			// Writes: the job's claim and checkpoints (UpdateItem), a
			// rejected line (PutItem), one TransactWriteItems per member
			// (member and entries as Puts, the erased-id ConditionCheck).
			Table: {
				"dynamodb:ConditionCheckItem",
				"dynamodb:GetItem",
				"dynamodb:PutItem",
				"dynamodb:UpdateItem",
			},
			TableKey: TableKeyActions,
			// The file: HeadObject (its ETag) and ranged GETs, both s3:GetObject.
			ImportsBucket: {"s3:GetObject"},
			// Its continuation, to the queue it consumes.
			ImportsQueue: {"sqs:SendMessage"},
		},
	},
	{
		// Webhooks (package webhooks): the fan-out of every domain event to
		// the partner's endpoints that receive its type (a rule on the bus
		// fills the events queue), and each delivery's attempts (the
		// deliveries queue: signed POSTs, recorded, retried with backoff
		// through SQS delays and visibility for over a day, then dead). A
		// function of its own, not EventBridge API destinations: a
		// connection signs with a static header or OAuth, not an HMAC of
		// each partner's body with each endpoint's secret. The trigger adds
		// consuming both queues.
		Name:        "webhooks",
		Description: "Delivers the partners' domain events to their webhook endpoints, signed, retried",
		MemoryMB:    256,
		Timeout:     webhooks.FunctionTimeout,
		Trigger:     WebhookTrigger{BatchSize: webhooks.BatchSize},
		Access: map[Resource][]string{
			// Reads: a partner's endpoints (Query). Writes: the record of
			// each attempt (PutItem), nothing else.
			Table: {
				"dynamodb:PutItem",
				"dynamodb:Query",
			},
			TableKey:   TableKeyActions,
			WebhookKey: {"kms:Decrypt"},
			// The next attempt queued; an early one hidden until due.
			WebhookDeliveriesQueue: {"sqs:ChangeMessageVisibility", "sqs:SendMessage"},
		},
		KeyPurposes: map[string][]string{"kms:Decrypt": {webhooks.PurposeSigningSecret}},
		StageEnv:    webhookURLsEnv,
	},
	{
		// The one publisher of domain events: changes of the table, read from
		// its stream, become events on the bus (package domainevents). The
		// trigger adds reading the stream (StreamConsumerActions,
		// StreamListActions, StreamKeyActions) and sending to the EventsDLQ.
		Name:        "events",
		Description: "Publishes the domain events of the table's stream to the event bus",
		MemoryMB:    128,
		Timeout:     30 * time.Second,
		Trigger:     StreamTrigger{BatchSize: 100, MaxBatchingWindow: time.Second, ParallelizationFactor: 1},
		Access: map[Resource][]string{
			EventBus: {"events:PutEvents"},
		},
	},
	{
		// The member jobs (package memberjobs): every 5 minutes, the members
		// the due index lists as due get their pending points released, their
		// points expired or announced, their stale holds released and their
		// tier re-evaluated, one transaction per member. No EventBus: the
		// events function publishes what the jobs change, from the stream.
		Name:        "jobs",
		Description: "Releases pending points, expires points, releases stale holds and re-evaluates tiers of the members due",
		MemoryMB:    512,
		Timeout:     4 * time.Minute,
		Trigger:     ScheduleTrigger{Expression: "rate(5 minutes)"},
		Access: map[Resource][]string{
			// Reads: program, member, a hold's lot (GetItem); the due index,
			// lots, holds and the ledger's entries (Query). Writes: one
			// TransactWriteItems per member: member, entries, lots and holds
			// as Puts, a reward's stock given back as an Update.
			Table: {
				"dynamodb:GetItem",
				"dynamodb:PutItem",
				"dynamodb:Query",
				"dynamodb:UpdateItem",
			},
			TableKey: TableKeyActions,
		},
	},
	{
		// The stats consumer (package rollup, Consumer): sums ledger entries
		// and members' new activity days from the table's stream into partial
		// figures per partner, local day and shard. Its items are keyed by
		// shard, so each must have one writer: one batch per shard at a time
		// (ParallelizationFactor 1), and the shard id, which Lambda sends
		// only to a mapping with a tumbling window (the longest: fewer empty
		// end-of-window calls; the consumer keeps no state in the window).
		// Batches of up to 1,000 records gathered for up to 5 s: one
		// transaction per partner and batch, whatever the batch holds.
		Name:        "stats",
		Description: "Sums the table's stream into the partial figures of the stats roll-up",
		MemoryMB:    256,
		Timeout:     time.Minute,
		Trigger:     StreamTrigger{BatchSize: 1000, MaxBatchingWindow: 5 * time.Second, ParallelizationFactor: 1, TumblingWindow: 15 * time.Minute},
		Access: map[Resource][]string{
			// Reads: a program, a shard's progress, the seal, a late partial
			// (GetItem). Writes: one TransactWriteItems per partner and batch
			// (Updates of the shard's progress and the day partials), late
			// marks (PutItem).
			Table: {
				"dynamodb:GetItem",
				"dynamodb:PutItem",
				"dynamodb:UpdateItem",
			},
			TableKey: TableKeyActions,
		},
	},
	{
		// The stats roll-up (package rollup): every 15 minutes, per partner,
		// closes the days that ended (15 minutes of grace) and writes today's
		// figures so far, from the partial figures of the stats consumer.
		// Each day closes 15 to 30 minutes after midnight in the program's
		// time zone.
		Name:        "rollup",
		Description: "Writes the per-partner daily figures of GET /v1/stats",
		MemoryMB:    256,
		Timeout:     5 * time.Minute,
		Trigger:     ScheduleTrigger{Expression: "rate(15 minutes)"},
		Access: map[Resource][]string{
			// Reads: the partner registry, a day's partials and the late
			// marks (Query), a program, the roll-up state and a late
			// partial (GetItem). Writes: the seal and a partial taken
			// (UpdateItem); a day's figures with the state's advance in one
			// TransactWriteItems (Puts, Updates of late partials folded in,
			// Deletes of their marks, and a ConditionCheck on the state for
			// figures so far).
			Table: {
				"dynamodb:ConditionCheckItem",
				"dynamodb:DeleteItem",
				"dynamodb:GetItem",
				"dynamodb:PutItem",
				"dynamodb:Query",
				"dynamodb:UpdateItem",
			},
			TableKey: TableKeyActions,
		},
	},
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
	switch f.Trigger.(type) {
	case QueueTrigger, WebhookTrigger:
		add(QueueConsumerActions)
	case StreamTrigger:
		add(StreamConsumerActions)
		add(StreamListActions)
		add(StreamKeyActions)
		add(StreamFailureActions)
	}
	add(LogActions)
	add(TracingActions)
	return slices.Sorted(maps.Keys(set))
}
