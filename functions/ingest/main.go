// Command ingest is the Lambda function that consumes the payments queue.
// Wiring only: the logic is in shared/ingest.
package main

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/startup"
)

func main() {
	startup.Table(func(db *dynamodb.Client, table string, log *slog.Logger) any {
		return ingest.Wire(db, table, log).HandleSQS
	})
}
