package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/accrue/accrue/shared/imports"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/jsii-runtime-go"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/accrue/accrue/shared/api"
	"github.com/accrue/accrue/shared/eventschema"
	"github.com/accrue/accrue/shared/store"
)

// One stack per stage holds the whole system: one table and its key, the
// payments queue and its DLQ, the events DLQ, one function per Functions entry
// with its own role and log group, the HTTP API, the event bus and its
// archive, one alarm topic, the alarms and a dashboard.
func TestStackHasEveryPartOfTheSystem(t *testing.T) {
	schedules, queueConsumers, streamConsumers := 0, 0, 0
	for _, f := range Functions {
		switch f.Trigger.(type) {
		case ScheduleTrigger:
			schedules++
		case QueueTrigger:
			queueConsumers++
		case StreamTrigger:
			streamConsumers++
		}
	}
	if queueConsumers != 2 || streamConsumers != 2 {
		t.Errorf("%d queue and %d stream consumers, want ingest and imports; events and stats", queueConsumers, streamConsumers)
	}
	want := map[string]int{
		"AWS::DynamoDB::Table": 1,
		"AWS::KMS::Key":        2, // the table's, the webhooks' secrets'
		// payments, its DLQ, the events DLQ; the webhook events and
		// deliveries queues and their DLQ; imports, its DLQ
		"AWS::SQS::Queue":       8,
		"AWS::S3::Bucket":       1, // the imports' uploads
		"AWS::S3::BucketPolicy": 1, // its TLS-only policy
		"AWS::Lambda::Function": len(Functions),
		"AWS::IAM::Role":        len(Functions),
		// ingest, imports; events and stats; the webhooks function's two queues
		"AWS::Lambda::EventSourceMapping": queueConsumers + streamConsumers + 2,
		"AWS::ApiGatewayV2::Api":          1,
		"AWS::ApiGatewayV2::Stage":        1,
		"AWS::ApiGatewayV2::Integration":  1,
		"AWS::ApiGatewayV2::Route":        len(Routes) + 1, // and $default
		"AWS::Events::EventBus":           1,
		"AWS::Events::Archive":            1,
		"AWS::EventSchemas::Registry":     1,
		"AWS::EventSchemas::Schema":       len(eventschema.All()),
		"AWS::Events::Rule":               schedules + 1, // and the webhooks' rule on the bus
		"AWS::SNS::Topic":                 1,
		"AWS::CloudWatch::Dashboard":      1,
		// Per role, the default policy CDK puts the X-Ray statements in; no
		// other (grants made by constructs) beside the inline policies.
		"AWS::IAM::Policy": len(Functions),
		// The four DLQs (payments, events, webhooks, imports), payments and
		// imports queue age, errors+throttles per function, iterator age per
		// stream consumer, API 5xx; the webhooks' events queue age,
		// deliveries backlog and dead deliveries.
		"AWS::CloudWatch::Alarm":              5 + 2*len(Functions) + streamConsumers + 1 + 4,
		"AWS::Logs::LogGroup":                 len(Functions) + 1, // one per function, the API access log
		"AWS::IAM::ManagedPolicy":             0,
		"AWS::Lambda::LayerVersion":           0,
		"Custom::LogRetention":                0,
		"AWS::CloudFormation::CustomResource": 0,
	}
	stages(t, func(t *testing.T, s *synthStack, _ Stage) {
		for typ, n := range want {
			check(t, typ, func() { s.template.ResourceCountIs(jsii.String(typ), jsii.Number(n)) })
		}
	})
}

// The table is the one shared/store defines (spec §7): same keys, attribute
// definitions and indexes as the local stack creates with CreateTableInput.
func TestTableIsBuiltFromTheStoreSchema(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, _ Stage) {
		_, table := s.json.only(t, "AWS::DynamoDB::Table")
		p := table.Properties

		if got, want := p["KeySchema"], keySchemaJSON(store.KeySchema()); !reflect.DeepEqual(got, want) {
			t.Errorf("KeySchema = %s, want %s", jsonString(got), jsonString(want))
		}

		var gotAttrs, wantAttrs []string
		for _, a := range list(p["AttributeDefinitions"]) {
			m := a.(map[string]any)
			gotAttrs = append(gotAttrs, m["AttributeName"].(string)+":"+m["AttributeType"].(string))
		}
		for _, a := range store.AttributeDefinitions() {
			wantAttrs = append(wantAttrs, aws.ToString(a.AttributeName)+":"+string(a.AttributeType))
		}
		sort.Strings(gotAttrs)
		sort.Strings(wantAttrs)
		if !slices.Equal(gotAttrs, wantAttrs) {
			t.Errorf("AttributeDefinitions = %v, want %v", gotAttrs, wantAttrs)
		}

		var wantLSIs []any
		for _, lsi := range store.LocalSecondaryIndexes() {
			wantLSIs = append(wantLSIs, map[string]any{
				"IndexName":  aws.ToString(lsi.IndexName),
				"KeySchema":  keySchemaJSON(lsi.KeySchema),
				"Projection": projectionJSON(lsi.Projection),
			})
		}
		if got := list(p["LocalSecondaryIndexes"]); !reflect.DeepEqual(got, wantLSIs) {
			t.Errorf("LocalSecondaryIndexes = %s, want %s", jsonString(got), jsonString(wantLSIs))
		}
		var wantGSIs []any
		for _, g := range store.GlobalSecondaryIndexes() {
			wantGSIs = append(wantGSIs, map[string]any{
				"IndexName": aws.ToString(g.IndexName), "KeySchema": keySchemaJSON(g.KeySchema), "Projection": projectionJSON(g.Projection),
			})
		}
		if got := list(p["GlobalSecondaryIndexes"]); !reflect.DeepEqual(got, wantGSIs) {
			t.Errorf("GlobalSecondaryIndexes = %s, want %s", jsonString(got), jsonString(wantGSIs))
		}

		// The stream, as the local stack creates it.
		spec := store.CreateTableInput("t").StreamSpecification
		if spec == nil || !aws.ToBool(spec.StreamEnabled) {
			t.Fatal("store.CreateTableInput has no stream; the events function consumes one")
		}
		want := map[string]any{"StreamViewType": string(spec.StreamViewType)}
		if got := p["StreamSpecification"]; !reflect.DeepEqual(got, want) {
			t.Errorf("StreamSpecification = %s, want %s", jsonString(got), jsonString(want))
		}
	})
}

// On-demand, point-in-time recovery, encrypted with the stack's own rotating
// customer-managed key, TTL on store's ttl attribute; a stream of new and old
// images (the events function compares them).
func TestTableIsOnDemandRecoverableEncryptedWithTTL(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, _ Stage) {
		keyID := tableKey(t, s.json)
		check(t, "table properties", func() {
			s.template.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
				"BillingMode":                      "PAY_PER_REQUEST",
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
				"SSESpecification": map[string]any{
					"SSEEnabled":     true,
					"SSEType":        "KMS",
					"KMSMasterKeyId": getAtt(keyID, "Arn"),
				},
				"TimeToLiveSpecification": map[string]any{"AttributeName": store.AttrTTL, "Enabled": true},
				"StreamSpecification":     map[string]any{"StreamViewType": "NEW_AND_OLD_IMAGES"},
			})
		})
		check(t, "key rotation", func() {
			s.template.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"EnableKeyRotation": true})
		})
	})
}

