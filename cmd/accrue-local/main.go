// Command accrue-local runs the whole system locally (make dev): emulators,
// table and queues, a demo partner, the API, the queue consumer and the
// schedules. Ctrl-C stops everything; data persists in .local/dev-db unless
// -fresh is given.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/accrue/accrue/internal/devstack"
	"github.com/accrue/accrue/shared/webhooks"
)

func main() {
	var cfg devstack.Config
	flag.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "address of the API")
	flag.StringVar(&cfg.Dir, "dir", ".local", "where data, logs and dev.env go")
	flag.BoolVar(&cfg.Fresh, "fresh", false, "start with an empty database")
	flag.StringVar(&cfg.ProgramFile, "program", "events/program-telco.json", "program of the demo partner")
	schedule := flag.String("webhook-schedule", "", "the webhook retries' waits, e.g. 5s,30s,2m (default: AWS's, 5s,5m,30m,2h,5h,10h,10h)")
	invoke := flag.String("invoke", "", "run one function's handler on -event against the running local stack, then exit")
	event := flag.String("event", "", "the sample event file for -invoke")
	flag.Parse()
	if *invoke != "" {
		if err := devstack.Invoke(context.Background(), cfg.Dir, *invoke, *event, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "accrue-local:", err)
			os.Exit(1)
		}
		return
	}
	if *schedule != "" {
		s, err := webhooks.ParseSchedule(*schedule)
		if err != nil {
			fmt.Fprintln(os.Stderr, "accrue-local:", err)
			os.Exit(2)
		}
		cfg.WebhookSchedule = s
	}
	cfg.Progress = func(format string, args ...any) { fmt.Fprintf(os.Stderr, "accrue-local: "+format+"\n", args...) }
	cfg.Log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := devstack.Run(ctx, cfg, func(e devstack.Env) { fmt.Print(devstack.Banner(e, cfg.Dir)) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "accrue-local:", err)
		os.Exit(1)
	}
}
