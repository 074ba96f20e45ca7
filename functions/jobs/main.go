// Command jobs is the Lambda function of the member jobs' EventBridge
// schedule: it releases pending points, expires points (and announces those
// about to expire), releases stale redemption holds and re-evaluates tiers
// for every member that is due. Wiring only: the logic is in
// shared/memberjobs (the decisions in shared/jobs).
package main

import (
	"github.com/accrue/accrue/shared/memberjobs"
	"github.com/accrue/accrue/shared/startup"
)

func main() { startup.Table(memberjobs.Lambda) }