// Prod keeps its data when the stack or the table is deleted; dev cleans up.
func TestProdRetainsDataAndDevDoesNot(t *testing.T) {
	for _, c := range []struct {
		stage      string
		policy     string
		protection bool
	}{
		{"prod", "Retain", true},
		{"dev", "Delete", false},
	} {
		t.Run(c.stage, func(t *testing.T) {
			s := synthesized[c.stage]
			check(t, "table", func() {
				s.template.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{
					"DeletionPolicy":      c.policy,
					"UpdateReplacePolicy": c.policy,
					"Properties":          map[string]any{"DeletionProtectionEnabled": c.protection},
				})
			})
			check(t, "table key", func() {
				s.template.HasResource(jsii.String("AWS::KMS::Key"), map[string]any{
					"DeletionPolicy": c.policy, "UpdateReplacePolicy": c.policy,
				})
			})
			for _, id := range s.json.ofType("AWS::Logs::LogGroup") {
				if got := s.json.Resources[id].DeletionPolicy; got != c.policy {
					t.Errorf("log group %s: DeletionPolicy %q, want %q", id, got, c.policy)
				}
			}
		})
	}
}

// Every queue is either a DLQ (of a queue's redrive policy, or the on-failure
// destination of an event source mapping) or sends to one after 5 receives,
// is encrypted and has an alarm. The payments queue outlives a retried batch;
// the DLQs keep messages for 14 days.
func TestEveryQueueHasADLQAndAnAlarm(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, stage Stage) {
		queues := s.json.ofType("AWS::SQS::Queue")
		dlqs := deadLetterQueues(s.json)
		if len(dlqs) != 4 {
			t.Fatalf("dead-letter queues %v, want the payments DLQ, the events DLQ, the webhook DLQ and the imports DLQ", dlqs)
		}
		for _, id := range queues {
			p := s.json.Resources[id].Properties
			if p["SqsManagedSseEnabled"] != true && p["KmsMasterKeyId"] == nil {
				t.Errorf("queue %s is not encrypted", id)
			}
			if dlqs[id] {
				if p["MessageRetentionPeriod"] != float64(14*24*3600) {
					t.Errorf("DLQ %s: MessageRetentionPeriod %v, want 14 days", id, p["MessageRetentionPeriod"])
				}
			} else {
				rp, _ := p["RedrivePolicy"].(map[string]any)
				if rp == nil || rp["maxReceiveCount"] != float64(5) {
					t.Errorf("queue %s: RedrivePolicy %s, want a DLQ after maxReceiveCount 5", id, jsonString(rp))
				}
			}
			alarmed := false
			for _, a := range s.json.ofType("AWS::CloudWatch::Alarm") {
				ap := s.json.Resources[a].Properties
				if ap["Namespace"] == "AWS/SQS" && refersTo(ap["Dimensions"], id) {
					alarmed = true
				}
			}
			if !alarmed {
				t.Errorf("queue %s has no alarm", id)
			}
		}
	})
}

// Lambda's rule for SQS consumers: visibility timeout >= 6 x function timeout
// (+ batching window), so a retried batch is not redelivered while in flight.
func TestPaymentsQueueVisibilityCoversTheConsumer(t *testing.T) {
	s := synthesized["dev"]
	_, ingest := s.json.function(t, "ingest")
	for _, id := range s.json.ofType("AWS::SQS::Queue") {
		p := s.json.Resources[id].Properties
		if p["RedrivePolicy"] == nil {
			continue
		}
		vis, _ := p["VisibilityTimeout"].(float64)
		if timeout := ingest.Properties["Timeout"].(float64); vis < 6*timeout {
			t.Errorf("payments queue VisibilityTimeout %v < 6 x ingest Timeout %v", vis, timeout)
		}
	}
}

// ingest consumes the payments queue in batches of 10 with partial batch
// responses, so only the failed messages of a batch are retried.
func TestIngestConsumesThePaymentsQueue(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, _ Stage) {
		fnID, _ := s.json.function(t, "ingest")
		p := s.json.eventSourceMapping(t, fnID).Properties
		if p["BatchSize"] != float64(10) {
			t.Errorf("BatchSize = %v, want 10", p["BatchSize"])
		}
		if w, _ := p["MaximumBatchingWindowInSeconds"].(float64); w < 0 || w > 5 {
			t.Errorf("MaximumBatchingWindowInSeconds = %v, want small (<= 5)", p["MaximumBatchingWindowInSeconds"])
		}
		if !slices.Contains(list(p["FunctionResponseTypes"]), any("ReportBatchItemFailures")) {
			t.Errorf("FunctionResponseTypes = %v, want ReportBatchItemFailures", p["FunctionResponseTypes"])
		}
		src := p["EventSourceArn"]
		q, ok := s.json.Resources[referencedID(src)]
		if !ok || q.Type != "AWS::SQS::Queue" || q.Properties["RedrivePolicy"] == nil {
			t.Errorf("EventSourceArn %s is not the payments queue", jsonString(src))
		}
	})
}

// events and stats consume the table's stream from its oldest record, in
// order (one batch per shard at a time), with partial batch responses and
// bisection, retried until the stream drops a record, which then goes to the
// events DLQ. stats' mapping has a tumbling window, so that its batches name
// their shard (the stats consumer's items are keyed by it).
func TestStreamConsumersOfTheTableStream(t *testing.T) {
	for _, tc := range []struct {
		fn                    string
		batch, window, tumble any
	}{
		{"events", float64(100), float64(1), nil},
		{"stats", float64(1000), float64(5), float64(900)},
	} {
		t.Run(tc.fn, func(t *testing.T) { streamConsumer(t, tc.fn, tc.batch, tc.window, tc.tumble) })
	}
}

