package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

// startRuns is how many times each binary is started.
const startRuns = 15

// startup is a function's process start-to-ready time: from starting the
// binary to its first request for an invocation on the Lambda runtime API
// (everything main does before lambda.Start waits for work: configuration,
// clients, wiring).
type startup struct {
	name     string
	p50, max time.Duration
}

// startupTimes builds every functions/* for this machine (same flags as for
// Lambda but the host's OS and architecture: the arm64 binaries do not run
// here) and starts each startRuns times against a local stand-in for the
// Lambda runtime API, with the environment the stack gives it.
func startupTimes() ([]startup, error) {
	dirs, err := filepath.Glob("functions/*")
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "benchreport-start")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	ready := make(chan time.Time, 1)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/2018-06-01/runtime/invocation/next" {
			select {
			case ready <- time.Now():
			default:
			}
			<-r.Context().Done() // no work: hold the poll until the process is stopped
			return
		}
		http.NotFound(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	env := append(os.Environ(),
		"AWS_LAMBDA_RUNTIME_API="+ln.Addr().String(), "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_LAMBDA_FUNCTION_NAME=bench",
		"ACCRUE_TABLE=accrue", "ACCRUE_EVENT_BUS=accrue", "AWS_LAMBDA_LOG_FORMAT=JSON",
		"ACCRUE_IMPORTS_BUCKET=accrue-imports", "ACCRUE_IMPORTS_QUEUE_URL=https://sqs.us-east-1.amazonaws.com/000000000000/accrue-imports",
		"ACCRUE_WEBHOOK_KEY=arn:aws:kms:us-east-1:000000000000:key/bench",
		"ACCRUE_WEBHOOK_DELIVERIES_QUEUE_URL=https://sqs.us-east-1.amazonaws.com/000000000000/accrue-webhook-deliveries")
	var out []startup
	for _, d := range dirs {
		name := filepath.Base(d)
		bin := filepath.Join(tmp, name)
		c := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./"+d)
		c.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := c.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %w %s", d, err, msg)
		}
		var times []time.Duration
		for range startRuns {
			t, err := startOnce(bin, env, ready)
			if err != nil {
				return nil, fmt.Errorf("start %s: %w", name, err)
			}
			times = append(times, t)
		}
		slices.Sort(times)
		out = append(out, startup{name: name, p50: times[len(times)/2], max: times[len(times)-1]})
	}
	return out, nil
}

// startOnce starts bin and returns how long it took to ask for its first
// invocation.
func startOnce(bin string, env []string, ready <-chan time.Time) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = env
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	exited := make(chan struct{})
	go func() { _, _ = cmd.Process.Wait(); close(exited) }()
	select {
	case at := <-ready:
		return at.Sub(start), nil
	case <-exited:
		return 0, fmt.Errorf("exited before asking for work")
	case <-ctx.Done():
		return 0, fmt.Errorf("did not ask for work within 10s")
	}
}
