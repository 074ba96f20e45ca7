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
)

func main() {
	log := lambdacontext.NewLogger()
	db, table, err := awsclient.Table(context.Background())
	if err != nil {
		log.Error("startup", "error", err)
		os.Exit(1)
	}
	lambda.Start(ingest.Wire(db, table, log).HandleSQS)
}
