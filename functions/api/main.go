// Command api is the Lambda function behind the HTTP API: the net/http handler
// of shared/api adapted to API Gateway HTTP API (payload format 2.0) events by
// aws-lambda-go-api-proxy. Wiring only.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/accrue/accrue/shared/api"
	"github.com/accrue/accrue/shared/awsclient"
)

func main() {
	log := lambdacontext.NewLogger()
	db, table, err := awsclient.Table(context.Background())
	if err != nil {
		log.Error("startup", "error", err)
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(api.Wire(db, table, log)).ProxyWithContext)
}