func streamConsumer(t *testing.T, fn string, batch, window, tumble any) {
	stages(t, func(t *testing.T, s *synthStack, _ Stage) {
		fnID, _ := s.json.function(t, fn)
		tableID := s.json.ofType("AWS::DynamoDB::Table")[0]
		p := s.json.eventSourceMapping(t, fnID).Properties
		if want := getAtt(tableID, "StreamArn"); !reflect.DeepEqual(p["EventSourceArn"], want) {
			t.Errorf("EventSourceArn = %s, want the table's stream %s", jsonString(p["EventSourceArn"]), jsonString(want))
		}
		for k, want := range map[string]any{
			"StartingPosition":               "TRIM_HORIZON",
			"BatchSize":                      batch,
			"MaximumBatchingWindowInSeconds": window,
			"TumblingWindowInSeconds":        tumble,
			"ParallelizationFactor":          float64(1),
			"BisectBatchOnFunctionError":     true,
			"FunctionResponseTypes":          []any{"ReportBatchItemFailures"},
			"MaximumRetryAttempts":           float64(-1),
			"MaximumRecordAgeInSeconds":      nil, // -1: until the stream drops the record
		} {
			if !reflect.DeepEqual(p[k], want) {
				t.Errorf("%s = %s, want %s", k, jsonString(p[k]), jsonString(want))
			}
		}
		dc, _ := p["DestinationConfig"].(map[string]any)
		of, _ := dc["OnFailure"].(map[string]any)
		dlq, ok := s.json.Resources[referencedID(of["Destination"])]
		if !ok || dlq.Type != "AWS::SQS::Queue" || !reflect.DeepEqual(of["Destination"], getAtt(referencedID(of["Destination"]), "Arn")) {
			t.Fatalf("DestinationConfig = %s, want OnFailure to a queue of the stack", jsonString(dc))
		}
		if dlq.Properties["RedrivePolicy"] != nil || dlq.Properties["MessageRetentionPeriod"] != float64(14*24*3600) {
			t.Errorf("on-failure queue %s, want a DLQ keeping messages 14 days", jsonString(dlq.Properties))
		}
	})
}

// Only the events function publishes domain events: the others change the
// table, and the stream is the one source of events.
func TestOnlyTheEventsFunctionPutsEvents(t *testing.T) {
	for _, f := range Functions {
		if got, want := slices.Contains(f.Actions(), "events:PutEvents"), f.Name == "events"; got != want {
			t.Errorf("%s may put events: %v, want %v", f.Name, got, want)
		}
	}
	stages(t, func(t *testing.T, s *synthStack, _ Stage) {
		for _, f := range Functions {
			_, fn := s.json.function(t, f.Name)
			vars, _ := fn.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
			if _, ok := vars["ACCRUE_EVENT_BUS"]; ok != (f.Name == "events") {
				t.Errorf("%s: ACCRUE_EVENT_BUS in the environment: %v", f.Name, ok)
			}
		}
	})
}

// Every function: Go on Graviton (arm64, provided.al2023, bootstrap), X-Ray
// tracing, JSON logs into its own log group with the stage's retention, and
// the environment variables of the resources it may use.
func TestFunctionsRunGoOnGravitonWithTracingAndJSONLogs(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, stage Stage) {
		retention := map[string]float64{"dev": 30, "prod": 365}[stage.Name]
		for _, f := range Functions {
			t.Run(f.Name, func(t *testing.T) {
				_, fn := s.json.function(t, f.Name)
				p := fn.Properties
				for k, want := range map[string]any{
					"Runtime":       "provided.al2023",
					"Handler":       "bootstrap",
					"Architectures": []any{"arm64"},
					"TracingConfig": map[string]any{"Mode": "Active"},
					"MemorySize":    float64(f.MemoryMB),
					"Timeout":       f.Timeout.Seconds(),
				} {
					if !reflect.DeepEqual(p[k], want) {
						t.Errorf("%s = %s, want %s", k, jsonString(p[k]), jsonString(want))
					}
				}
				lc, _ := p["LoggingConfig"].(map[string]any)
				if lc["LogFormat"] != "JSON" {
					t.Errorf("LoggingConfig.LogFormat = %v, want JSON", lc["LogFormat"])
				}
				lg, ok := s.json.Resources[referencedID(lc["LogGroup"])]
				if !ok || lg.Type != "AWS::Logs::LogGroup" {
					t.Fatalf("LoggingConfig.LogGroup %s is not a log group of the stack", jsonString(lc["LogGroup"]))
				}
				if lg.Properties["RetentionInDays"] != retention {
					t.Errorf("log retention %v days, want %v", lg.Properties["RetentionInDays"], retention)
				}
				env, _ := p["Environment"].(map[string]any)
				vars, _ := env["Variables"].(map[string]any)
				fromAccess := map[string]bool{}
				for res := range f.Access {
					if v := res.EnvVar(); v != "" {
						fromAccess[v] = true
						if vars[v] == nil {
							t.Errorf("no %s in the environment, though the function may use %s", v, res)
						}
					}
				}
				var stageEnv map[string]string
				if f.StageEnv != nil {
					stageEnv = f.StageEnv(stage)
				}
				for v := range vars {
					_, byStage := stageEnv[v]
					if _, extra := f.Env[v]; !fromAccess[v] && !extra && !byStage {
						t.Errorf("%s in the environment, though the function may use no resource named by it", v)
					}
				}
				if _, ok := f.Access[Table]; ok && !refersTo(vars["ACCRUE_TABLE"], s.json.ofType("AWS::DynamoDB::Table")[0]) {
					t.Errorf("ACCRUE_TABLE = %s, want the table's name", jsonString(vars["ACCRUE_TABLE"]))
				}
			})
		}
	})
}

