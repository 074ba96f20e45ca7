// Command rollup is the Lambda function of the stats roll-up schedule: it
// writes the per-partner daily figures of GET /v1/stats. Wiring only: the
// logic is in shared/rollup.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/accrue/accrue/shared/awsclient"
	"github.com/accrue/accrue/shared/rollup"
)

func main() {
	log := lambdacontext.NewLogger()
	db, table, err := awsclient.Table(context.Background())
	if err != nil {
		log.Error("startup", "error", err)
		os.Exit(1)
	}
	lambda.Start(rollup.Wire(db, table, log).Handle)
}
