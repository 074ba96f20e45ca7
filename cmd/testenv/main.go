// Command testenv runs a command with the local AWS emulators up:
//
//	go run ./cmd/testenv -- go test -race ./...
//
// It starts DynamoDB Local (in memory) and moto_server on free ports of
// 127.0.0.1, runs the command with
//
//	ACCRUE_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:PORT
//	ACCRUE_TEST_MOTO_ENDPOINT=http://127.0.0.1:PORT
//	AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
//
// in its environment, stops the emulators when the command ends (or on
// Ctrl-C / SIGTERM, which are forwarded to the command) and exits with the
// command's exit code. The emulators' output goes to .local/logs/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/accrue/accrue/internal/emulators"
)

const (
	envDynamoDB = "ACCRUE_TEST_DYNAMODB_ENDPOINT"
	envMoto     = "ACCRUE_TEST_MOTO_ENDPOINT"
)

func main() { os.Exit(run()) }

func run() (code int) {
	log := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "testenv: "+format+"\n", args...)
	}

	fs := flag.NewFlagSet("testenv", flag.ContinueOnError)
	ddbDir := fs.String("dynamodb-local", "", "DynamoDB Local directory (default: $"+emulators.DynamoDBLocalDirEnv+" or .local/dynamodb-local)")
	logDir := fs.String("logs", "", "directory for the emulators' logs (default: .local/logs in the module root)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./cmd/testenv [flags] -- COMMAND [ARGS...]\n\n"+
			"Starts DynamoDB Local and moto, runs COMMAND with %s, %s\nand test AWS credentials set, then stops them.\n\nflags:\n", envDynamoDB, envMoto)
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	argv := fs.Args()
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		fs.Usage()
		return 2
	}
	if *logDir == "" {
		if root, err := emulators.ModuleRoot(); err == nil {
			*logDir = filepath.Join(root, ".local", "logs")
		}
	}

	// Signals: during start-up they cancel it; while the command runs they
	// are forwarded to it.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var gotSignal os.Signal
	startDone := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			gotSignal = s
			cancel()
		case <-startDone:
		}
	}()

	log("starting DynamoDB Local and moto ...")
	began := time.Now()
	var (
		wg             sync.WaitGroup
		ddb, moto      *emulators.Server
		ddbErr, motoEr error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		ddb, ddbErr = emulators.StartDynamoDB(ctx, emulators.DynamoDBOptions{Dir: *ddbDir, LogDir: *logDir})
	}()
	go func() {
		defer wg.Done()
		moto, motoEr = emulators.StartMoto(ctx, emulators.MotoOptions{LogDir: *logDir})
	}()
	wg.Wait()
	close(startDone)

	stopAll := func() {
		for _, s := range []*emulators.Server{ddb, moto} {
			if s == nil {
				continue
			}
			if err := s.Stop(); err != nil {
				log("stop %s: %v", s.Name(), err)
			}
		}
	}
	if err := errors.Join(ddbErr, motoEr); err != nil || ctx.Err() != nil {
		stopAll()
		if gotSignal != nil {
			log("interrupted (%v) while starting the emulators", gotSignal)
			return exitCodeForSignal(gotSignal)
		}
		log("%v", err)
		return 1
	}
	crashedWhileRunning := false
	defer func() {
		stopAll()
		// Keep the logs only when something went wrong.
		if code == 0 && !crashedWhileRunning {
			os.Remove(ddb.LogPath())
			os.Remove(moto.LogPath())
		}
	}()
	log("emulators ready in %s: DynamoDB Local %s, moto %s (logs in %s)",
		time.Since(began).Round(100*time.Millisecond), ddb.Endpoint(), moto.Endpoint(), filepath.Dir(ddb.LogPath()))

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = childEnv(os.Environ(), map[string]string{
		envDynamoDB:             ddb.Endpoint(),
		envMoto:                 moto.Endpoint(),
		"AWS_REGION":            "us-east-1",
		"AWS_DEFAULT_REGION":    "us-east-1",
		"AWS_ACCESS_KEY_ID":     "test",
		"AWS_SECRET_ACCESS_KEY": "test",
		// Keep tests hermetic: no real profile, token or instance metadata.
		"AWS_SESSION_TOKEN":         "",
		"AWS_PROFILE":               "",
		"AWS_EC2_METADATA_DISABLED": "true",
	})
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		log("%v", err)
		return 127
	}

	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()
	crashed := mergeDone(ddb, moto)
	for {
		select {
		case s := <-sigs:
			// A terminal Ctrl-C already reached the command (same process
			// group); forwarding is for signals sent to testenv alone.
			_ = cmd.Process.Signal(s)
		case srv := <-crashed:
			log("WARNING: %s exited while the command was running; see %s", srv.Name(), srv.LogPath())
			crashedWhileRunning = true
			crashed = nil
		case err := <-waitDone:
			code = exitCode(cmd, err)
			log("command exited with code %d; stopping emulators", code)
			return code
		}
	}
}

// childEnv returns env with the given variables set (an empty value removes
// the variable).
func childEnv(env []string, set map[string]string) []string {
	out := make([]string, 0, len(env)+len(set))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range set {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// mergeDone yields the first server that exits.
func mergeDone(servers ...*emulators.Server) <-chan *emulators.Server {
	ch := make(chan *emulators.Server, len(servers))
	for _, s := range servers {
		go func() {
			<-s.Done()
			ch <- s
		}()
	}
	return ch
}

func exitCode(cmd *exec.Cmd, err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		return 1
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}

func exitCodeForSignal(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}