// Least privilege: each function's role allows exactly the actions of its
// Functions entry (plus its trigger's, its log group's and X-Ray's), each on
// its own resources only; no wildcard actions, no managed policies.
func TestEachFunctionMayUseExactlyTheActionsOfItsSpec(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, _ Stage) {
		tableID := s.json.ofType("AWS::DynamoDB::Table")[0]
		keyID := tableKey(t, s.json)
		busID := s.json.ofType("AWS::Events::EventBus")[0]
		paymentsID, importsID := queueNamed(t, s.json, "PaymentsQueue"), queueNamed(t, s.json, "ImportsQueue")
		bucketObjects := []any{map[string]any{"Fn::Join": []any{"", []any{getAtt(s.json.ofType("AWS::S3::Bucket")[0], "Arn"), "/imports/*"}}}}
		eventsDLQID := onFailureQueue(t, s.json)
		wh := webhookResources(t, s.json)
		// The table and each index of the store's schema, by name.
		var indexes []string
		for _, i := range store.LocalSecondaryIndexes() {
			indexes = append(indexes, aws.ToString(i.IndexName))
		}
		for _, i := range store.GlobalSecondaryIndexes() {
			indexes = append(indexes, aws.ToString(i.IndexName))
		}
		sort.Strings(indexes)
		tableAndIndexes := []any{getAtt(tableID, "Arn")}
		for _, name := range indexes {
			tableAndIndexes = append(tableAndIndexes, map[string]any{"Fn::Join": []any{"", []any{getAtt(tableID, "Arn"), "/index/" + name}}})
		}
		arn := func(ids ...string) []any {
			var out []any
			for _, id := range ids {
				out = append(out, getAtt(id, "Arn"))
			}
			return out
		}
		for _, f := range Functions {
			t.Run(f.Name, func(t *testing.T) {
				_, fn := s.json.function(t, f.Name)
				sts, role := s.json.roleStatements(t, referencedID(fn.Properties["Role"]))
				if role.Properties["ManagedPolicyArns"] != nil {
					t.Errorf("role has managed policies %s", jsonString(role.Properties["ManagedPolicyArns"]))
				}
				_, consumesWebhooks := f.Trigger.(WebhookTrigger)

				got := map[string]bool{}
				for _, st := range sts {
					for _, a := range st.Actions {
						got[a] = true
						if strings.Contains(a, "*") {
							t.Errorf("wildcard action %q", a)
						}
						service := a[:strings.Index(a, ":")]
						onlyOn := func(what string, want ...[]any) {
							t.Helper()
							for _, w := range want {
								if sameItems(st.Resources, w) {
									return
								}
							}
							t.Errorf("%s on %s, want %s only", a, jsonString(st.Resources), what)
						}
						switch {
						case slices.Contains(st.Resources, any("*")):
							if service != "xray" && a != "dynamodb:ListStreams" {
								t.Errorf("%s on every resource (*); only X-Ray and dynamodb:ListStreams, which have no resource-level permissions, may be", a)
							}
						case slices.Contains(StreamConsumerActions, a):
							onlyOn("the table's stream", []any{getAtt(tableID, "StreamArn")})
						case service == "dynamodb":
							onlyOn("the table and its indexes, each by name", tableAndIndexes)
						case service == "kms" && reflect.DeepEqual(st.Resources, arn(wh.key)):
							// The webhook key: per action, for its purposes only.
							want := map[string]any{"StringEquals": map[string]any{"kms:EncryptionContext:purpose": anyList(f.KeyPurposes[a])}}
							if len(st.Actions) != 1 || !reflect.DeepEqual(st.Condition, want) {
								t.Errorf("%v on the webhook key with condition %s, want %s", st.Actions, jsonString(st.Condition), jsonString(want))
							}
						case service == "kms":
							onlyOn("the table key or the webhook key", arn(keyID))
							if !strings.Contains(jsonString(st.Condition), `"kms:ViaService"`) {
								t.Errorf("%s without a kms:ViaService condition", a)
							}
						case service == "events":
							onlyOn("the event bus", arn(busID))
						case a == "sqs:SendMessage" && f.Access[WebhookDeliveriesQueue] != nil:
							onlyOn("the webhook deliveries queue", arn(wh.deliveries))
						case a == "sqs:SendMessage" && f.Name == "imports":
							onlyOn("the imports queue (its continuations)", arn(importsID))
						case a == "sqs:SendMessage":
							onlyOn("the events DLQ", arn(eventsDLQID))
						case a == "sqs:ChangeMessageVisibility":
							onlyOn("the webhook deliveries queue", arn(wh.deliveries))
						case service == "sqs" && consumesWebhooks:
							onlyOn("the webhook queues", arn(wh.events, wh.deliveries))
						case service == "sqs":
							want := paymentsID
							if f.Name == "imports" {
								want = importsID
							}
							onlyOn("its own queue", arn(want))
						case service == "s3":
							if !reflect.DeepEqual(st.Resources, bucketObjects) {
								t.Errorf("%s on %s, want the imports bucket's imports/ objects only", a, jsonString(st.Resources))
							}
						}
					}
				}
				var gotList []string
				for a := range got {
					gotList = append(gotList, a)
				}
				sort.Strings(gotList)
				if want := f.Actions(); !slices.Equal(gotList, want) {
					t.Errorf("role allows\n  %v\nwant exactly\n  %v", gotList, want)
				}
			})
		}
	})
}

// sameItems reports whether a and b hold the same values, in any order.
func sameItems(a, b []any) bool {
	key := func(xs []any) []string {
		out := make([]string, len(xs))
		for i, x := range xs {
			out[i] = jsonString(x)
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

func anyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Nothing in the stack grants a wildcard action or a FullAccess policy.
func TestNoBroadPermissionsAnywhere(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, _ Stage) {
		for id, r := range s.json.Resources {
			switch r.Type {
			case "AWS::IAM::Role", "AWS::IAM::Policy":
			default:
				continue
			}
			if strings.Contains(jsonString(r.Properties["ManagedPolicyArns"]), "FullAccess") {
				t.Errorf("%s has a FullAccess managed policy", id)
			}
			var sts []statement
			if r.Type == "AWS::IAM::Role" {
				sts, _ = s.json.roleStatements(t, id)
			}
			for _, st := range sts {
				for _, a := range st.Actions {
					if a == "*" || strings.HasSuffix(a, ":*") {
						t.Errorf("%s allows %q", id, a)
					}
				}
			}
		}
	})
}

// The API serves exactly the routes of SPEC §4 and the $default route, each
// integrated with the api function through a Lambda proxy integration with
// payload format 2.0.
func TestHTTPAPIServesEveryRouteOfTheSpec(t *testing.T) {
	spec := []string{ // SPEC §4, as written there
		"GET /v1/program", "PUT /v1/program",
		"POST /v1/program/simulate",
		"POST /v1/members",
		"GET /v1/members/{id}", "PATCH /v1/members/{id}",
		"GET /v1/members/{id}/ledger",
		"POST /v1/members/{id}/activities",
		"POST /v1/members/{id}/redemptions",
		"POST /v1/members/{id}/redemptions/{rid}/capture",
		"POST /v1/members/{id}/redemptions/{rid}/cancel",
		"POST /v1/members/{id}/adjustments",
		"POST /v1/members/{id}/transfers",
		"POST /v1/members/{id}/merge",
		"GET /v1/members/{id}/data", "DELETE /v1/members/{id}/data",
		"GET /v1/rewards", "PUT /v1/rewards",
		"GET /v1/stats",
		"GET /v1/review", "POST /v1/review/{id}/approve", "POST /v1/review/{id}/reject",
		"GET /v1/rejected-events",
		"POST /v1/events",
		"GET /v1/event-types", "GET /v1/event-types/{type}", "GET /v1/event-types/{type}/versions/{version}",
		"POST /v1/keys", "GET /v1/keys", "DELETE /v1/keys/{id}",
		"GET /v1/audit",
		"POST /v1/webhooks", "GET /v1/webhooks", "GET /v1/webhooks/{id}", "PATCH /v1/webhooks/{id}", "DELETE /v1/webhooks/{id}",
		"GET /v1/webhooks/{id}/deliveries", "GET /v1/webhooks/{id}/deliveries/{delivery_id}",
		"POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry",
		"POST /v1/imports", "GET /v1/imports/{id}",
		"GET /v1/openapi.json",
		"GET /problems", "GET /problems/{slug}", // the problem types' pages
		"$default", // what none of them matches: the api function answers 404 or 405
	}
	sort.Strings(spec)
	stages(t, func(t *testing.T, s *synthStack, _ Stage) {
		apiFn, _ := s.json.function(t, "api")
		integrationID, integration := s.json.only(t, "AWS::ApiGatewayV2::Integration")
		ip := integration.Properties
		if ip["IntegrationType"] != "AWS_PROXY" || ip["PayloadFormatVersion"] != "2.0" || !refersTo(ip["IntegrationUri"], apiFn) {
			t.Errorf("integration = %s, want AWS_PROXY, payload 2.0, to the api function", jsonString(ip))
		}
		var routes []string
		for _, id := range s.json.ofType("AWS::ApiGatewayV2::Route") {
			p := s.json.Resources[id].Properties
			routes = append(routes, p["RouteKey"].(string))
			if !refersTo(p["Target"], integrationID) {
				t.Errorf("route %s is not integrated with the api function", p["RouteKey"])
			}
			if p["AuthorizationType"] != nil && p["AuthorizationType"] != "NONE" {
				t.Errorf("route %s: AuthorizationType %v; the api function authenticates the bearer key", p["RouteKey"], p["AuthorizationType"])
			}
		}
		sort.Strings(routes)
		if !slices.Equal(routes, spec) {
			t.Errorf("routes\n  %v\nwant (SPEC §4)\n  %v", routes, spec)
		}
		// API Gateway may invoke the api function, from this API only.
		check(t, "invoke permission", func() {
			s.template.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), map[string]any{
				"Action":       "lambda:InvokeFunction",
				"Principal":    "apigateway.amazonaws.com",
				"FunctionName": getAtt(apiFn, "Arn"),
				"SourceArn":    assertions.Match_AnyValue(),
			})
		})
	})
}

