package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/jsii-runtime-go"

	"github.com/accrue/accrue/shared/metrics"
	"github.com/accrue/accrue/shared/webhooks"
)

// newMonitoring creates the alarms (to an SNS topic, returned) and the
// dashboard: the payments DLQ and the events DLQ not empty, the payments
// queue's oldest message too old, each function's errors and throttles, each
// stream consumer's iterator age, and the API's 5xx.
func newMonitoring(stack awscdk.Stack, stage Stage, r resources, specs []Function,
	fns map[string]awslambda.Function, api *httpAPI, alarmEmail string,
) awssns.Topic {
	th := stage.Alarms
	topic := awssns.NewTopic(stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("Accrue " + stage.Name + " alarms"),
		EnforceSSL:  jsii.Bool(true),
	})
	if alarmEmail != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(alarmEmail), nil))
	}
	action := awscloudwatchactions.NewSnsAction(topic)
	period := duration(th.Period)

	alarm := func(id, name, desc string, m awscloudwatch.IMetric, threshold float64, evals int) {
		a := awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String("accrue-" + stage.Name + "-" + name),
			AlarmDescription:   jsii.String(desc),
			Metric:             m,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(float64(evals)),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(action)
		a.AddOkAction(action)
	}

	// Queues.
	alarm("PaymentsDLQNotEmptyAlarm", "payments-dlq-not-empty",
		"Payment events failed 5 times and are in the DLQ: find the cause in the ingest logs, fix it, then move them back with the operator CLI.",
		r.dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: duration(th.Period), Statistic: jsii.String("Maximum")}),
		1, 1)
	alarm("PaymentsQueueAgeAlarm", "payments-queue-age",
		"The oldest payment event has waited too long: ingest is failing, throttled or too slow.",
		r.payments.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Maximum")}),
		th.PaymentsQueueAge.Seconds(), th.EvaluationPeriods)
	alarm("EventsDLQNotEmptyAlarm", "events-dlq-not-empty",
		"A stream consumer gave up on table stream records after a day of failures: the events function's domain events are not on the bus, or the stats function's figures miss them. Each message names the function, the shard and the sequence numbers; find the cause in that function's logs.",
		r.eventsDLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Maximum")}),
		1, 1)

	if r.partnerDLQ != nil {
		alarm("PartnerEventsDLQNotEmptyAlarm", "partner-events-dlq-not-empty",
			"EventBridge could not put events on a partner's own event bus (its resource policy does not allow the forwarding role, or the bus is gone), or gave up after a day of retries. Each message carries the event and the error; fix the partner's side, then put the events again.",
			r.partnerDLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Maximum")}),
			1, 1)
	}

	if r.webhookDLQ != nil {
		webhookAlarms(alarm, th, period, r)
	}
	alarm("ImportsDLQNotEmptyAlarm", "imports-dlq-not-empty",
		"Runs of a bulk import failed 5 times: find the cause in the imports function's logs; the import resumes from its checkpoint when its message is moved back to the imports queue.",
		r.importsDLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Maximum")}),
		1, 1)
	alarm("ImportsQueueAgeAlarm", "imports-queue-age",
		"A bulk import has waited too long for the imports function: it is failing, throttled, or more imports were started at once than it runs (its reserved concurrency).",
		r.importsQueue.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Maximum")}),
		th.ImportsQueueAge.Seconds(), th.EvaluationPeriods)

	// Functions.
	for _, f := range specs {
		fn := fns[f.Name]
		id := constructID(f.Name)
		alarm(id+"ErrorsAlarm", f.Name+"-errors", "The "+f.Name+" function is failing invocations.",
			fn.MetricErrors(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum")}),
			th.FunctionErrors, th.EvaluationPeriods)
		alarm(id+"ThrottlesAlarm", f.Name+"-throttles", "The "+f.Name+" function is throttled: it uses all of its reserved concurrency (Concurrency in infra/stack/stage.go): raise it, or lower the load.",
			fn.MetricThrottles(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum")}),
			th.FunctionThrottles, th.EvaluationPeriods)
		if _, ok := f.Trigger.(StreamTrigger); ok {
			alarm(id+"IteratorAgeAlarm", f.Name+"-iterator-age",
				"The "+f.Name+" function is behind the table's stream: what it makes of the stream (domain events, the stats' figures) is late. Failing records are retried, see its errors and logs.",
				iteratorAge(fn, &awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Maximum")}),
				float64(th.StreamIteratorAge.Milliseconds()), th.EvaluationPeriods)
		}
	}

	// API.
	if api != nil {
		alarm("HttpApi5xxAlarm", "api-5xx", "The HTTP API answers 5xx: see the api function's errors and logs.",
			api.api.MetricServerError(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum")}),
			th.API5xx, th.EvaluationPeriods)
	}

	newDashboard(stack, stage, r, specs, fns, api)
	return topic
}

// webhookAlarms: the webhook DLQ not empty, the fan-out late, attempts due
// piling up, deliveries dying.
func webhookAlarms(alarm func(id, name, desc string, m awscloudwatch.IMetric, threshold float64, evals int), th AlarmThresholds, period awscdk.Duration, r resources) {
	alarm("WebhookDLQNotEmptyAlarm", "webhook-dlq-not-empty",
		"The webhooks function failed 5 times on a fan-out or an attempt (not a partner's endpoint failing: the table, KMS or SQS), or EventBridge could not put events on the webhook events queue for a day. See the webhooks function's logs; after fixing the cause, move the messages back (accrue dlq redrive --from WebhookDLQUrl --to the queue of their kind).",
		r.webhookDLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Maximum")}),
		1, 1)
	alarm("WebhookEventsQueueAgeAlarm", "webhook-events-queue-age",
		"Domain events wait too long for the webhooks' fan-out: deliveries start late. The webhooks function is failing, throttled or too slow.",
		r.webhookEvents.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Maximum")}),
		th.WebhookEventsAge.Seconds(), th.EvaluationPeriods)
	alarm("WebhookDeliveriesBacklogAlarm", "webhook-deliveries-backlog",
		"Webhook attempts that are due pile up on the deliveries queue (attempts waiting for their retry are hidden, not counted): the webhooks function is throttled (its reserved concurrency) or partners' endpoints are slow.",
		r.webhookDeliveries.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Maximum")}),
		th.WebhookBacklog, th.EvaluationPeriods)
	alarm("WebhookDeadDeliveriesAlarm", "webhook-dead-deliveries",
		"Webhook deliveries died: a partner's endpoint failed every attempt for over a day (or was deactivated with deliveries under way). Each is in its endpoint's dead-letter list (GET /v1/webhooks/{id}/deliveries?status=dead); tell the partner, who re-sends them once the endpoint is back.",
		deadDeliveries(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum")}),
		th.WebhookDead, 1)
}

// deadDeliveries is the count of deliveries that died (the webhooks
// function's EMF metric, Outcome=dead).
func deadDeliveries(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return webhookDeliveries(webhooks.OutcomeDead, opts)
}

func webhookDeliveries(outcome string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(metrics.Namespace), MetricName: jsii.String(webhooks.MetricDeliveries),
		DimensionsMap: &map[string]*string{"Outcome": jsii.String(outcome)},
		Period:        opts.Period, Statistic: opts.Statistic, Label: opts.Label,
	})
}

// iteratorAge is a stream consumer's IteratorAge metric (milliseconds).
func iteratorAge(fn awslambda.Function, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return fn.Metric(jsii.String("IteratorAge"), opts)
}

func newDashboard(stack awscdk.Stack, stage Stage, r resources, specs []Function,
	fns map[string]awslambda.Function, api *httpAPI,
) {
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	sum := func(label string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum"), Label: jsii.String(label)}
	}
	stat := func(label, statistic string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String(statistic), Label: jsii.String(label)}
	}
	graph := func(title string, left, right []awscloudwatch.IMetric) awscloudwatch.IWidget {
		props := &awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Width: jsii.Number(12), Height: jsii.Number(6), Left: &left}
		if len(right) > 0 {
			props.Right = &right
		}
		return awscloudwatch.NewGraphWidget(props)
	}

	// Ingest throughput: payment events taken off the queue, and rejected
	// ones (the EMF metric of shared/ingest, across its Reason and Scope
	// dimensions).
	rejected := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("SUM(SEARCH('{" + metrics.Namespace + ",Reason,Scope} MetricName=\"RejectedEvents\"', 'Sum', 60))"),
		Label:      jsii.String("rejected events"),
		Period:     minute,
	})
	throughput := graph("Ingest throughput (per minute)", []awscloudwatch.IMetric{
		r.payments.MetricNumberOfMessagesSent(sum("events sent")),
		r.payments.MetricNumberOfMessagesDeleted(sum("events processed")),
	}, []awscloudwatch.IMetric{rejected})
	queues := graph("Payments queue", []awscloudwatch.IMetric{
		r.payments.MetricApproximateNumberOfMessagesVisible(stat("queue depth", "Maximum")),
		r.dlq.MetricApproximateNumberOfMessagesVisible(stat("DLQ depth", "Maximum")),
	}, []awscloudwatch.IMetric{
		r.payments.MetricApproximateAgeOfOldestMessage(stat("oldest message age (s)", "Maximum")),
	})

	var errs, throttles, durations, iterators []awscloudwatch.IMetric
	for _, f := range specs {
		fn := fns[f.Name]
		errs = append(errs, fn.MetricErrors(sum(f.Name+" errors")))
		throttles = append(throttles, fn.MetricThrottles(sum(f.Name+" throttles")))
		durations = append(durations, fn.MetricDuration(stat(f.Name+" p99", "p99")))
		if _, ok := f.Trigger.(StreamTrigger); ok {
			iterators = append(iterators, iteratorAge(fn, stat(f.Name+" iterator age (ms)", "Maximum")))
		}
	}
	rows := [][]awscloudwatch.IWidget{
		{throughput, queues},
		{graph("Function errors and throttles", errs, throttles), graph("Function duration p99 (ms)", durations, nil)},
	}
	if len(iterators) > 0 {
		rows = append(rows, []awscloudwatch.IWidget{
			graph("Table stream consumers (domain events, stats)", iterators, []awscloudwatch.IMetric{
				r.eventsDLQ.MetricApproximateNumberOfMessagesVisible(stat("events DLQ depth", "Maximum")),
			}),
		})
	}
	if r.webhookDLQ != nil {
		var outcomes []awscloudwatch.IMetric
		for _, o := range []string{webhooks.OutcomeDelivered, webhooks.OutcomeFailed, webhooks.OutcomeDead} {
			outcomes = append(outcomes, webhookDeliveries(o, sum("attempts "+o)))
		}
		rows = append(rows, []awscloudwatch.IWidget{
			graph("Webhook attempts (per minute)", outcomes, nil),
			graph("Webhook queues", []awscloudwatch.IMetric{
				r.webhookEvents.MetricApproximateNumberOfMessagesVisible(stat("events waiting", "Maximum")),
				r.webhookDeliveries.MetricApproximateNumberOfMessagesVisible(stat("attempts due", "Maximum")),
				r.webhookDLQ.MetricApproximateNumberOfMessagesVisible(stat("webhook DLQ depth", "Maximum")),
			}, []awscloudwatch.IMetric{
				r.webhookEvents.MetricApproximateAgeOfOldestMessage(stat("oldest event (s)", "Maximum")),
			}),
		})
	}
	if api != nil {
		rows = append(rows, []awscloudwatch.IWidget{
			graph("API latency (ms)", []awscloudwatch.IMetric{
				api.api.MetricLatency(stat("p50", "p50")),
				api.api.MetricLatency(stat("p99", "p99")),
				api.api.MetricIntegrationLatency(stat("integration p99", "p99")),
			}, nil),
			graph("API requests and errors", []awscloudwatch.IMetric{
				api.api.MetricCount(sum("requests")),
			}, []awscloudwatch.IMetric{
				api.api.MetricServerError(sum("5xx")),
				api.api.MetricClientError(sum("4xx")),
			}),
		})
	}
	widgets := make([]*[]awscloudwatch.IWidget, len(rows))
	for i := range rows {
		widgets[i] = &rows[i]
	}
	awscloudwatch.NewDashboard(stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String("accrue-" + stage.Name),
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(6)),
		Widgets:         &widgets,
	})
}
