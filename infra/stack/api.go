package stack

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
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
// integrated with the api function. What none of them matches (a wrong method
// on a known path, an unknown path) takes the API's $default route to the same
// function, which answers as it does locally: 405 method-not-allowed with
// Allow, or 404 not-found, as problem+json (API Gateway alone would answer a
// plain 404 {"message":"Not Found"} to both).
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
	{"POST", "/v1/members/{id}/transfers"},
	{"POST", "/v1/members/{id}/merge"},
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
	{"GET", "/v1/event-types"},
	{"GET", "/v1/event-types/{type}"},
	{"GET", "/v1/event-types/{type}/versions/{version}"},
	{"POST", "/v1/keys"},
	{"GET", "/v1/keys"},
	{"DELETE", "/v1/keys/{id}"},
	{"GET", "/v1/audit"},
	{"POST", "/v1/webhooks"},
	{"GET", "/v1/webhooks"},
	{"GET", "/v1/webhooks/{id}"},
	{"PATCH", "/v1/webhooks/{id}"},
	{"DELETE", "/v1/webhooks/{id}"},
	{"GET", "/v1/webhooks/{id}/deliveries"},
	{"GET", "/v1/webhooks/{id}/deliveries/{delivery_id}"},
	{"POST", "/v1/webhooks/{id}/deliveries/{delivery_id}/retry"},
	{"POST", "/v1/imports"},
	{"GET", "/v1/imports/{id}"},
	{"GET", "/v1/openapi.json"},
	{"GET", "/problems"},
	{"GET", "/problems/{slug}"},
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

// DefaultRouteKey is the route key of the API's catch-all route.
const DefaultRouteKey = "$default"

// newHTTPAPI creates the HTTP API with every route of routes and the $default
// route integrated with handler (Lambda proxy, payload format 2.0), and its
// $default stage with throttling (the stage's for the routes, a lower one for
// the $default route) and JSON access logs.
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
	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("ApiFunction"), handler,
		&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
			PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
			// One invoke permission for the API instead of one per route
			// (the function's resource policy is limited to 20 KB).
			ScopePermissionToRoute: jsii.Bool(false),
		})
	for _, r := range routes {
		added := api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(r.Path),
			Methods:     &[]awsapigatewayv2.HttpMethod{httpMethod(r.Method)},
			Integration: integration,
		})
		for _, route := range *added {
			suppress(route, "AwsSolutions-APIG4", nagRouteAuthorization)
		}
	}
	unmatched := awsapigatewayv2.NewHttpRoute(scope, jsii.String("HttpApiDefaultRoute"), &awsapigatewayv2.HttpRouteProps{
		HttpApi:     api,
		RouteKey:    awsapigatewayv2.HttpRouteKey_DEFAULT(),
		Integration: integration,
	})
	suppress(unmatched, "AwsSolutions-APIG4", nagRouteAuthorization)
	// The integration's one permission (execute-api:/{api}/*/*/*, stage,
	// method and path) does not match the $default route, whose requests
	// come as {api}/{stage}/$default: without its own, API Gateway would
	// answer them 500.
	handler.AddPermission(jsii.String("HttpApiDefaultRoutePermission"), &awslambda.Permission{
		Principal: awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
		SourceArn: awscdk.Stack_Of(scope).FormatArn(&awscdk.ArnComponents{
			Service:      jsii.String("execute-api"),
			Resource:     api.ApiId(),
			ResourceName: jsii.String("*/" + DefaultRouteKey),
		}),
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
	cfnStage := st.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	// The L2 stage's accessLogSettings is a jsii interface; the L1 property
	// says the same in two fields.
	cfnStage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(),
		Format:         jsii.String(accessLogFormat),
	})
	// The $default route's own throttle. API Gateway refuses route settings
	// of a route that does not exist yet: the stage waits for the route.
	// RouteSettings is JSON to CloudFormation: a struct would be written
	// with its Go JSON names, so the map spells CloudFormation's.
	cfnStage.SetRouteSettings(map[string]any{
		DefaultRouteKey: map[string]any{
			"ThrottlingRateLimit":  stage.APIUnmatchedThrottle.RateLimit,
			"ThrottlingBurstLimit": stage.APIUnmatchedThrottle.BurstLimit,
		},
	})
	st.Node().AddDependency(unmatched)
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