// Every operation of the API's OpenAPI document (shared/api/openapi.json) has
// its route: an operation added to the API but not to Routes would be answered
// 404 by API Gateway.
func TestHTTPAPIRoutesEveryOperationOfTheOpenAPIDocument(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "shared", "api", "openapi.json"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("no shared/api/openapi.json yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("shared/api/openapi.json: %v", err)
	}
	routed := map[Route]bool{}
	for _, r := range Routes {
		routed[r] = true
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			m := strings.ToUpper(method)
			if httpMethods[m] && !routed[Route{m, path}] {
				t.Errorf("the OpenAPI document has %s %s, but Routes (infra/stack/api.go) does not", m, path)
			}
		}
	}
}

var httpMethods = map[string]bool{"GET": true, "PUT": true, "POST": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true}

// The $default stage is throttled as the stage says and logs every request as
// JSON to a log group.
func TestHTTPAPIIsThrottledAndAccessLogged(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, stage Stage) {
		_, st := s.json.only(t, "AWS::ApiGatewayV2::Stage")
		p := st.Properties
		if p["StageName"] != "$default" || p["AutoDeploy"] != true {
			t.Errorf("stage %v (AutoDeploy %v), want $default, auto-deployed", p["StageName"], p["AutoDeploy"])
		}
		rs, _ := p["DefaultRouteSettings"].(map[string]any)
		if rs["ThrottlingRateLimit"] != stage.APIThrottle.RateLimit || rs["ThrottlingBurstLimit"] != stage.APIThrottle.BurstLimit {
			t.Errorf("throttling %s, want rate %v burst %v", jsonString(rs), stage.APIThrottle.RateLimit, stage.APIThrottle.BurstLimit)
		}
		als, _ := p["AccessLogSettings"].(map[string]any)
		if lg, ok := s.json.Resources[referencedID(als["DestinationArn"])]; !ok || lg.Type != "AWS::Logs::LogGroup" {
			t.Errorf("access logs go to %s, want a log group of the stack", jsonString(als["DestinationArn"]))
		}
		if f, _ := als["Format"].(string); !strings.Contains(f, "$context.requestId") || !strings.HasPrefix(f, "{") {
			t.Errorf("access log format %q, want JSON with the request id", f)
		}
	})
}

// Domain events go to a custom bus accrue-<stage>, archived for replay; the
// events function puts them there.
func TestDomainEventsBusIsArchived(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, stage Stage) {
		busID, bus := s.json.only(t, "AWS::Events::EventBus")
		if bus.Properties["Name"] != "accrue-"+stage.Name {
			t.Errorf("bus name %v, want accrue-%s", bus.Properties["Name"], stage.Name)
		}
		_, archive := s.json.only(t, "AWS::Events::Archive")
		if !refersTo(archive.Properties["SourceArn"], busID) {
			t.Errorf("archive source %s, want the bus", jsonString(archive.Properties["SourceArn"]))
		}
		days := stage.EventArchiveRetention.Hours() / 24
		if archive.Properties["RetentionDays"] != days {
			t.Errorf("archive retention %v days, want %v", archive.Properties["RetentionDays"], days)
		}
	})
}

// The event catalogue is registered in a schema registry accrue-<stage>: one
// schema per version of each event type, named accrue@<type>-v<N>, whose
// content is the catalogue's schema converted to draft 4 (the EventBridge
// event around its detail), from the same embedded files the API serves.
func TestEventSchemasAreRegistered(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, stage Stage) {
		regID, reg := s.json.only(t, "AWS::EventSchemas::Registry")
		if reg.Properties["RegistryName"] != "accrue-"+stage.Name {
			t.Errorf("registry name %v, want accrue-%s", reg.Properties["RegistryName"], stage.Name)
		}
		byName := map[string]map[string]any{}
		for _, id := range s.json.ofType("AWS::EventSchemas::Schema") {
			p := s.json.Resources[id].Properties
			byName[fmt.Sprint(p["SchemaName"])] = p
			if !refersTo(p["RegistryName"], regID) {
				t.Errorf("schema %v is not in the registry: %s", p["SchemaName"], jsonString(p["RegistryName"]))
			}
		}
		for _, sch := range eventschema.All() {
			name := fmt.Sprintf("accrue@%s-v%d", sch.Type, sch.Version)
			p, ok := byName[name]
			if !ok {
				t.Errorf("no schema %s in the registry", name)
				continue
			}
			want, err := sch.EventBridgeDraft4()
			if err != nil {
				t.Fatal(err)
			}
			if p["Type"] != "JSONSchemaDraft4" || p["Content"] != string(want) {
				t.Errorf("schema %s: type %v, content %.200v…, want JSONSchemaDraft4 and the catalogue's draft 4 document", name, p["Type"], p["Content"])
			}
			if len(want) > 100_000 {
				t.Errorf("schema %s: %d bytes of content", name, len(want))
			}
		}
		if len(byName) != len(eventschema.All()) {
			t.Errorf("%d schemas registered, the catalogue has %d", len(byName), len(eventschema.All()))
		}
	})
}

