package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// cdk-nag's AwsSolutions pack, as infra/main.go applies it, finds nothing
// unsuppressed in either stage: no error and no warning. (An error would
// already have failed the fixture's synthesis: CDK refuses to synthesize an
// app with error annotations.)
func TestCdkNagAwsSolutionsFindsNothingUnsuppressed(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, _ Stage) {
		for level, ms := range nagFindings(s.stack) {
			if len(ms) > 0 {
				t.Errorf("%d cdk-nag %ss:\n%s", len(ms), level, strings.Join(ms, "\n"))
			}
		}
	})
}

// The checks report what they should: a queue without a DLQ that allows
// plain HTTP, in an app of its own, fails its synthesis with both findings
// in CDK's validation report.
func TestCdkNagChecksReportFindings(t *testing.T) {
	dir := t.TempDir()
	app, err := newTestApp(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := awscdk.NewStack(app, jsii.String("nag-canary"), nil)
	awssqs.NewQueue(st, jsii.String("Plain"), &awssqs.QueueProps{Encryption: awssqs.QueueEncryption_UNENCRYPTED})
	AddNagChecks(app)
	synthErr := func() (err any) {
		defer func() { err = recover() }()
		app.Synth(nil)
		return nil
	}()
	if synthErr == nil || !strings.Contains(fmt.Sprint(synthErr), "ValidationFailed") {
		t.Fatalf("synthesis of a stack with cdk-nag errors: %v, want ValidationFailed", synthErr)
	}
	report, err := os.ReadFile(filepath.Join(dir, "validation-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range []string{"AwsSolutions-SQS3", "AwsSolutions-SQS4"} {
		if !strings.Contains(string(report), rule) {
			t.Errorf("no %s in the validation report:\n%s", rule, report)
		}
	}
}

// nagFindings are the cdk-nag annotations of st's resources, by level.
func nagFindings(st awscdk.Stack) map[string][]string {
	ann := assertions.Annotations_FromStack(st)
	rule := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	return map[string][]string{
		"error":   messages(ann.FindError(jsii.String("*"), rule)),
		"warning": messages(ann.FindWarning(jsii.String("*"), rule)),
	}
}

// messages renders the synthesis messages the assertions found as "id: text"
// (the first line of a string message). They are read through their JSON form:
// the Go type the assertions API returns (cxapi.SynthesisMessage) is
// deprecated in favour of one the Go bindings do not have yet.
func messages[M any](ms *[]M) []string {
	var out []string
	for _, m := range *ms {
		var msg struct {
			ID    string `json:"id"`
			Entry struct {
				Data any `json:"data"`
			} `json:"entry"`
		}
		b, err := json.Marshal(m)
		if err == nil {
			err = json.Unmarshal(b, &msg)
		}
		if err != nil {
			out = append(out, fmt.Sprintf("unreadable synthesis message %v: %v", m, err))
			continue
		}
		text := fmt.Sprint(msg.Entry.Data)
		if s, ok := msg.Entry.Data.(string); ok {
			text, _, _ = strings.Cut(s, "\n")
		}
		out = append(out, msg.ID+": "+text)
	}
	sort.Strings(out)
	return out
}

// nagSuppression is one entry of a resource's Metadata.cdk_nag.rules_to_suppress.
type nagSuppression struct {
	resource, rule, reason string
	appliesTo              []string
}

func nagSuppressionsOf(t cfnTemplate) []nagSuppression {
	var out []nagSuppression
	for id, r := range t.Resources {
		nag, _ := r.Metadata["cdk_nag"].(map[string]any)
		for _, s := range list(nag["rules_to_suppress"]) {
			m := s.(map[string]any)
			ns := nagSuppression{resource: id}
			ns.rule, _ = m["id"].(string)
			ns.reason, _ = m["reason"].(string)
			for _, a := range list(m["applies_to"]) {
				ns.appliesTo = append(ns.appliesTo, fmt.Sprint(a))
			}
			out = append(out, ns)
		}
	}
	return out
}

// Every cdk-nag suppression is on the one resource it concerns, with its
// reason, and for IAM5 on the one finding: APIG4 (no API Gateway authorizer)
// on the API's routes, IAM5 for the "*" resource on the X-Ray statements of
// the functions' default policies and on the stream consumers'
// dynamodb:ListStreams, SQS3 on the events DLQ (an event source mapping's
// on-failure destination), S1 (no access logs) on the imports bucket, IAM5
// for the imports/ objects of the imports bucket on the two roles that use
// them. None is stack-wide, and there are no others.
func TestCdkNagSuppressionsAreNarrowWithReasons(t *testing.T) {
	stages(t, func(t *testing.T, s *synthStack, _ Stage) {
		if _, ok := s.json.Metadata["cdk_nag"]; ok {
			t.Errorf("stack-wide cdk-nag suppressions: %s", jsonString(s.json.Metadata["cdk_nag"]))
		}
		eventsDLQ := onFailureQueue(t, s.json)
		consumerRoles := map[string]bool{} // the stream consumers' roles
		for _, f := range Functions {
			if _, ok := f.Trigger.(StreamTrigger); ok {
				id, _ := s.json.function(t, f.Name)
				consumerRoles[referencedID(s.json.Resources[id].Properties["Role"])] = true
			}
		}
		count := map[string]int{}
		for _, ns := range nagSuppressionsOf(s.json) {
			r := s.json.Resources[ns.resource]
			where := fmt.Sprintf("%s %s (%s)", ns.rule, ns.resource, r.Type)
			if len(ns.reason) < 60 {
				t.Errorf("%s: reason %q says too little", where, ns.reason)
			}
			switch {
			case ns.rule == "AwsSolutions-APIG4" && r.Type == "AWS::ApiGatewayV2::Route" && ns.appliesTo == nil:
				count["route"]++
			case ns.rule == "AwsSolutions-IAM5" && slices.Equal(ns.appliesTo, []string{"Resource::*"}) &&
				(r.Type == "AWS::IAM::Policy" || consumerRoles[ns.resource]):
				// The statements on "*" are exactly X-Ray's, or ListStreams.
				var onAll []string
				for _, st := range policyStatements(t, s.json, ns.resource) {
					if slices.Contains(st.Resources, any("*")) {
						onAll = append(onAll, st.Actions...)
					}
				}
				sort.Strings(onAll)
				want := TracingActions
				if r.Type == "AWS::IAM::Role" {
					want = StreamListActions
				}
				if !reflect.DeepEqual(onAll, want) {
					t.Errorf("%s: the statements on * allow %v, want only %v", where, onAll, want)
				}
				count[r.Type]++
			case ns.rule == "AwsSolutions-SQS3" && ns.resource == eventsDLQ && ns.appliesTo == nil:
				count["events DLQ"]++
			case ns.rule == "AwsSolutions-S1" && r.Type == "AWS::S3::Bucket" && ns.appliesTo == nil:
				count["imports bucket"]++
			case ns.rule == "AwsSolutions-IAM5" && r.Type == "AWS::IAM::Role" && len(ns.appliesTo) == 1 &&
				strings.HasPrefix(ns.appliesTo[0], "Resource::<ImportsBucket") && strings.HasSuffix(ns.appliesTo[0], ".Arn>/imports/*"):
				// The statements on the bucket's objects are exactly the one
				// S3 action of the function.
				for _, st := range policyStatements(t, s.json, ns.resource) {
					if strings.Contains(jsonString(st.Resources), "/imports/*") && (len(st.Actions) != 1 || !strings.HasPrefix(st.Actions[0], "s3:")) {
						t.Errorf("%s: the statement on the imports objects allows %v", where, st.Actions)
					}
				}
				count["imports objects"]++
			default:
				t.Errorf("unexpected suppression %s applying to %v: %q", where, ns.appliesTo, ns.reason)
			}
		}
		want := map[string]int{
			"route":            len(Routes) + 1, // and $default
			"AWS::IAM::Policy": len(Functions),
			"AWS::IAM::Role":   len(consumerRoles), // the stream consumers' (events, stats)
			"events DLQ":       1,
			"imports bucket":   1,
			"imports objects":  2, // the api function's PutObject, the imports function's GetObject
		}
		if !reflect.DeepEqual(count, want) {
			t.Errorf("suppressions %v, want %v", count, want)
		}
	})
}

// policyStatements are the statements of an AWS::IAM::Policy's document, or
// of a role's inline policies.
func policyStatements(t *testing.T, tpl cfnTemplate, id string) []statement {
	t.Helper()
	r := tpl.Resources[id]
	if r.Type == "AWS::IAM::Role" {
		var sts []statement
		for _, p := range list(r.Properties["Policies"]) {
			sts = append(sts, documentStatements(p.(map[string]any)["PolicyDocument"])...)
		}
		return sts
	}
	return documentStatements(r.Properties["PolicyDocument"])
}

func documentStatements(doc any) []statement {
	var sts []statement
	for _, s := range list(doc.(map[string]any)["Statement"]) {
		m := s.(map[string]any)
		st := statement{Resources: list(m["Resource"])}
		for _, a := range list(m["Action"]) {
			st.Actions = append(st.Actions, a.(string))
		}
		sts = append(sts, st)
	}
	return sts
}
