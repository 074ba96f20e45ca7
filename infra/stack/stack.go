// Package stack is Accrue's CDK stack (spec §8): the DynamoDB table, the
// payments queue and its DLQ, the Lambda functions of Functions, the HTTP API,
// the event bus, its publisher on the table's stream and the DLQ of that
// stream consumer, the schedules, alarms and a dashboard, for one Stage.
package stack

import (
	"github.com/accrue/accrue/shared/imports"
	"github.com/accrue/accrue/shared/queue"

	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	// Before the CDK packages initialize: quiets jsii's Node.js warnings.
	_ "github.com/accrue/accrue/infra/internal/jsiienv"
)

// DefaultAssetDir is where `make build` puts the Lambda binaries:
// <DefaultAssetDir>/<function>/bootstrap, relative to the repository root.
const DefaultAssetDir = "bin/lambda"

// FunctionTag is the tag naming the Functions entry a Lambda function was made
// from (its value is Function.Name).
const FunctionTag = "accrue:function"

// AccrueStackProps configure NewAccrueStack.
type AccrueStackProps struct {
	awscdk.StackProps
	// Stage settings (Stages["dev"], Stages["prod"]).
	Stage Stage
	// AssetDir holds <name>/bootstrap for every function (default DefaultAssetDir).
	AssetDir string
	// Functions to deploy (default Functions).
	Functions []Function
	// Table schema (default StoreSchema()).
	Schema *TableSchema
	// AlarmEmail, when set, is subscribed to the alarm topic.
	AlarmEmail string
	// PartnerBuses are partners' own event buses their events are forwarded
	// to (CDK context partnerBuses; see PartnerBus). None by default.
	PartnerBuses []PartnerBus
}

// resources are the stack's resources functions are granted access to.
type resources struct {
	stack awscdk.Stack
	table awsdynamodb.Table
	// indexes are the names of the table's secondary indexes, sorted.
	indexes  []string
	key      awskms.Key
	bus      awsevents.EventBus
	payments awssqs.Queue
	dlq      awssqs.Queue
	// eventsDLQ: the on-failure destination of the stream consumers.
	eventsDLQ awssqs.Queue
	// partnerDLQ: what the partner forwarding rules could not deliver (nil
	// without PartnerBuses); partnerRoles: the role of each partner's rule.
	partnerDLQ   awssqs.Queue
	partnerRoles []partnerRole
	// The webhooks' key and queues (nil when no function uses them).
	webhookKey                awskms.Key
	webhookEvents, webhookDLQ awssqs.Queue
	webhookDeliveries         awssqs.Queue
	// The bulk imports: the bucket partners upload files to, the queue it
	// notifies of them, and that queue's DLQ.
	importsBucket awss3.Bucket
	importsQueue  awssqs.Queue
	importsDLQ    awssqs.Queue
}