// Alarms: the DLQs not empty, payments queue age, each function's errors and
// throttles, the stream consumers' iterator age, API 5xx; all notify the
// alarm topic.
func TestAlarmsCoverFailuresAndNotifyTheTopic(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, stage Stage) {
		topicID, _ := s.json.only(t, "AWS::SNS::Topic")
		type key struct{ ns, metric, target string }
		have := map[key]map[string]any{}
		for _, id := range s.json.ofType("AWS::CloudWatch::Alarm") {
			p := s.json.Resources[id].Properties
			if !refersTo(p["AlarmActions"], topicID) {
				t.Errorf("alarm %v does not notify the alarm topic", p["AlarmName"])
			}
			target := ""
			for _, d := range list(p["Dimensions"]) {
				target += referencedID(d.(map[string]any)["Value"])
			}
			have[key{p["Namespace"].(string), p["MetricName"].(string), target}] = p
		}
		want := func(ns, metric, target string, threshold float64) {
			t.Helper()
			p, ok := have[key{ns, metric, target}]
			if !ok {
				t.Errorf("no alarm on %s %s of %s", ns, metric, target)
				return
			}
			if p["Threshold"] != threshold {
				t.Errorf("alarm %v: threshold %v, want %v", p["AlarmName"], p["Threshold"], threshold)
			}
		}
		payments := paymentsQueue(t, s.json)
		for dlq := range deadLetterQueues(s.json) {
			want("AWS/SQS", "ApproximateNumberOfMessagesVisible", dlq, 1)
		}
		wh := webhookResources(t, s.json)
		want("AWS/SQS", "ApproximateAgeOfOldestMessage", wh.events, stage.Alarms.WebhookEventsAge.Seconds())
		want("AWS/SQS", "ApproximateNumberOfMessagesVisible", wh.deliveries, stage.Alarms.WebhookBacklog)
		want("Accrue", "WebhookDeliveries", "", stage.Alarms.WebhookDead)
		if p := have[key{"Accrue", "WebhookDeliveries", ""}]; p != nil && !reflect.DeepEqual(p["Dimensions"], []any{map[string]any{"Name": "Outcome", "Value": "dead"}}) {
			t.Errorf("the dead deliveries alarm's dimensions %s, want Outcome=dead", jsonString(p["Dimensions"]))
		}
		want("AWS/SQS", "ApproximateAgeOfOldestMessage", payments, stage.Alarms.PaymentsQueueAge.Seconds())
		for _, consumer := range []string{"events", "stats"} {
			id, _ := s.json.function(t, consumer)
			want("AWS/Lambda", "IteratorAge", id, 5*60*1000) // 5 minutes, in ms
			if p := have[key{"AWS/Lambda", "IteratorAge", id}]; p != nil && p["Statistic"] != "Maximum" {
				t.Errorf("%s's iterator age alarm on the %v, want the Maximum", consumer, p["Statistic"])
			}
		}
		for _, f := range Functions {
			id, _ := s.json.function(t, f.Name)
			want("AWS/Lambda", "Errors", id, stage.Alarms.FunctionErrors)
			want("AWS/Lambda", "Throttles", id, stage.Alarms.FunctionThrottles)
		}
		apiID, _ := s.json.only(t, "AWS::ApiGatewayV2::Api")
		want("AWS/ApiGateway", "5xx", apiID, stage.Alarms.API5xx)
	})
}

// The dashboard shows ingest throughput, errors, the queues and the API.
func TestDashboardShowsTheMainSignals(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, _ Stage) {
		_, d := s.json.only(t, "AWS::CloudWatch::Dashboard")
		body := jsonString(d.Properties["DashboardBody"])
		for _, w := range []string{
			"Ingest throughput", "NumberOfMessagesDeleted", "RejectedEvents",
			"Payments queue", "ApproximateAgeOfOldestMessage",
			"Function errors and throttles", "API latency", "5xx",
			"IteratorAge", "events DLQ depth",
			"Webhook attempts", "attempts dead", "webhook DLQ depth",
		} {
			if !strings.Contains(body, w) {
				t.Errorf("dashboard has no %q", w)
			}
		}
	})
}

// The outputs an operator needs after `cdk deploy`.
func TestOutputsNameTheEntryPoints(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, _ Stage) {
		for _, o := range []string{"ApiUrl", "PaymentsQueueUrl", "PaymentsDLQUrl", "EventsDLQUrl", "EventBusName", "TableName", "AlarmTopicArn", "WebhookDLQUrl"} {
			if _, ok := s.json.Outputs[o]; !ok {
				t.Errorf("no output %s", o)
			}
		}
	})
}

// deadLetterQueues are the queues of the template that are the dead-letter
// queue of another queue or the on-failure destination of an event source
// mapping.
func deadLetterQueues(t cfnTemplate) map[string]bool {
	queues := t.ofType("AWS::SQS::Queue")
	dlqs := map[string]bool{}
	for _, id := range queues {
		if rp, ok := t.Resources[id].Properties["RedrivePolicy"].(map[string]any); ok {
			for _, other := range queues {
				if refersTo(rp["deadLetterTargetArn"], other) {
					dlqs[other] = true
				}
			}
		}
	}
	for _, id := range t.ofType("AWS::Lambda::EventSourceMapping") {
		if dc, ok := t.Resources[id].Properties["DestinationConfig"]; ok {
			for _, q := range queues {
				if refersTo(dc, q) {
					dlqs[q] = true
				}
			}
		}
	}
	return dlqs
}

// onFailureQueue is the one queue that is an event source mapping's
// on-failure destination (the events DLQ).
func onFailureQueue(tb testing.TB, t cfnTemplate) string {
	tb.Helper()
	var ids []string
	for id := range deadLetterQueues(t) {
		if t.Resources[id].Properties["RedrivePolicy"] == nil && !slices.ContainsFunc(t.ofType("AWS::SQS::Queue"), func(q string) bool {
			rp, _ := t.Resources[q].Properties["RedrivePolicy"].(map[string]any)
			return refersTo(rp["deadLetterTargetArn"], id)
		}) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		tb.Fatalf("want one on-failure queue, have %v", ids)
	}
	return ids[0]
}

// referencedID is the logical id in a Ref or Fn::GetAtt value ("" otherwise).
func referencedID(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if id, ok := m["Ref"].(string); ok {
		return id
	}
	if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
		id, _ := ga[0].(string)
		return id
	}
	return ""
}

func keySchemaJSON(ks []types.KeySchemaElement) []any {
	var out []any
	for _, k := range ks {
		out = append(out, map[string]any{"AttributeName": aws.ToString(k.AttributeName), "KeyType": string(k.KeyType)})
	}
	return out
}

