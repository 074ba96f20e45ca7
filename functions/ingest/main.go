// Command ingest is the Lambda function that consumes the payments queue.
// Wiring only: the logic is in shared/ingest.
package main

import (
	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/startup"
)

func main() { startup.Table(ingest.Lambda) }