// NewAccrueStack defines the whole Accrue stack for props.Stage.
func NewAccrueStack(scope constructs.Construct, id string, props *AccrueStackProps) awscdk.Stack {
	p := *props
	if p.Stage.Name == "" {
		panic("AccrueStackProps.Stage is required (see Stages)")
	}
	if p.AssetDir == "" {
		p.AssetDir = DefaultAssetDir
	}
	if p.Functions == nil {
		p.Functions = Functions
	}
	if p.Schema == nil {
		s := StoreSchema()
		p.Schema = &s
	}
	if err := ValidateFunctions(p.Functions, p.AssetDir); err != nil {
		panic(err)
	}
	if err := p.Stage.ValidateConcurrency(p.Functions); err != nil {
		panic(err)
	}
	if err := ValidatePartnerBuses(p.PartnerBuses); err != nil {
		panic(err)
	}
	for _, f := range p.Functions {
		if _, ok := f.Trigger.(StreamTrigger); ok && p.Schema.StreamViewType == "" {
			panic(fmt.Sprintf("function %s has a StreamTrigger, but the table schema has no stream", f.Name))
		}
	}
	stage := p.Stage

	if p.StackProps.Description == nil {
		p.StackProps.Description = jsii.String("Accrue loyalty-points engine (" + stage.Name + ")")
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &p.StackProps)
	awscdk.Tags_Of(stack).Add(jsii.String("accrue:stage"), jsii.String(stage.Name), &awscdk.TagProps{
		// CloudFormation's dashboard schema (as cfn-lint has it) takes no tags.
		ExcludeResourceTypes: jsii.Strings("AWS::CloudWatch::Dashboard"),
	})

	r := resources{stack: stack, indexes: p.Schema.indexNames()}

	// Data: the table, encrypted with its own rotating customer-managed key.
	r.key = awskms.NewKey(stack, jsii.String("TableKey"), &awskms.KeyProps{
		Description:       jsii.String("Accrue " + stage.Name + ": encrypts the DynamoDB table"),
		Alias:             jsii.String("alias/accrue-" + stage.Name + "-table"),
		EnableKeyRotation: jsii.Bool(true),
		PendingWindow:     duration(stage.KeyPendingWindow),
		RemovalPolicy:     stage.RemovalPolicy,
	})
	r.table = NewTable(stack, "Table", *p.Schema, TableOptions{
		Key:                r.key,
		RemovalPolicy:      stage.RemovalPolicy,
		DeletionProtection: stage.DeletionProtection,
	})

	// Payments queue. Lambda's guidance: visibility timeout at least six times
	// the consumer's timeout plus its batching window, so a message is not
	// redelivered while a retried batch still holds it.
	visibility := queue.VisibilityTimeout()
	for _, f := range p.Functions {
		if q, ok := f.Trigger.(QueueTrigger); ok && q.queue() == PaymentsQueue {
			visibility = max(visibility, queue.VisibilityFactor*f.Timeout+q.MaxBatchingWindow)
		}
	}
	r.dlq = awssqs.NewQueue(stack, jsii.String("PaymentsDLQ"), &awssqs.QueueProps{
		RetentionPeriod: duration(queue.DLQRetention),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
	})
	r.payments = awssqs.NewQueue(stack, jsii.String("PaymentsQueue"), &awssqs.QueueProps{
		VisibilityTimeout: duration(visibility),
		// Shorter than the DLQ's: a message's age in the DLQ counts from its
		// first enqueue on this queue.
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(4)),
		// SQS-managed keys: billing systems in other accounts can send without
		// KMS grants on our key.
		Encryption: awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL: jsii.Bool(true),
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			Queue:           r.dlq,
			MaxReceiveCount: jsii.Number(queue.MaxReceiveCount),
		},
	})

	// What the stream event source gives up on (after a day of retries) is
	// described here: the shard and the range of sequence numbers, to read
	// again from the stream or the table's backups. Same retention as the
	// payments DLQ.
	r.eventsDLQ = awssqs.NewQueue(stack, jsii.String("EventsDLQ"), &awssqs.QueueProps{
		RetentionPeriod: duration(queue.DLQRetention),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
	})
	suppress(r.eventsDLQ, "AwsSolutions-SQS3", nagEventsDLQ)

	r.newImports(stage, p.Functions)

	// Domain events (spec §6), archived for replay.
	r.bus = awsevents.NewEventBus(stack, jsii.String("EventBus"), &awsevents.EventBusProps{
		EventBusName: jsii.String("accrue-" + stage.Name),
		Description:  jsii.String("Accrue domain events: points.earned, points.redeemed, tier.changed, ..."),
	})
	r.bus.Archive(jsii.String("Archive"), &awsevents.BaseArchiveProps{
		Description:  jsii.String("Every Accrue domain event, for replay"),
		EventPattern: &awsevents.EventPattern{Account: jsii.Strings(*stack.Account())},
		Retention:    duration(stage.EventArchiveRetention),
	})
	// Their schemas, in an EventBridge schema registry; partners' own buses
	// that receive their events.
	registry := newSchemaRegistry(stack, stage)
	r.newPartnerForwarding(p.PartnerBuses, registry)
	if usesWebhooks(p.Functions) {
		r.newWebhooks(stage)
	}

	// Functions.
	fns := map[string]awslambda.Function{}
	var api *httpAPI
	for _, f := range p.Functions {
		fn := r.newFunction(stage, p.AssetDir, f)
		fns[f.Name] = fn
		switch t := f.Trigger.(type) {
		case QueueTrigger:
			fn.AddEventSourceMapping(jsii.String(constructID(string(t.queue()))), &awslambda.EventSourceMappingOptions{
				EventSourceArn:          jsii.String(r.arns(t.queue())[0]),
				BatchSize:               jsii.Number(float64(t.BatchSize)),
				MaxBatchingWindow:       duration(t.MaxBatchingWindow),
				ReportBatchItemFailures: jsii.Bool(true),
				// ScalingConfig.MaximumConcurrency: a backlog (a billing-day
				// peak, many imports at once) waits in the queue rather
				// than taking the account.
				MaxConcurrency: jsii.Number(float64(stage.mappingMax(f))),
			})
		case StreamTrigger:
			r.addStreamSource(fn, t)
		case WebhookTrigger:
			for _, q := range []struct {
				id    string
				queue awssqs.Queue
			}{{"WebhookEvents", r.webhookEvents}, {"WebhookDeliveries", r.webhookDeliveries}} {
				fn.AddEventSourceMapping(jsii.String(q.id), &awslambda.EventSourceMappingOptions{
					EventSourceArn:          q.queue.QueueArn(),
					BatchSize:               jsii.Number(float64(t.BatchSize)),
					MaxBatchingWindow:       duration(t.MaxBatchingWindow),
					ReportBatchItemFailures: jsii.Bool(true),
					MaxConcurrency:          jsii.Number(float64(stage.Concurrency.WebhookQueueMax)),
				})
			}
		case HTTPAPITrigger:
			a := newHTTPAPI(stack, stage, fn, Routes)
			api = &a
		case ScheduleTrigger:
			awsevents.NewRule(stack, jsii.String(constructID(f.Name)+"Schedule"), &awsevents.RuleProps{
				Description: jsii.String("Runs the " + f.Name + " job"),
				Schedule:    awsevents.Schedule_Expression(jsii.String(t.Expression)),
				Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
					RetryAttempts: jsii.Number(2),
					MaxEventAge:   awscdk.Duration_Hours(jsii.Number(1)),
				})},
			})
		}
	}

	topic := newMonitoring(stack, stage, r, p.Functions, fns, api, p.AlarmEmail)

	out := func(id, value, desc string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: jsii.String(value), Description: jsii.String(desc)})
	}
	if api != nil {
		out("ApiUrl", *api.stage.Url(), "Base URL of the partner HTTP API")
	}
	out("PaymentsQueueUrl", *r.payments.QueueUrl(), "Billing systems send payment events here")
	out("PaymentsQueueArn", *r.payments.QueueArn(), "For the billing systems' sqs:SendMessage policies")
	out("PaymentsDLQUrl", *r.dlq.QueueUrl(), "Payment events that failed 5 times")
	out("EventsDLQUrl", *r.eventsDLQ.QueueUrl(), "Table stream records a stream consumer (events, stats) gave up on after a day")
	out("EventBusName", *r.bus.EventBusName(), "Domain events (points.earned, ...) for partner rules")
	out("TableName", *r.table.TableName(), "The DynamoDB table (for the operator CLI: ACCRUE_TABLE)")
	out("ImportsBucketName", *r.importsBucket.BucketName(), "Import files uploaded through POST /v1/imports (under imports/, deleted after a week)")
	out("ImportsDLQUrl", *r.importsDLQ.QueueUrl(), "Import runs that failed 5 times (their imports resume from their checkpoints when moved back)")
	out("AlarmTopicArn", *topic.TopicArn(), "Subscribe on-call here")
	out("EventSchemaRegistryName", *registry.AttrRegistryName(), "The schemas of the domain events (accrue@<type>-v<N>)")
	if r.partnerDLQ != nil {
		out("PartnerEventsDLQUrl", *r.partnerDLQ.QueueUrl(), "Partner events EventBridge could not put on a partner's bus")
	}
	if r.webhookDLQ != nil {
		out("WebhookDLQUrl", *r.webhookDLQ.QueueUrl(), "Webhook fan-outs and attempts the webhooks function failed 5 times (not the partners' dead deliveries: those are in the table)")
	}
	for _, pr := range r.partnerRoles {
		out("PartnerBusRole"+constructID(pr.partner), *pr.role.RoleArn(),
			"Partner "+pr.partner+"'s bus policy must allow this role events:PutEvents")
	}
	return stack
}

