package stack

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/accrue/accrue/shared/queue"
	"github.com/accrue/accrue/shared/webhooks"
)

// tableKey is the KMS key the table is encrypted with.
func tableKey(tb testing.TB, t cfnTemplate) string {
	tb.Helper()
	_, table := t.only(tb, "AWS::DynamoDB::Table")
	sse, _ := table.Properties["SSESpecification"].(map[string]any)
	id := referencedID(sse["KMSMasterKeyId"])
	if r, ok := t.Resources[id]; !ok || r.Type != "AWS::KMS::Key" {
		tb.Fatalf("the table's key %s is not a key of the stack", jsonString(sse["KMSMasterKeyId"]))
	}
	return id
}

// paymentsQueue is the queue the ingest function consumes.
func paymentsQueue(tb testing.TB, t cfnTemplate) string {
	tb.Helper()
	fnID, _ := t.function(tb, "ingest")
	return referencedID(t.eventSourceMapping(tb, fnID).Properties["EventSourceArn"])
}

// webhookIDs are the logical ids of the webhooks' resources.
type webhookIDs struct {
	key, events, deliveries, dlq, rule, fn string
}

// webhookResources finds them: the rule on the bus whose target is a queue
// (the events queue), the other queue the webhooks function consumes (the
// deliveries queue), their DLQ, the key the webhooks function may decrypt
// with.
func webhookResources(tb testing.TB, t cfnTemplate) webhookIDs {
	tb.Helper()
	var w webhookIDs
	w.fn, _ = t.function(tb, "webhooks")
	for _, id := range t.ofType("AWS::Events::Rule") {
		for _, target := range list(t.Resources[id].Properties["Targets"]) {
			if q := referencedID(target.(map[string]any)["Arn"]); t.Resources[q].Type == "AWS::SQS::Queue" {
				w.rule, w.events = id, q
			}
		}
	}
	var sources []string
	for _, id := range t.ofType("AWS::Lambda::EventSourceMapping") {
		if p := t.Resources[id].Properties; reflect.DeepEqual(p["FunctionName"], ref(w.fn)) {
			sources = append(sources, referencedID(p["EventSourceArn"]))
		}
	}
	sort.Strings(sources)
	for _, q := range sources {
		if q != w.events {
			w.deliveries = q
		}
	}
	if w.rule == "" || len(sources) != 2 || !slices.Contains(sources, w.events) {
		tb.Fatalf("the webhooks function consumes %v; the bus's queue target is %q: want the events queue and the deliveries queue", sources, w.events)
	}
	rp, _ := t.Resources[w.deliveries].Properties["RedrivePolicy"].(map[string]any)
	w.dlq = referencedID(rp["deadLetterTargetArn"])
	_, fn := t.function(tb, "webhooks")
	vars, _ := fn.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
	w.key = referencedID(vars[webhooks.KeyEnv])
	if t.Resources[w.key].Type != "AWS::KMS::Key" || w.key == tableKey(tb, t) {
		tb.Fatalf("%s = %s, want a key of its own", webhooks.KeyEnv, jsonString(vars[webhooks.KeyEnv]))
	}
	return w
}

