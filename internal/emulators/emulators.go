// Package emulators starts and stops the local AWS emulators Accrue runs
// against on a developer machine and in CI (SPEC §9): DynamoDB Local (AWS's
// own emulator, a Java program) and moto_server (SQS / EventBridge).
//
// It is used by cmd/testenv, which wraps `go test`, and by the local stack
// runner. Every server listens on 127.0.0.1 on a free port, runs in its own
// process group (so Stop leaves no orphans behind) and writes its stdout and
// stderr to a log file.
//
// Typical use:
//
//	ddb, err := emulators.StartDynamoDB(ctx, emulators.DynamoDBOptions{LogDir: ".local/logs"})
//	if err != nil { ... }
//	defer ddb.Stop()
//	fmt.Println(ddb.Endpoint()) // http://127.0.0.1:PORT
package emulators

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultStartTimeout bounds how long a Start function waits for the server to
// answer before giving up.
const DefaultStartTimeout = 60 * time.Second

// stopGrace is how long Stop waits after SIGTERM before sending SIGKILL.
const stopGrace = 5 * time.Second

// Server is a running emulator process.
type Server struct {
	name     string
	endpoint string
	logPath  string
	cmd      *exec.Cmd
	logFile  *os.File

	done    chan struct{} // closed when the process has exited
	waitErr error         // cmd.Wait's result; valid after done is closed

	grace    time.Duration
	stopOnce sync.Once
	stopErr  error
}

// Name is a human-readable name of the server ("DynamoDB Local", "moto").
func (s *Server) Name() string { return s.name }

// Endpoint is the server's base URL, e.g. "http://127.0.0.1:41234".
func (s *Server) Endpoint() string { return s.endpoint }

// LogPath is the file that receives the server's stdout and stderr.
func (s *Server) LogPath() string { return s.logPath }

// Pid is the process id of the server (also its process group id).
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Done is closed when the server process has exited, for whatever reason.
func (s *Server) Done() <-chan struct{} { return s.done }

// Stop terminates the server: SIGTERM to its whole process group, then
// SIGKILL after 5 seconds if it is still running. It waits for the process to
// exit and is safe to call more than once and from several goroutines.
//
// Stop returns an error only if the process could not be signalled or had
// already died on its own before Stop was called (the error then names the
// log file to read).
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	defer s.logFile.Close()

	select {
	case <-s.done:
		// Died before we asked it to: report that, and make sure nothing
		// it started lingers in its process group.
		_ = killGroup(s.cmd.Process.Pid, true)
		return fmt.Errorf("%s had already exited: %v (see %s)", s.name, s.waitErr, s.logPath)
	default:
	}

	pid := s.cmd.Process.Pid
	if err := killGroup(pid, false); err != nil {
		select {
		case <-s.done: // exited meanwhile: fine
		default:
			return fmt.Errorf("stop %s (pid %d): %w", s.name, pid, err)
		}
	}
	timer := time.NewTimer(s.grace)
	defer timer.Stop()
	select {
	case <-s.done:
	case <-timer.C:
		_ = killGroup(pid, true)
		<-s.done
	}
	// The group leader is gone; kill anything it may have left in its group.
	_ = killGroup(pid, true)
	return nil
}

// spec describes how to start one kind of server.
type spec struct {
	name    string
	logName string // log file base name, without extension
	logDir  string
	// command returns the program, its arguments for the given port, and
	// extra environment variables.
	command func(port int) (path string, args []string, env []string)
	dir     string
	// ready returns nil when the server at endpoint answers properly.
	ready   func(ctx context.Context, endpoint string) error
	port    int // 0: pick a free one
	timeout time.Duration
	grace   time.Duration
}

// start runs the server described by sp and waits until it is ready. When the
// port was picked by us and the process dies right away (someone else grabbed
// the port in between), it retries with another port.
func start(ctx context.Context, sp spec) (*Server, error) {
	if errPlatform != nil {
		return nil, errPlatform
	}
	if sp.timeout <= 0 {
		sp.timeout = DefaultStartTimeout
	}
	if sp.grace <= 0 {
		sp.grace = stopGrace
	}
	logDir, err := ensureLogDir(sp.logDir)
	if err != nil {
		return nil, err
	}
	sp.logDir = logDir

	const attempts = 3
	for i := 1; ; i++ {
		port := sp.port
		if port == 0 {
			if port, err = FreePort(); err != nil {
				return nil, err
			}
		}
		srv, err := startOnce(ctx, sp, port)
		if err == nil {
			return srv, nil
		}
		var early *exitedEarlyError
		if sp.port != 0 || i == attempts || !errors.As(err, &early) || !early.addrInUse {
			return nil, err
		}
	}
}

type exitedEarlyError struct {
	msg       string
	addrInUse bool
}

func (e *exitedEarlyError) Error() string { return e.msg }

func startOnce(ctx context.Context, sp spec, port int) (*Server, error) {
	path, args, env := sp.command(port)
	logPath := filepath.Join(sp.logDir, fmt.Sprintf("%s-%d.log", sp.logName, port))
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: open log file: %w", sp.name, err)
	}
	fmt.Fprintf(logFile, "# %s: %s %s\n", time.Now().Format(time.RFC3339), path, strings.Join(args, " "))

	cmd := exec.Command(path, args...)
	cmd.Dir = sp.dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = nil
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: start %s: %w", sp.name, path, err)
	}

	s := &Server{
		name:     sp.name,
		endpoint: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		logPath:  logPath,
		cmd:      cmd,
		logFile:  logFile,
		done:     make(chan struct{}),
		grace:    sp.grace,
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()

	began := time.Now()
	if err := s.waitReady(ctx, sp); err != nil {
		_ = s.Stop()
		return nil, err
	}
	fmt.Fprintf(logFile, "# ready at %s after %s\n", s.endpoint, time.Since(began).Round(time.Millisecond))
	return s, nil
}

func (s *Server) waitReady(ctx context.Context, sp spec) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(parent, sp.timeout)
	defer cancel()

	var lastErr error
	delay := 50 * time.Millisecond
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		err := sp.ready(pctx, s.endpoint)
		pcancel()
		if err == nil {
			return nil
		}
		lastErr = err

		select {
		case <-s.done:
			tail := logTail(s.logPath, 20)
			return &exitedEarlyError{
				msg: fmt.Sprintf("%s exited during start-up (%v); log %s:\n%s",
					s.name, s.waitErr, s.logPath, tail),
				addrInUse: strings.Contains(tail, "Address already in use") ||
					strings.Contains(tail, "address already in use") ||
					strings.Contains(tail, "BindException"),
			}
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return fmt.Errorf("%s start-up interrupted: %w", s.name, err)
			}
			return fmt.Errorf("%s did not answer at %s within %s (last error: %v); log %s:\n%s",
				s.name, s.endpoint, sp.timeout, lastErr, s.logPath, logTail(s.logPath, 20))
		case <-time.After(delay):
		}
		if delay < 250*time.Millisecond {
			delay += 50 * time.Millisecond
		}
	}
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func ensureLogDir(dir string) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "accrue-emulators-")
		if err != nil {
			return "", fmt.Errorf("create log dir: %w", err)
		}
		return d, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create log dir: %w", err)
	}
	return filepath.Abs(dir)
}

// logTail returns the last n lines of the file at path, indented.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "    (no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString("    ")
		sb.Write(l)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// lookPath finds an executable and, when it is missing, says what to install.
func lookPath(file, install string) (string, error) {
	p, err := exec.LookPath(file)
	if err != nil {
		return "", fmt.Errorf("%s not found: %s", file, install)
	}
	return p, nil
}