// StreamRetryAttempts of a StreamTrigger: -1, no limit (CDK and Lambda allow
// -1 or 0..10000). With no maximum record age either, a failing record is
// retried until the stream drops it (24 hours), then sent to the EventsDLQ.
const StreamRetryAttempts = -1

// addStreamSource makes fn consume the table's stream as t and the stack's
// stream policy say (see StreamTrigger).
func (r resources) addStreamSource(fn awslambda.Function, t StreamTrigger) {
	opts := &awslambda.EventSourceMappingOptions{
		EventSourceArn:          r.table.TableStreamArn(),
		StartingPosition:        awslambda.StartingPosition_TRIM_HORIZON,
		BatchSize:               jsii.Number(float64(t.BatchSize)),
		MaxBatchingWindow:       duration(t.MaxBatchingWindow),
		ParallelizationFactor:   jsii.Number(float64(t.ParallelizationFactor)),
		BisectBatchOnError:      jsii.Bool(true),
		ReportBatchItemFailures: jsii.Bool(true),
		RetryAttempts:           jsii.Number(StreamRetryAttempts),
		// MaxRecordAge unset: -1, no limit (CDK accepts 60s..7d only).
	}
	if t.TumblingWindow > 0 {
		opts.TumblingWindow = duration(t.TumblingWindow)
	}
	esm := fn.AddEventSourceMapping(jsii.String("TableStream"), opts)
	// The on-failure destination is set on the CloudFormation resource rather
	// than with OnFailure (awslambdaeventsources.NewSqsDlq): that would also
	// grant the role sqs:GetQueueAttributes and sqs:GetQueueUrl in a policy of
	// its own, while the role holds exactly the function's Actions (the
	// StreamTrigger statements of newFunction allow sqs:SendMessage).
	cfn := esm.Node().DefaultChild().(awslambda.CfnEventSourceMapping)
	cfn.SetDestinationConfig(&awslambda.CfnEventSourceMapping_DestinationConfigProperty{
		OnFailure: &awslambda.CfnEventSourceMapping_OnFailureProperty{Destination: r.eventsDLQ.QueueArn()},
	})
}

