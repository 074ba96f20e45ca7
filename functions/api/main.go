// Command api is the Lambda function behind the HTTP API: the net/http handler
// of shared/api adapted to API Gateway HTTP API (payload format 2.0) events.
// Wiring only.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/accrue/accrue/shared/api"
	"github.com/accrue/accrue/shared/awsclient"
	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/keys"
	"github.com/accrue/accrue/shared/metrics"
	"github.com/accrue/accrue/shared/store"
)

func main() {
	log := lambdacontext.NewLogger()
	ctx := context.Background()
	cfg, err := awsclient.Load(ctx)
	if err != nil {
		log.Error("load AWS config", "error", err)
		os.Exit(1)
	}
	table, err := awsclient.Env("ACCRUE_TABLE")
	if err != nil {
		log.Error("configuration", "error", err)
		os.Exit(1)
	}
	db := awsclient.DynamoDB(cfg)
	st := store.New(db, table)
	h := api.New(api.Deps{
		Store:  st,
		Keys:   keys.New(db, table),
		Ingest: ingest.New(st, log, metrics.New(os.Stdout)),
		Log:    log,
	})
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}