// The webhooks' resources and their IAM: a rule on the bus sends every
// Accrue event to the events queue (a day of retries, then the webhook DLQ);
// the webhooks function consumes it and the deliveries queue, with partial
// batch failures, within its reserved concurrency; both queues go to the
// webhook DLQ after 5 receives; the signing secrets' KMS key rotates and is
// kept like the table's; only the webhooks function may decrypt a signing
// secret, only the api function encrypt one (and seal its stored answers);
// the stage's URL policy reaches both.
func TestWebhookResources(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, stage Stage) {
		js := s.json
		w := webhookResources(t, js)
		busID := js.ofType("AWS::Events::EventBus")[0]

		rule := js.Resources[w.rule].Properties
		if !refersTo(rule["EventBusName"], busID) || !reflect.DeepEqual(rule["EventPattern"], map[string]any{"source": []any{"accrue"}}) {
			t.Errorf("webhooks' rule: bus %s pattern %s, want every Accrue event of the bus", jsonString(rule["EventBusName"]), jsonString(rule["EventPattern"]))
		}
		target := list(rule["Targets"])[0].(map[string]any)
		dlc, _ := target["DeadLetterConfig"].(map[string]any)
		rp, _ := target["RetryPolicy"].(map[string]any)
		if !refersTo(dlc["Arn"], w.dlq) || rp["MaximumEventAgeInSeconds"] != float64(24*3600) || rp["MaximumRetryAttempts"] != float64(185) {
			t.Errorf("the rule's target: dead letters %s, retries %s; want the webhook DLQ after a day of retries", jsonString(dlc), jsonString(rp))
		}
		// EventBridge may send to the events queue (and the DLQ), for this rule only.
		allowed := map[string]bool{}
		for _, id := range js.ofType("AWS::SQS::QueuePolicy") {
			p := js.Resources[id].Properties
			for _, st := range list(p["PolicyDocument"].(map[string]any)["Statement"]) {
				m := st.(map[string]any)
				if m["Effect"] == "Allow" && reflect.DeepEqual(m["Principal"], map[string]any{"Service": "events.amazonaws.com"}) {
					cond := jsonString(m["Condition"])
					if !strings.Contains(cond, "aws:SourceArn") || !refersTo(m["Condition"], w.rule) {
						t.Errorf("EventBridge may send to %s under %s, want this rule only", jsonString(p["Queues"]), cond)
					}
					for _, q := range list(p["Queues"]) {
						allowed[referencedID(q)] = true
					}
				}
			}
		}
		if !allowed[w.events] || !allowed[w.dlq] {
			t.Errorf("EventBridge may send to %v, want the events queue %s and the DLQ %s", allowed, w.events, w.dlq)
		}

		for _, q := range []string{w.events, w.deliveries} {
			p := js.Resources[q].Properties
			rp, _ := p["RedrivePolicy"].(map[string]any)
			if !refersTo(rp["deadLetterTargetArn"], w.dlq) || rp["maxReceiveCount"] != float64(queue.MaxReceiveCount) ||
				p["VisibilityTimeout"] != webhooks.QueueVisibility.Seconds() || p["SqsManagedSseEnabled"] != true {
				t.Errorf("queue %s: %s; want the webhook DLQ after %d receives, visibility %s, encrypted", q, jsonString(p), queue.MaxReceiveCount, webhooks.QueueVisibility)
			}
		}
		_, fn := js.function(t, "webhooks")
		if fn.Properties["Timeout"] != webhooks.FunctionTimeout.Seconds() || fn.Properties["ReservedConcurrentExecutions"] != float64(stage.Concurrency.Reserved["webhooks"]) {
			t.Errorf("webhooks function: timeout %v, reserved %v", fn.Properties["Timeout"], fn.Properties["ReservedConcurrentExecutions"])
		}
		for _, id := range js.ofType("AWS::Lambda::EventSourceMapping") {
			p := js.Resources[id].Properties
			if !reflect.DeepEqual(p["FunctionName"], ref(w.fn)) {
				continue
			}
			sc, _ := p["ScalingConfig"].(map[string]any)
			if p["BatchSize"] != float64(webhooks.BatchSize) || !reflect.DeepEqual(p["FunctionResponseTypes"], []any{"ReportBatchItemFailures"}) ||
				sc["MaximumConcurrency"] != float64(stage.Concurrency.WebhookQueueMax) {
				t.Errorf("webhooks mapping %s", jsonString(p))
			}
		}

		for _, id := range js.ofType("AWS::KMS::Key") {
			if id != w.key {
				continue
			}
			r := js.Resources[id]
			if r.Properties["EnableKeyRotation"] != true || r.DeletionPolicy != map[string]string{"dev": "Delete", "prod": "Retain"}[stage.Name] {
				t.Errorf("webhook key %s, deletion %s", jsonString(r.Properties), r.DeletionPolicy)
			}
		}

		// Who may use the webhook key and the deliveries queue, for what.
		for _, f := range Functions {
			fnID, fnRes := js.function(t, f.Name)
			sts, _ := js.roleStatements(t, referencedID(fnRes.Properties["Role"]))
			var keyUse, queueUse []string
			for _, st := range sts {
				if slices.ContainsFunc(st.Resources, func(r any) bool { return refersTo(r, w.key) }) {
					for _, a := range st.Actions {
						keyUse = append(keyUse, a+" "+jsonString(st.Condition))
					}
				}
				if slices.ContainsFunc(st.Resources, func(r any) bool { return refersTo(r, w.deliveries) || refersTo(r, w.events) }) {
					queueUse = append(queueUse, st.Actions...)
				}
			}
			sort.Strings(keyUse)
			sort.Strings(queueUse)
			purpose := func(a string, ps ...string) string {
				return a + ` {"StringEquals":{"kms:EncryptionContext:purpose":` + jsonString(anyList(ps)) + `}}`
			}
			want := map[string][]string{
				"api": {
					purpose("kms:Decrypt", webhooks.PurposeIdempotentResponse),
					purpose("kms:Encrypt", webhooks.PurposeIdempotentResponse, webhooks.PurposeSigningSecret),
				},
				"webhooks": {purpose("kms:Decrypt", webhooks.PurposeSigningSecret)},
			}[f.Name]
			if !slices.Equal(keyUse, want) {
				t.Errorf("%s uses the webhook key for %q, want %q", f.Name, keyUse, want)
			}
			wantQueue := map[string][]string{
				"api":      {"sqs:SendMessage"},
				"webhooks": {"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"},
			}[f.Name]
			if !slices.Equal(queueUse, wantQueue) {
				t.Errorf("%s (%s) uses the webhook queues for %v, want %v", f.Name, fnID, queueUse, wantQueue)
			}
			vars, _ := fnRes.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
			if f.Name == "api" || f.Name == "webhooks" {
				if vars[webhooks.PolicyEnv] != stage.WebhookURLs.Name() || !refersTo(vars[webhooks.KeyEnv], w.key) || !refersTo(vars[webhooks.DeliveriesQueueEnv], w.deliveries) {
					t.Errorf("%s's environment %s", f.Name, jsonString(vars))
				}
			} else if vars[webhooks.KeyEnv] != nil {
				t.Errorf("%s knows the webhook key", f.Name)
			}
		}
		if got := stage.WebhookURLs; (stage.Name == "prod") != (got == webhooks.PolicyHTTPS) || got.AllowPrivate {
			t.Errorf("stage %s accepts webhook URLs %+v", stage.Name, got)
		}
	})
}