// newFunction creates f's Lambda function with its own role, holding exactly
// f.Actions(), and its own log group.
func (r resources) newFunction(stage Stage, assetDir string, f Function) awslambda.Function {
	id := constructID(f.Name)
	logs := awslogs.NewLogGroup(r.stack, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     stage.LogRetention,
		RemovalPolicy: stage.RemovalPolicy,
	})

	statements := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("Logs"),
			Actions:   jsii.Strings(LogActions...),
			Resources: jsii.Strings(*logs.LogGroupArn()),
		}),
	}
	env := map[string]*string{}
	for _, res := range sortedResources(f.Access) {
		st := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String(constructID(string(res))),
			Actions:   jsii.Strings(sorted(f.Access[res])...),
			Resources: jsii.Strings(r.arns(res)...),
		})
		if res == TableKey {
			st.AddCondition(jsii.String("StringEquals"), map[string]any{
				"kms:ViaService": fmt.Sprintf("dynamodb.%s.amazonaws.com", *r.stack.Region()),
			})
		}
		if res == WebhookKey {
			// One statement per action, conditioned on its purposes.
			for _, a := range sorted(f.Access[res]) {
				ks := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Sid:       jsii.String(constructID(string(res)) + strings.TrimPrefix(a, "kms:")),
					Actions:   jsii.Strings(a),
					Resources: jsii.Strings(r.arns(res)...),
				})
				ks.AddCondition(jsii.String("StringEquals"), map[string]any{"kms:EncryptionContext:purpose": f.KeyPurposes[a]})
				statements = append(statements, ks)
			}
		} else {
			statements = append(statements, st)
		}
		if v := res.EnvVar(); v != "" {
			env[v] = r.envValue(res)
		}
	}
	switch t := f.Trigger.(type) {
	case QueueTrigger:
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("Consume" + constructID(string(t.queue()))),
			Actions:   jsii.Strings(QueueConsumerActions...),
			Resources: jsii.Strings(r.arns(t.queue())...),
		}))
	case WebhookTrigger:
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ConsumeWebhookQueues"),
			Actions:   jsii.Strings(QueueConsumerActions...),
			Resources: jsii.Strings(*r.webhookEvents.QueueArn(), *r.webhookDeliveries.QueueArn()),
		}))
	case StreamTrigger:
		// What the table's grantStreamRead would allow, as statements of
		// their own, and the on-failure destination.
		key := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("DecryptTableStream"),
			Actions:   jsii.Strings(StreamKeyActions...),
			Resources: jsii.Strings(r.arns(TableKey)...),
		})
		key.AddCondition(jsii.String("StringEquals"), map[string]any{
			"kms:ViaService": fmt.Sprintf("dynamodb.%s.amazonaws.com", *r.stack.Region()),
		})
		statements = append(statements,
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ConsumeTableStream"),
				Actions:   jsii.Strings(StreamConsumerActions...),
				Resources: jsii.Strings(r.arns(TableStream)...),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ListStreams"),
				Actions:   jsii.Strings(StreamListActions...),
				Resources: jsii.Strings("*"),
			}),
			key,
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("SendToEventsDLQ"),
				Actions:   jsii.Strings(StreamFailureActions...),
				Resources: jsii.Strings(r.arns(EventsDLQ)...),
			}),
		)
	}
	for k, v := range f.Env {
		env[k] = jsii.String(v)
	}
	if f.StageEnv != nil {
		for k, v := range f.StageEnv(stage) {
			env[k] = jsii.String(v)
		}
	}

	role := awsiam.NewRole(r.stack, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Accrue " + stage.Name + " " + f.Name + " function"),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"access": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &statements}),
		},
	})

	fn := awslambda.NewFunction(r.stack, jsii.String(id+"Function"), &awslambda.FunctionProps{
		Description:           jsii.String(f.Description),
		Runtime:               awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:          awslambda.Architecture_ARM_64(),
		Handler:               jsii.String("bootstrap"),
		Code:                  awslambda.Code_FromAsset(jsii.String(filepath.Join(assetDir, f.Name)), nil),
		MemorySize:            jsii.Number(float64(f.MemoryMB)),
		Timeout:               duration(f.Timeout),
		Role:                  role,
		LogGroup:              logs,
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO,
		SystemLogLevelV2:      awslambda.SystemLogLevel_WARN,
		Tracing:               awslambda.Tracing_ACTIVE,
		Environment:           &env,
		// Guaranteed to the function and its ceiling (ValidateConcurrency
		// checked every function has one).
		ReservedConcurrentExecutions: jsii.Number(float64(stage.Concurrency.Reserved[f.Name])),
	})
	awscdk.Tags_Of(fn).Add(jsii.String(FunctionTag), jsii.String(f.Name), nil)
	suppressXRay(role)
	if _, ok := f.Trigger.(StreamTrigger); ok {
		suppress(role, "AwsSolutions-IAM5", nagListStreams, "Resource::*")
	}
	if _, ok := f.Access[ImportsBucket]; ok {
		suppress(role, "AwsSolutions-IAM5", nagImportObjects, "Resource::<"+*r.stack.GetLogicalId(r.importsBucket.Node().DefaultChild().(awscdk.CfnElement))+".Arn>/"+imports.ObjectPrefix+"*")
	}
	return fn
}

