// Command api is the Lambda function behind the HTTP API: the net/http handler
// of shared/api adapted to API Gateway HTTP API (payload format 2.0) events by
// aws-lambda-go-api-proxy. Wiring only.
package main

import (
	"github.com/accrue/accrue/shared/api"
	"github.com/accrue/accrue/shared/startup"
)

func main() { startup.TableConfig(api.Lambda) }
