package main

import (
	"context"
	"fmt"
	"time"

	"github.com/accrue/accrue/shared/queue"
)

// dlqRedrive: accrue dlq redrive --from DLQ_URL --to QUEUE_URL. On AWS it
// starts an SQS message move task and waits for it; against an emulator
// endpoint (AWS_ENDPOINT_URL[_SQS]) it moves the messages itself.
func dlqRedrive(ctx context.Context, c *cli, args []string) error {
	const name = "dlq redrive"
	fs := c.flags(name)
	from := fs.String("from", c.env(envDLQ), "the dead-letter queue URL (default $"+envDLQ+")")
	to := fs.String("to", c.env(envQueue), "the payments queue URL (default $"+envQueue+")")
	if err := c.parse(name, fs, args); err != nil {
		return err
	}
	switch {
	case *from == "":
		return usagef(name, "--from is required (or set %s)", envDLQ)
	case *to == "":
		return usagef(name, "--to is required (or set %s)", envQueue)
	case *from == *to:
		return usagef(name, "--from and --to are the same queue")
	}
	client, err := c.newSQS(ctx)
	if err != nil {
		return err
	}
	if sqsEndpoint(c.env) == "" {
		// AWS: SQS's own message move task.
		n, err := queue.MoveBack(ctx, client, *from, *to, 2*time.Second)
		if err != nil {
			return fmt.Errorf("redrive (about %d messages moved before the error): %w", n, err)
		}
		fmt.Fprintf(c.stdout, "Moved about %d messages from %s to %s (SQS message move task).\n", n, *from, *to)
		return nil
	}
	// An emulator endpoint (moto has no message move tasks): receive, send, delete.
	n, err := queue.Redrive(ctx, client, *from, *to)
	if err != nil {
		return fmt.Errorf("redrive (%d messages moved before the error): %w", n, err)
	}
	fmt.Fprintf(c.stdout, "Moved %d messages from %s to %s.\n", n, *from, *to)
	return nil
}