// arns are the IAM resources of res.
func (r resources) arns(res Resource) []string {
	switch res {
	case Table:
		// Each index by name: no wildcard.
		arns := []string{*r.table.TableArn()}
		for _, name := range r.indexes {
			arns = append(arns, *r.table.TableArn()+"/index/"+name)
		}
		return arns
	case TableKey:
		return []string{*r.key.KeyArn()}
	case EventBus:
		return []string{*r.bus.EventBusArn()}
	case PaymentsQueue:
		return []string{*r.payments.QueueArn()}
	case PaymentsDLQ:
		return []string{*r.dlq.QueueArn()}
	case TableStream:
		return []string{*r.table.TableStreamArn()}
	case EventsDLQ:
		return []string{*r.eventsDLQ.QueueArn()}
	case WebhookKey:
		return []string{*r.webhookKey.KeyArn()}
	case WebhookEventsQueue:
		return []string{*r.webhookEvents.QueueArn()}
	case WebhookDeliveriesQueue:
		return []string{*r.webhookDeliveries.QueueArn()}
	case ImportsBucket:
		// The objects of the imports/ prefix: one per import, so a prefix.
		return []string{*r.importsBucket.ArnForObjects(jsii.String(imports.ObjectPrefix + "*"))}
	case ImportsQueue:
		return []string{*r.importsQueue.QueueArn()}
	case ImportsDLQ:
		return []string{*r.importsDLQ.QueueArn()}
	}
	panic(fmt.Sprintf("unknown resource %q", res))
}

