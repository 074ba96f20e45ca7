package emulators

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a fake server: with LOCALENV_FAKE set it runs
// fakeServer instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("LOCALENV_FAKE"); mode != "" {
		fakeServer(mode, os.Args[len(os.Args)-1])
		return
	}
	os.Exit(m.Run())
}

// fakeServer modes:
//
//	serve      answer HTTP on port; GET / returns the pid of a child it started
//	stubborn   like serve, but ignore SIGTERM
//	crash      print a message and exit 3 at once
//	silent     listen on nothing, just sleep
//	child      sleep (the grandchild started by serve)
func fakeServer(mode, port string) {
	switch mode {
	case "crash":
		fmt.Println("fake: java.net.BindException: Address already in use")
		os.Exit(3)
	case "silent", "child":
		time.Sleep(time.Hour)
		return
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
	}
	child := exec.Command(os.Args[0], "x")
	child.Env = append(os.Environ(), "LOCALENV_FAKE=child")
	if err := child.Start(); err != nil {
		panic(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		panic(err)
	}
	_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, child.Process.Pid)
	}))
}

func fakeSpec(t *testing.T, mode string) spec {
	return spec{
		name:    "fake-" + mode,
		logName: "fake",
		logDir:  t.TempDir(),
		command: func(port int) (string, []string, []string) {
			return os.Args[0], []string{strconv.Itoa(port)}, []string{"LOCALENV_FAKE=" + mode}
		},
		ready:   httpReady,
		timeout: 10 * time.Second,
		grace:   300 * time.Millisecond,
	}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// waitGone waits a little for pid to disappear (a grandchild reparented to
// init is reaped asynchronously).
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		// A zombie still answers kill(0); check /proc where available.
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && strings.Contains(string(b), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still running after Stop", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func childPid(t *testing.T, s *Server) int {
	t.Helper()
	resp, err := http.Get(s.Endpoint() + "/")
	if err != nil {
		t.Fatalf("GET %s: %v", s.Endpoint(), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatalf("bad child pid %q", b)
	}
	return pid
}

func TestStartStopKillsProcessGroup(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"serve", "stubborn"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s, err := start(t.Context(), fakeSpec(t, mode))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(s.Endpoint(), "http://127.0.0.1:") {
				t.Errorf("Endpoint() = %q", s.Endpoint())
			}
			pid, child := s.Pid(), childPid(t, s)
			began := time.Now()
			if err := s.Stop(); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if mode == "stubborn" && time.Since(began) < 300*time.Millisecond {
				t.Errorf("a server ignoring SIGTERM stopped before the grace period")
			}
			waitGone(t, pid, "server")
			waitGone(t, child, "server's child")
			if err := s.Stop(); err != nil {
				t.Errorf("second Stop: %v", err)
			}
			if _, err := os.Stat(s.LogPath()); err != nil {
				t.Errorf("log file: %v", err)
			}
		})
	}
}

func TestStartCrashReportsLog(t *testing.T) {
	t.Parallel()
	sp := fakeSpec(t, "crash")
	sp.port = 1 // fixed port: no retry on "address in use"
	_, err := start(t.Context(), sp)
	if err == nil || !strings.Contains(err.Error(), "exited during start-up") || !strings.Contains(err.Error(), "BindException") {
		t.Fatalf("err = %v, want start-up exit with the log's tail", err)
	}
}

func TestStartCrashRetriesOnAddressInUse(t *testing.T) {
	t.Parallel()
	sp := fakeSpec(t, "crash")
	_, err := start(t.Context(), sp)
	if err == nil {
		t.Fatal("start succeeded")
	}
	logs, _ := filepath.Glob(filepath.Join(sp.logDir, "fake-*.log"))
	if len(logs) != 3 {
		t.Errorf("got %d attempts (%v), want 3", len(logs), logs)
	}
}

func TestStartTimeout(t *testing.T) {
	t.Parallel()
	sp := fakeSpec(t, "silent")
	sp.timeout = 500 * time.Millisecond
	_, err := start(t.Context(), sp)
	if err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("err = %v, want a time-out", err)
	}
}

func TestStartCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := start(ctx, fakeSpec(t, "silent"))
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err = %v, want interrupted", err)
	}
}

func TestMissingPrograms(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := StartMoto(t.Context(), MotoOptions{})
	if err == nil || err.Error() != "moto_server not found: install it with pip install 'moto[server]'" {
		t.Errorf("StartMoto: %v", err)
	}
	_, err = StartDynamoDB(t.Context(), DynamoDBOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), "java not found:") || !strings.Contains(err.Error(), "openjdk") {
		t.Errorf("StartDynamoDB: %v", err)
	}
}

func TestFindDynamoDBLocalMissing(t *testing.T) {
	t.Parallel()
	_, err := FindDynamoDBLocal(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "scripts/fetch-dynamodb-local.sh") {
		t.Errorf("err = %v", err)
	}
}

// TestDynamoDBOnDisk starts a real DynamoDB Local with -dbPath (testenv itself
// covers the in-memory mode) and checks that a table survives a restart.
func TestDynamoDBOnDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("starts DynamoDB Local twice")
	}
	t.Parallel()
	db, logs := t.TempDir(), t.TempDir()
	ctx := t.Context()

	run := func(f func(endpoint string)) {
		began := time.Now()
		s, err := StartDynamoDB(ctx, DynamoDBOptions{DBPath: db, LogDir: logs})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("DynamoDB Local (on disk) started in %s", time.Since(began).Round(time.Millisecond))
		defer func() {
			began := time.Now()
			if err := s.Stop(); err != nil {
				t.Errorf("Stop: %v", err)
			}
			waitGone(t, s.Pid(), "DynamoDB Local")
			t.Logf("DynamoDB Local stopped in %s", time.Since(began).Round(time.Millisecond))
		}()
		f(s.Endpoint())
	}
	run(func(ep string) {
		if err := ddbCall(ctx, ep, "CreateTable", `{"TableName":"ttt","BillingMode":"PAY_PER_REQUEST",
			"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],
			"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}]}`, nil); err != nil {
			t.Fatal(err)
		}
	})
	run(func(ep string) {
		var out strings.Builder
		if err := ddbCall(ctx, ep, "ListTables", `{}`, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), `"ttt"`) {
			t.Errorf("after restart ListTables = %s, want table ttt", out.String())
		}
	})
}

// ddbCall makes a raw DynamoDB JSON call (enough for this test, and it
// exercises the emulator without the SDK's help).
func ddbCall(ctx context.Context, endpoint, op, body string, out io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", op, resp.Status, b)
	}
	if out != nil {
		_, _ = out.Write(b)
	}
	return nil
}