// The scheduled jobs of the deployed stack: the member jobs every 5 minutes,
// the stats roll-up every 15, each rule invoking its own function.
func TestScheduledJobsRunOnTheirSchedules(t *testing.T) {
	want := map[string]string{"jobs": "rate(5 minutes)", "rollup": "rate(15 minutes)"}
	stages(t, func(t *testing.T, s *synthStack, _ Stage) {
		got := map[string]string{}
		for _, id := range s.json.ofType("AWS::Events::Rule") {
			rule := s.json.Resources[id]
			for _, target := range list(rule.Properties["Targets"]) {
				for name := range want {
					if fnID, _ := s.json.function(t, name); reflect.DeepEqual(target.(map[string]any)["Arn"], getAtt(fnID, "Arn")) {
						got[name], _ = rule.Properties["ScheduleExpression"].(string)
					}
				}
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("schedules %v, want %v", got, want)
		}
	})
}

// The payments queue's mapping runs at most the stage's number of ingest
// batches at once (ScalingConfig.MaximumConcurrency), and no more than the
// ingest function's reserved concurrency: a backlog waits in the queue, it is
// neither throttled (a throttled batch counts as a receive, towards the DLQ)
// nor taking the account's concurrency from the API.
func TestIngestMappingConcurrencyComesFromTheStage(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, stage Stage) {
		fnID, fn := s.json.function(t, "ingest")
		sc, _ := s.json.eventSourceMapping(t, fnID).Properties["ScalingConfig"].(map[string]any)
		if got, want := sc["MaximumConcurrency"], float64(stage.Concurrency.QueueMax); got != want {
			t.Errorf("ScalingConfig.MaximumConcurrency = %v, want the stage's %v", got, want)
		}
		if max, reserved := sc["MaximumConcurrency"], fn.Properties["ReservedConcurrentExecutions"]; max == nil || reserved == nil || max.(float64) > reserved.(float64) {
			t.Errorf("mapping maximum concurrency %v above ingest's reserved concurrency %v", max, reserved)
		}
	})
}

// Every function has the reserved concurrency its stage gives it, so none can
// take the whole account (ingest at a billing-day peak) and each keeps what it
// needs (the API); together they leave the 100 Lambda keeps unreserved of the
// account concurrency the stage is sized for.
func TestFunctionsHaveTheStagesReservedConcurrency(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, stage Stage) {
		total := 0.0
		for _, f := range Functions {
			_, fn := s.json.function(t, f.Name)
			got, _ := fn.Properties["ReservedConcurrentExecutions"].(float64)
			if want := stage.Concurrency.Reserved[f.Name]; want < 1 || got != float64(want) {
				t.Errorf("%s: ReservedConcurrentExecutions %v, want the stage's %d (at least 1)", f.Name, fn.Properties["ReservedConcurrentExecutions"], want)
			}
			total += got
		}
		if left := float64(stage.Concurrency.Account) - total; left < UnreservedMin {
			t.Errorf("%v reserved of %d leaves %v unreserved, Lambda requires %d", total, stage.Concurrency.Account, left, UnreservedMin)
		}
		// The API's share: at least the concurrency of its stage throttle's
		// rate at 100 ms a request.
		if _, api := s.json.function(t, "api"); api.Properties["ReservedConcurrentExecutions"].(float64) < stage.APIThrottle.RateLimit/10 {
			t.Errorf("api reserves %v, less than %v requests/s at 100 ms each", api.Properties["ReservedConcurrentExecutions"], stage.APIThrottle.RateLimit)
		}
	})
}

// What no explicit route matches reaches the api function through the
// $default route, with the same integration (and invoke permission) as the
// routes, no authorizer (the function authenticates), and a throttle of its
// own, lower than the routes' (the stage waits for the route: API Gateway
// refuses route settings of a route it does not have yet).
func TestHTTPAPIDefaultRouteReachesTheAPIFunction(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, stage Stage) {
		integrationID, _ := s.json.only(t, "AWS::ApiGatewayV2::Integration")
		apiID, _ := s.json.only(t, "AWS::ApiGatewayV2::Api")
		var routeID string
		for _, id := range s.json.ofType("AWS::ApiGatewayV2::Route") {
			if s.json.Resources[id].Properties["RouteKey"] == DefaultRouteKey {
				routeID = id
			}
		}
		if routeID == "" {
			t.Fatal("no $default route")
		}
		p := s.json.Resources[routeID].Properties
		if !reflect.DeepEqual(p["Target"], map[string]any{"Fn::Join": []any{"", []any{"integrations/", ref(integrationID)}}}) {
			t.Errorf("$default route target %s, want the api function's integration", jsonString(p["Target"]))
		}
		if p["AuthorizationType"] != nil && p["AuthorizationType"] != "NONE" {
			t.Errorf("$default route AuthorizationType %v", p["AuthorizationType"])
		}

		_, st := s.json.only(t, "AWS::ApiGatewayV2::Stage")
		rs, _ := st.Properties["RouteSettings"].(map[string]any)
		want := map[string]any{DefaultRouteKey: map[string]any{
			"ThrottlingRateLimit":  stage.APIUnmatchedThrottle.RateLimit,
			"ThrottlingBurstLimit": stage.APIUnmatchedThrottle.BurstLimit,
		}}
		if !reflect.DeepEqual(rs, want) {
			t.Errorf("stage RouteSettings %s, want %s", jsonString(rs), jsonString(want))
		}
		if !slices.Contains(list(st.DependsOn), any(routeID)) {
			t.Errorf("stage DependsOn %v, want the $default route %s", st.DependsOn, routeID)
		}

		// API Gateway may invoke the api function for every route of the
		// API: the integration's permission covers {api}/{stage}/{method}/
		// {path}, and the $default route's requests come as
		// {api}/{stage}/$default, which needs its own.
		apiFn, _ := s.json.function(t, "api")
		var sources []string
		for _, id := range s.json.ofType("AWS::Lambda::Permission") {
			pp := s.json.Resources[id].Properties
			if pp["Principal"] != "apigateway.amazonaws.com" || !reflect.DeepEqual(pp["FunctionName"], getAtt(apiFn, "Arn")) {
				continue
			}
			join, _ := pp["SourceArn"].(map[string]any)["Fn::Join"].([]any)
			if len(join) != 2 || !refersTo(pp["SourceArn"], apiID) || pp["Action"] != "lambda:InvokeFunction" {
				t.Errorf("invoke permission %s, want lambda:InvokeFunction from this API", jsonString(pp))
				continue
			}
			elems := list(join[1])
			sources = append(sources, fmt.Sprint(elems[len(elems)-1]))
		}
		sort.Strings(sources)
		if want := []string{"/*/$default", "/*/*/*"}; !slices.Equal(sources, want) {
			t.Errorf("API Gateway invoke permissions for {api}%v, want %v", sources, want)
		}
	})
}

