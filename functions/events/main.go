// Command events is the Lambda function of the table's DynamoDB stream: it
// publishes the domain events of committed changes to the EventBridge bus
// named by ACCRUE_EVENT_BUS. Wiring only: the logic is in shared/domainevents.
package main

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/accrue/accrue/shared/awsclient"
	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/startup"
)

func main() {
	startup.Config(func(cfg aws.Config, log *slog.Logger) (any, error) {
		bus, err := awsclient.Env("ACCRUE_EVENT_BUS")
		if err != nil {
			return nil, err
		}
		client := eventbridge.NewFromConfig(cfg)
		return domainevents.NewPublisher(client, bus, domainevents.WithLogger(log)).HandleStream, nil
	})
}
