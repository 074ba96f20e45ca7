// Package startup is the one start-up sequence of Accrue's Lambda functions:
// a JSON logger with the invocation's request id (lambdacontext), the AWS
// configuration and, for functions on the table, its DynamoDB client and
// name, then lambda.Start. A start-up failure is logged and exits 1, which
// Lambda reports as an init error. functions/NAME/main.go only says what to
// wire.
package startup

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/shared/awsclient"
)

// Config starts a function that needs the AWS configuration: wire returns
// the handler (any handler shape lambda.Start takes) or a start-up error.
func Config(wire func(cfg aws.Config, log *slog.Logger) (any, error)) {
	log := lambdacontext.NewLogger()
	cfg, err := awsclient.Load(context.Background())
	if err != nil {
		fail(log, err)
	}
	h, err := wire(cfg, log)
	if err != nil {
		fail(log, err)
	}
	lambda.Start(h)
}

// Table starts a function on the table named by ACCRUE_TABLE.
func Table(wire func(db *dynamodb.Client, table string, log *slog.Logger) any) {
	Config(func(cfg aws.Config, log *slog.Logger) (any, error) {
		table, err := awsclient.Env("ACCRUE_TABLE")
		if err != nil {
			return nil, err
		}
		return wire(awsclient.DynamoDB(cfg), table, log), nil
	})
}

// TableConfig starts a function on the table that needs other AWS clients
// too (made from cfg): wire returns the handler or a start-up error.
func TableConfig(wire func(cfg aws.Config, db *dynamodb.Client, table string, log *slog.Logger) (any, error)) {
	Config(func(cfg aws.Config, log *slog.Logger) (any, error) {
		table, err := awsclient.Env("ACCRUE_TABLE")
		if err != nil {
			return nil, err
		}
		return wire(cfg, awsclient.DynamoDB(cfg), table, log)
	})
}

func fail(log *slog.Logger, err error) {
	log.Error("startup", "error", err)
	os.Exit(1)
}
