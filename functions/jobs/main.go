// Command jobs is the Lambda function of the member jobs' EventBridge
// schedule: it releases pending points, expires points (and announces those
// about to expire), releases stale redemption holds and re-evaluates tiers
// for every member that is due. Wiring only: the logic is in
// shared/memberjobs (the decisions in shared/jobs).
package main

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/shared/memberjobs"
	"github.com/accrue/accrue/shared/startup"
)

func main() {
	startup.Table(func(db *dynamodb.Client, table string, log *slog.Logger) any {
		return memberjobs.Wire(db, table, log).HandleSchedule
	})
}
