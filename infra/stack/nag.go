package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// AddNagChecks runs cdk-nag's AwsSolutions rules over scope (the app) when it
// is synthesized: each finding becomes an error or warning annotation of its
// resource, which `cdk synth` prints (and, for an error, fails on). What the
// stack deliberately does otherwise is suppressed on the resource concerned,
// with the reason (nagSuppressions).
func AddNagChecks(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
		Verbose: jsii.Bool(true),
		Reports: jsii.Bool(false),
	}), &awscdk.AspectOptions{Priority: awscdk.AspectPriority_READONLY()})
}

// The stack's cdk-nag suppressions, each on the one resource it concerns and,
// where the rule reports findings (IAM5), on the one finding.

// suppress adds a suppression of rule on construct c (its CloudFormation
// resource) with reason; appliesTo narrows it to those findings of the rule.
func suppress(c constructs.IConstruct, rule, reason string, appliesTo ...string) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		as := make([]any, len(appliesTo))
		for i, a := range appliesTo {
			as[i] = a
		}
		s.AppliesTo = &as
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(false))
}

// Reasons of the suppressions.
const (
	nagRouteAuthorization = "The api function authenticates every request itself: a bearer API key of a " +
		"partner (package keys: stored hashed, with its role), checked before any handler runs; an API Gateway " +
		"authorizer would be a second Lambda invocation per request for the same lookup. The $default route " +
		"reaches only the 404/405 answers, and GET /v1/openapi.json is public by design."
	nagXRay = "X-Ray's xray:PutTraceSegments and xray:PutTelemetryRecords have no resource-level permissions " +
		"(CDK adds them for active tracing): * is the only resource they take."
	nagListStreams = "dynamodb:ListStreams has no resource-level permissions: * is the only resource it takes. " +
		"Reading the stream (DescribeStream, GetRecords, GetShardIterator) is on the table's stream ARN only."
	nagImportObjects = "The imports bucket holds one object per import (imports/{partner}/{import id}): the api " +
		"function signs PUTs of them (s3:PutObject) and the imports function reads them (s3:GetObject), so the grant " +
		"is on the objects of the imports/ prefix of that one bucket, with one exact action; no other bucket, no listing."
	nagImportsAccessLogs = "Uploads to the imports bucket are authorized one object at a time by presigned URLs " +
		"the api function signs for an admin key, which the import's job item and its audit record (who, when, which " +
		"import) already record; the objects expire after a week. A second bucket of access logs would record " +
		"nothing more; CloudTrail data events can be enabled on the bucket for more."
	nagEventsDLQ = "This queue is a dead-letter queue: the on-failure destination of the events function's " +
		"stream event source mapping (DestinationConfig), which cdk-nag does not recognise as one, only redrive " +
		"policies. Its messages are alarmed when visible."
	nagPartnerEventsDLQ = "This queue is a dead-letter queue: the DeadLetterConfig of the partner forwarding rules' " +
		"targets (partners' event buses), which cdk-nag does not recognise as one, only redrive policies. Its " +
		"messages are alarmed when visible."
)

// suppressXRay suppresses, on fn's role's default policy (where CDK puts the
// X-Ray statement of active tracing), the wildcard resource of X-Ray.
func suppressXRay(role constructs.IConstruct) {
	if p := role.Node().TryFindChild(jsii.String("DefaultPolicy")); p != nil {
		suppress(p, "AwsSolutions-IAM5", nagXRay, "Resource::*")
	}
}
