// Command events is the Lambda function of the table's DynamoDB stream: it
// publishes the domain events of committed changes to the EventBridge bus
// named by ACCRUE_EVENT_BUS. Wiring only: the logic is in shared/domainevents.
package main

import (
	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/startup"
)

func main() { startup.Config(domainevents.Lambda) }
