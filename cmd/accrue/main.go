// Command accrue is the operator CLI of Accrue: it creates the table (for local
// use), partners and their API keys, moves dead-lettered payment events back
// to the payments queue, shows rejected events (also those whose partner is
// unknown, which no partner's API shows), and runs a local receiver of webhook
// deliveries that verifies their signatures. `accrue help` prints the usage.
//
// It works against AWS (the default credential chain, AWS_REGION) and against
// DynamoDB Local and moto (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, ...).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
