// Command ingest is the Lambda function that consumes the payments queue.
// Wiring only: the logic is in shared/ingest.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/accrue/accrue/shared/awsclient"
	"github.com/accrue/accrue/shared/ingest"
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
	st := store.New(awsclient.DynamoDB(cfg), table)
	lambda.Start(ingest.New(st, log, metrics.New(os.Stdout)).HandleSQS)
}
