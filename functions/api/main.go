// Command api is the Lambda function behind the HTTP API: the net/http handler
// of shared/api adapted to API Gateway HTTP API (payload format 2.0) events by
// aws-lambda-go-api-proxy. Wiring only.
package main

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/accrue/accrue/shared/api"
	"github.com/accrue/accrue/shared/startup"
)

func main() {
	startup.Table(func(db *dynamodb.Client, table string, log *slog.Logger) any {
		return httpadapter.NewV2(api.Wire(db, table, log)).ProxyWithContext
	})
}
