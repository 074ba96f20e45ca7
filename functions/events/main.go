// Command events is the Lambda function of the table's DynamoDB stream: it
// publishes the domain events of committed changes to the EventBridge bus
// named by ACCRUE_EVENT_BUS. Wiring only: the logic is in shared/domainevents.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/accrue/accrue/shared/awsclient"
	"github.com/accrue/accrue/shared/domainevents"
)

func main() {
	log := lambdacontext.NewLogger()
	cfg, err := awsclient.Load(context.Background())
	if err != nil {
		log.Error("startup", "error", err)
		os.Exit(1)
	}
	bus, err := awsclient.Env("ACCRUE_EVENT_BUS")
	if err != nil {
		log.Error("startup", "error", err)
		os.Exit(1)
	}
	client := eventbridge.NewFromConfig(cfg)
	lambda.Start(domainevents.NewPublisher(client, bus, domainevents.WithLogger(log)).HandleStream)
}
