// Command jobs is the Lambda function of the member jobs' EventBridge
// schedule: it releases pending points, expires points (and announces those
// about to expire), releases stale redemption holds and re-evaluates tiers
// for every member that is due. Wiring only: the logic is in
// shared/memberjobs (the decisions in shared/jobs).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/accrue/accrue/shared/awsclient"
	"github.com/accrue/accrue/shared/memberjobs"
)

func main() {
	log := lambdacontext.NewLogger()
	db, table, err := awsclient.Table(context.Background())
	if err != nil {
		log.Error("startup", "error", err)
		os.Exit(1)
	}
	lambda.Start(memberjobs.Wire(db, table, log).HandleSchedule)
}
