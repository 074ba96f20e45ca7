// Command webhooks is the Lambda function of the webhook queues: it fans each
// domain event out to the partner's endpoints and makes each delivery's
// attempts (signed, retried with backoff, recorded). Wiring only: the logic
// is in shared/webhooks.
package main

import (
	"github.com/accrue/accrue/shared/startup"
	"github.com/accrue/accrue/shared/webhooks"
)

func main() { startup.Config(webhooks.Lambda) }
