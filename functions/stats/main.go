// Command stats is the Lambda function of the stats consumer: it sums the
// table's DynamoDB stream (ledger entries, members' activity days) into the
// partial figures per partner, day and shard that the rollup function
// closes days from. Wiring only: the logic is in shared/rollup.
package main

import (
	"github.com/accrue/accrue/shared/rollup"
	"github.com/accrue/accrue/shared/startup"
)

func main() { startup.Table(rollup.ConsumerLambda) }