// Behind the $default route, the api function answers as the local API does:
// API Gateway passes the request as it came (route key $default), and the
// handler, through the same adapter as functions/api, answers a wrong method
// on a known path 405 method-not-allowed with Allow, and an unknown path 404
// not-found, both as problem+json.
func TestDefaultRouteRequestsGetTheLocalAnswers(t *testing.T) {
	proxy := httpadapter.NewV2(api.New(api.Deps{Log: slog.New(slog.DiscardHandler)}))
	for _, c := range []struct {
		method, path string
		status       int
		problem      string
		allow        string
	}{
		{"PUT", "/v1/members/m1", 405, "method-not-allowed", "GET, PATCH"},
		{"DELETE", "/v1/program", 405, "method-not-allowed", "GET, PUT"},
		{"GET", "/v1/events", 405, "method-not-allowed", "POST"},
		{"GET", "/v1/nope", 404, "not-found", ""},
		{"POST", "/", 404, "not-found", ""},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			ev := events.APIGatewayV2HTTPRequest{
				Version:  "2.0",
				RouteKey: DefaultRouteKey,
				RawPath:  c.path,
				Headers:  map[string]string{"accept": "application/json"},
				RequestContext: events.APIGatewayV2HTTPRequestContext{
					RouteKey:  DefaultRouteKey,
					Stage:     "$default",
					RequestID: "test",
					HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: c.method, Path: c.path, Protocol: "HTTP/1.1", SourceIP: "192.0.2.1"},
				},
			}
			res, err := proxy.ProxyWithContext(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != c.status {
				t.Errorf("status %d, want %d: %s", res.StatusCode, c.status, res.Body)
			}
			if ct := res.Headers["Content-Type"]; ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			var body struct {
				Type   string `json:"type"`
				Status int    `json:"status"`
			}
			if err := json.Unmarshal([]byte(res.Body), &body); err != nil || body.Type != api.ProblemBase+c.problem || body.Status != c.status {
				t.Errorf("body %s (%v), want the %s problem", res.Body, err, c.problem)
			}
			if got := res.Headers["Allow"]; got != c.allow {
				t.Errorf("Allow %q, want %q", got, c.allow)
			}
		})
	}
}

// projectionJSON is an index projection as the template has it.
func projectionJSON(p *types.Projection) map[string]any {
	out := map[string]any{"ProjectionType": string(p.ProjectionType)}
	if len(p.NonKeyAttributes) > 0 {
		attrs := make([]any, len(p.NonKeyAttributes))
		for i, a := range p.NonKeyAttributes {
			attrs[i] = a
		}
		out["NonKeyAttributes"] = attrs
	}
	return out
}

// queueNamed is the queue whose logical id starts with construct id name.
func queueNamed(tb testing.TB, t cfnTemplate, name string) string {
	tb.Helper()
	for _, id := range t.ofType("AWS::SQS::Queue") {
		if strings.HasPrefix(id, name) && !strings.HasPrefix(id, strings.TrimSuffix(name, "Queue")+"DLQ") {
			return id
		}
	}
	tb.Fatalf("no queue %s", name)
	return ""
}

// The bulk imports' bucket: encrypted (S3-managed), no public access, TLS
// only, uploads expired after a week; it notifies the imports queue of the
// objects created under imports/, which S3 may send to from this bucket
// only; the imports function consumes the queue one message at a time,
// with a visibility of six times its timeout and a DLQ; the api function
// learns the bucket's name.
func TestImportsBucketNotifiesTheImportsFunction(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, stage Stage) {
		bucketID, bucket := s.json.only(t, "AWS::S3::Bucket")
		p := bucket.Properties
		enc := jsonString(p["BucketEncryption"])
		if !strings.Contains(enc, `"SSEAlgorithm":"AES256"`) {
			t.Errorf("bucket encryption %s, want S3-managed", enc)
		}
		pab, _ := p["PublicAccessBlockConfiguration"].(map[string]any)
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if pab[k] != true {
				t.Errorf("public access block %s = %v", k, pab[k])
			}
		}
		lc := jsonString(p["LifecycleConfiguration"])
		if !strings.Contains(lc, fmt.Sprintf(`"ExpirationInDays":%d`, imports.UploadExpiryDays)) || !strings.Contains(lc, `"AbortIncompleteMultipartUpload"`) {
			t.Errorf("lifecycle %s", lc)
		}
		if name := jsonString(p["BucketName"]); !strings.Contains(name, "accrue-"+stage.Name+"-imports") {
			t.Errorf("bucket name %s", name)
		}
		_, policy := s.json.only(t, "AWS::S3::BucketPolicy")
		if bp := jsonString(policy.Properties["PolicyDocument"]); !strings.Contains(bp, `"aws:SecureTransport":"false"`) || !strings.Contains(bp, `"Effect":"Deny"`) {
			t.Errorf("bucket policy does not deny plain HTTP: %s", bp)
		}

		queueID := queueNamed(t, s.json, "ImportsQueue")
		nc := p["NotificationConfiguration"].(map[string]any)
		qcs := list(nc["QueueConfigurations"])
		if len(qcs) != 1 || !refersTo(qcs[0], queueID) || !strings.Contains(jsonString(qcs[0]), `"Event":"s3:ObjectCreated:*"`) ||
			!strings.Contains(jsonString(qcs[0]), `{"Name":"prefix","Value":"imports/"}`) {
			t.Errorf("notification %s, want objects created under imports/ to the imports queue", jsonString(nc))
		}
		var queuePolicy string
		for _, id := range s.json.ofType("AWS::SQS::QueuePolicy") {
			if refersTo(s.json.Resources[id].Properties["Queues"], queueID) {
				queuePolicy = id
				doc := jsonString(s.json.Resources[id].Properties["PolicyDocument"])
				if !strings.Contains(doc, `"Service":"s3.amazonaws.com"`) || !strings.Contains(doc, `"aws:SourceArn"`) || !strings.Contains(doc, `"aws:SourceAccount"`) {
					t.Errorf("imports queue policy %s, want S3 of this bucket and account only", doc)
				}
			}
		}
		if deps := jsonString(bucket.DependsOn); queuePolicy == "" || !strings.Contains(deps, queuePolicy) {
			t.Errorf("the bucket (DependsOn %s) must be created after the queue's policy %s: S3 checks it may send", deps, queuePolicy)
		}

		fnID, fn := s.json.function(t, "imports")
		if fn.Properties["Timeout"] != imports.FunctionTimeout.Seconds() {
			t.Errorf("imports timeout %v", fn.Properties["Timeout"])
		}
		q := s.json.Resources[queueID].Properties
		if vis, _ := q["VisibilityTimeout"].(float64); vis < 6*imports.FunctionTimeout.Seconds() {
			t.Errorf("imports queue visibility %v < 6 x the function's timeout", vis)
		}
		var mapped bool
		for _, id := range s.json.ofType("AWS::Lambda::EventSourceMapping") {
			m := s.json.Resources[id].Properties
			if refersTo(m["EventSourceArn"], queueID) {
				mapped = true
				sc, _ := m["ScalingConfig"].(map[string]any)
				if !refersTo(m["FunctionName"], fnID) || m["BatchSize"] != float64(1) || sc["MaximumConcurrency"] != float64(stage.Concurrency.Reserved["imports"]) ||
					!strings.Contains(jsonString(m["FunctionResponseTypes"]), "ReportBatchItemFailures") {
					t.Errorf("imports queue mapping %s", jsonString(m))
				}
			}
		}
		if !mapped {
			t.Error("nothing consumes the imports queue")
		}
		for _, name := range []string{"api", "imports"} {
			_, f := s.json.function(t, name)
			env := jsonString(f.Properties["Environment"])
			if !strings.Contains(env, imports.EnvBucket) || !strings.Contains(env, bucketID) {
				t.Errorf("%s does not learn the bucket: %s", name, env)
			}
		}
	})
}