// envValue is what a function granted res finds in res.EnvVar().
func (r resources) envValue(res Resource) *string {
	switch res {
	case Table:
		return r.table.TableName()
	case EventBus:
		return r.bus.EventBusName()
	case PaymentsQueue:
		return r.payments.QueueUrl()
	case PaymentsDLQ:
		return r.dlq.QueueUrl()
	case EventsDLQ:
		return r.eventsDLQ.QueueUrl()
	case WebhookKey:
		return r.webhookKey.KeyArn()
	case WebhookDeliveriesQueue:
		return r.webhookDeliveries.QueueUrl()
	case ImportsBucket:
		return r.importsBucket.BucketName()
	case ImportsQueue:
		return r.importsQueue.QueueUrl()
	}
	panic(fmt.Sprintf("resource %q has no environment value", res))
}

// ValidateFunctions checks the function table before anything is built: names
// unique, one trigger each, at most one HTTP API handler, no wildcard actions,
// and every function's bootstrap binary present (built by `make build`).
func ValidateFunctions(fns []Function, assetDir string) error {
	seen := map[string]bool{}
	httpHandlers := 0
	for _, f := range fns {
		if f.Name == "" || seen[f.Name] {
			return fmt.Errorf("function names must be unique and non-empty: %q", f.Name)
		}
		seen[f.Name] = true
		switch t := f.Trigger.(type) {
		case QueueTrigger:
		case HTTPAPITrigger:
			httpHandlers++
		case StreamTrigger:
			if t.BatchSize < 1 || t.BatchSize > 10000 || t.ParallelizationFactor < 1 || t.ParallelizationFactor > 10 ||
				t.MaxBatchingWindow < 0 || t.MaxBatchingWindow > 5*time.Minute || t.TumblingWindow < 0 || t.TumblingWindow > 15*time.Minute {
				return fmt.Errorf("function %s: stream BatchSize (%d), ParallelizationFactor (%d), MaxBatchingWindow (%s) or TumblingWindow (%s) out of Lambda's limits",
					f.Name, t.BatchSize, t.ParallelizationFactor, t.MaxBatchingWindow, t.TumblingWindow)
			}
			if t.TumblingWindow > 0 && t.ParallelizationFactor != 1 {
				return fmt.Errorf("function %s: a windowed stream consumer keys its items by shard, one writer each: ParallelizationFactor must be 1", f.Name)
			}
		case ScheduleTrigger:
			if !strings.HasPrefix(t.Expression, "rate(") && !strings.HasPrefix(t.Expression, "cron(") {
				return fmt.Errorf("function %s: schedule %q is not rate(...) or cron(...)", f.Name, t.Expression)
			}
		case WebhookTrigger:
			if t.BatchSize < 1 || t.BatchSize > 10 || t.MaxBatchingWindow < 0 || t.MaxBatchingWindow > 5*time.Minute {
				return fmt.Errorf("function %s: webhook queues' BatchSize (%d) or MaxBatchingWindow (%s) out of Lambda's limits", f.Name, t.BatchSize, t.MaxBatchingWindow)
			}
		default:
			return fmt.Errorf("function %s: needs a Trigger (QueueTrigger, HTTPAPITrigger, ScheduleTrigger, StreamTrigger or WebhookTrigger)", f.Name)
		}
		for _, a := range f.Access[WebhookKey] {
			if len(f.KeyPurposes[a]) == 0 {
				return fmt.Errorf("function %s: %s on the webhook key without KeyPurposes", f.Name, a)
			}
		}
		for a := range f.KeyPurposes {
			if !slices.Contains(f.Access[WebhookKey], a) {
				return fmt.Errorf("function %s: KeyPurposes of %s, which it may not use on the webhook key", f.Name, a)
			}
		}
		if f.MemoryMB < 128 || f.Timeout <= 0 || f.Timeout > 15*time.Minute {
			return fmt.Errorf("function %s: MemoryMB (%d) and Timeout (%s) must be set, within Lambda's limits", f.Name, f.MemoryMB, f.Timeout)
		}
		for res, actions := range f.Access {
			for _, a := range actions {
				if strings.Contains(a, "*") || !strings.Contains(a, ":") {
					return fmt.Errorf("function %s: action %q on %s: exact service:Action names only", f.Name, a, res)
				}
				if instead, ok := notIAMActions[a]; ok {
					return fmt.Errorf("function %s: %s is not an IAM action: %s", f.Name, a, instead)
				}
			}
		}
		bootstrap := filepath.Join(assetDir, f.Name, "bootstrap")
		if _, err := os.Stat(bootstrap); err != nil {
			return fmt.Errorf("function %s: %s not found: build the Lambda binaries first (make build)", f.Name, bootstrap)
		}
	}
	if httpHandlers > 1 {
		return fmt.Errorf("%d functions have an HTTPAPITrigger; the API has one handler", httpHandlers)
	}
	return nil
}

