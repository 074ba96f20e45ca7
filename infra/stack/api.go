package stack

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Route is one route of the HTTP API.
type Route struct {
	Method string // GET, POST, PUT, PATCH, DELETE
	Path   string // with {param} path parameters
}

// Routes are the routes of SPEC §4, each an explicit route of the HTTP API
// integrated with the api function: a path the API does not serve is answered
// 404 by API Gateway without invoking (and paying for) the function.
var Routes = []Route{
	{"GET", "/v1/program"},
	{"PUT", "/v1/program"},
	{"POST", "/v1/program/simulate"},
	{"POST", "/v1/members"},
	{"GET", "/v1/members/{id}"},
	{"PATCH", "/v1/members/{id}"},
	{"GET", "/v1/members/{id}/ledger"},
	{"POST", "/v1/members/{id}/activities"},
	{"POST", "/v1/members/{id}/redemptions"},
	{"POST", "/v1/members/{id}/redemptions/{rid}/capture"},
	{"POST", "/v1/members/{id}/redemptions/{rid}/cancel"},
	{"POST", "/v1/members/{id}/adjustments"},
	{"GET", "/v1/members/{id}/data"},
	{"DELETE", "/v1/members/{id}/data"},
	{"GET", "/v1/rewards"},
	{"PUT", "/v1/rewards"},
	{"GET", "/v1/stats"},
	{"GET", "/v1/review"},
	{"POST", "/v1/review/{id}/approve"},
	{"POST", "/v1/review/{id}/reject"},
	{"GET", "/v1/rejected-events"},
	{"POST", "/v1/events"},
	{"GET", "/v1/openapi.json"},
}

// accessLogFormat is the JSON line API Gateway writes per request.
var accessLogFormat = func() string {
	b, err := json.Marshal(map[string]string{
		"requestId":          "$context.requestId",
		"requestTime":        "$context.requestTime",
		"ip":                 "$context.identity.sourceIp",
		"method":             "$context.httpMethod",
		"routeKey":           "$context.routeKey",
		"path":               "$context.path",
		"status":             "$context.status",
		"protocol":           "$context.protocol",
		"responseLength":     "$context.responseLength",
		"latencyMs":          "$context.responseLatency",
		"integrationLatency": "$context.integrationLatency",
		"integrationStatus":  "$context.integrationStatus",
		"integrationError":   "$context.integrationErrorMessage",
		"error":              "$context.error.message",
		"userAgent":          "$context.identity.userAgent",
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// httpAPI is the API and its one stage.
type httpAPI struct {
	api   awsapigatewayv2.HttpApi
	stage awsapigatewayv2.HttpStage
}

// newHTTPAPI creates the HTTP API with every route of routes integrated with
// handler (Lambda proxy, payload format 2.0), and its $default stage with
// throttling and JSON access logs.
func newHTTPAPI(scope constructs.Construct, stage Stage, handler awslambda.IFunction, routes []Route) httpAPI {
	api := awsapigatewayv2.NewHttpApi(scope, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		ApiName:            jsii.String("accrue-" + stage.Name),
		Description:        jsii.String("Accrue partner API (" + stage.Name + ")"),
		CreateDefaultStage: jsii.Bool(false),
	})

	accessLogs := awslogs.NewLogGroup(scope, jsii.String("HttpApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     stage.LogRetention,
		RemovalPolicy: stage.RemovalPolicy,
	})
	st := awsapigatewayv2.NewHttpStage(scope, jsii.String("HttpApiDefaultStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    api,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(stage.APIThrottle.RateLimit),
			BurstLimit: jsii.Number(stage.APIThrottle.BurstLimit),
		},
	})
	// The L2 stage's accessLogSettings is a jsii interface; the L1 property
	// says the same in two fields.
	st.Node().DefaultChild().(awsapigatewayv2.CfnStage).SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(),
		Format:         jsii.String(accessLogFormat),
	})

	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("ApiFunction"), handler,
		&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
			PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
			// One invoke permission for the API instead of one per route
			// (the function's resource policy is limited to 20 KB).
			ScopePermissionToRoute: jsii.Bool(false),
		})
	for _, r := range routes {
		api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(r.Path),
			Methods:     &[]awsapigatewayv2.HttpMethod{httpMethod(r.Method)},
			Integration: integration,
		})
	}
	return httpAPI{api: api, stage: st}
}

func httpMethod(m string) awsapigatewayv2.HttpMethod {
	switch m {
	case "GET":
		return awsapigatewayv2.HttpMethod_GET
	case "POST":
		return awsapigatewayv2.HttpMethod_POST
	case "PUT":
		return awsapigatewayv2.HttpMethod_PUT
	case "PATCH":
		return awsapigatewayv2.HttpMethod_PATCH
	case "DELETE":
		return awsapigatewayv2.HttpMethod_DELETE
	}
	panic(fmt.Sprintf("unsupported HTTP method %q", m))
}
