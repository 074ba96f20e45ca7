// Command rollup is the Lambda function of the stats roll-up schedule: it
// writes the per-partner daily figures of GET /v1/stats. Wiring only: the
// logic is in shared/rollup.
package main

import (
	"github.com/accrue/accrue/shared/rollup"
	"github.com/accrue/accrue/shared/startup"
)

func main() { startup.Table(rollup.Lambda) }