// notIAMActions are API operations IAM does not know as actions, with what to
// grant instead.
var notIAMActions = map[string]string{
	"dynamodb:TransactWriteItems": "grant each item's own action (PutItem, UpdateItem, DeleteItem, ConditionCheckItem)",
	"dynamodb:TransactGetItems":   "grant dynamodb:GetItem",
}

// constructID turns "release-pending" into "ReleasePending".
func constructID(name string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func duration(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
}

func sortedResources(m map[Resource][]string) []Resource {
	rs := make([]Resource, 0, len(m))
	for r := range m {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return rs
}

func sorted(s []string) []string {
	return slices.Sorted(slices.Values(s))
}

// newImports creates the bulk imports' bucket and queue (see shared/imports):
// partners PUT files under imports/{partner}/{import id} with presigned URLs
// the api function signs; the bucket notifies the imports queue of each
// object created there; the imports function consumes the queue.
//
// The bucket: S3-managed encryption (a presigned PUT then needs no KMS grant
// of the uploader), all public access blocked, TLS enforced by its policy,
// uploads deleted after imports.UploadExpiryDays (the imports' job items,
// counts and rejected lines stay in the table) and incomplete multipart
// uploads after a day.
//
// The notification is the bucket's own NotificationConfiguration (no custom
// resource, no extra function): S3 checks at creation that it may send to
// the queue, so the bucket depends on the queue's policy, which allows
// s3.amazonaws.com to send only from this bucket (by its name, known before
// the bucket exists: accrue-{stage}-imports-{account}-{region}) and account.
func (r *resources) newImports(stage Stage, fns []Function) {
	timeout := imports.FunctionTimeout
	for _, f := range fns {
		if q, ok := f.Trigger.(QueueTrigger); ok && q.queue() == ImportsQueue {
			timeout = max(timeout, f.Timeout)
		}
	}
	r.importsDLQ = awssqs.NewQueue(r.stack, jsii.String("ImportsDLQ"), &awssqs.QueueProps{
		RetentionPeriod: duration(queue.DLQRetention),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
	})
	r.importsQueue = awssqs.NewQueue(r.stack, jsii.String("ImportsQueue"), &awssqs.QueueProps{
		// Lambda's guidance: six times the consumer's timeout.
		VisibilityTimeout: duration(queue.VisibilityFactor * timeout),
		RetentionPeriod:   awscdk.Duration_Days(jsii.Number(4)),
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: r.importsDLQ, MaxReceiveCount: jsii.Number(queue.MaxReceiveCount)},
	})
	name := awscdk.Fn_Join(jsii.String("-"), jsii.Strings("accrue-"+stage.Name+"-imports", *r.stack.Account(), *r.stack.Region()))
	bucketArn := awscdk.Fn_Join(jsii.String(""), jsii.Strings("arn:", *r.stack.Partition(), ":s3:::", *name))
	r.importsQueue.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("UploadsOfTheImportsBucket"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("s3.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  jsii.Strings(*r.importsQueue.QueueArn()),
		Conditions: &map[string]any{
			"ArnEquals":    map[string]any{"aws:SourceArn": *bucketArn},
			"StringEquals": map[string]any{"aws:SourceAccount": *r.stack.Account()},
		},
	}))
	r.importsBucket = awss3.NewBucket(r.stack, jsii.String("ImportsBucket"), &awss3.BucketProps{
		BucketName:        name,
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Versioned:         jsii.Bool(false),
		RemovalPolicy:     stage.RemovalPolicy,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("expire-uploads"),
			Expiration:                          awscdk.Duration_Days(jsii.Number(imports.UploadExpiryDays)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
	})
	cfn := r.importsBucket.Node().DefaultChild().(awss3.CfnBucket)
	cfn.SetNotificationConfiguration(&awss3.CfnBucket_NotificationConfigurationProperty{
		QueueConfigurations: &[]any{&awss3.CfnBucket_QueueConfigurationProperty{
			Event: jsii.String("s3:ObjectCreated:*"),
			Queue: r.importsQueue.QueueArn(),
			Filter: &awss3.CfnBucket_NotificationFilterProperty{S3Key: &awss3.CfnBucket_S3KeyFilterProperty{
				Rules: &[]any{&awss3.CfnBucket_FilterRuleProperty{Name: jsii.String("prefix"), Value: jsii.String(imports.ObjectPrefix)}},
			}},
		}},
	})
	r.importsBucket.Node().AddDependency(r.importsQueue)
	if p := r.importsQueue.Node().TryFindChild(jsii.String("Policy")); p != nil {
		r.importsBucket.Node().AddDependency(p)
	}
	suppress(r.importsBucket, "AwsSolutions-S1", nagImportsAccessLogs)
}
