package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/webhooks"
)

// syncBuffer is a buffer the receiver's handlers and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// listen runs accrue webhook listen with args on a free address until the
// test ends; it returns the receiver's URL and its outputs.
func listen(t *testing.T, args ...string) (string, *syncBuffer, *syncBuffer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"webhook", "listen", "--addr", addr}, args...), &out, &errOut, func(string) string { return "" })
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("accrue webhook listen exited %d: %s", code, errOut.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errOut.String(), "Listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("the receiver did not start: %s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://" + addr + "/", &out, &errOut
}

func post(t *testing.T, url, id string, at time.Time, body string, secrets ...string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if len(secrets) > 0 {
		sig, err := webhooks.Sign(id, at, []byte(body), secrets...)
		if err != nil {
			t.Fatal(err)
		}
		webhooks.Headers(req.Header, id, at, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The receiver prints what verifies with one of its secrets and refuses the
// rest: a wrong secret, a replay outside the window, a changed body, no
// signature, another method.
func TestWebhookListen(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret := webhooks.NewSecret(), webhooks.NewSecret()
	url, out, errOut := listen(t, "--secret", newSecret, "--secret", oldSecret)
	body := `{"specversion":"1.0","id":"evt_1","type":"points.earned","subject":"cust-42","data":{}}`
	now := time.Now()
	for _, tc := range []struct {
		name    string
		at      time.Time
		body    string
		secrets []string
		want    int
	}{
		{"the new secret", now, body, []string{newSecret}, http.StatusNoContent},
		{"the old secret", now, body, []string{oldSecret}, http.StatusNoContent},
		{"both, during a rotation's overlap", now, body, []string{newSecret, oldSecret}, http.StatusNoContent},
		{"a wrong secret", now, body, []string{webhooks.NewSecret()}, http.StatusUnauthorized},
		{"a replay", now.Add(-webhooks.ReplayWindow - time.Minute), body, []string{newSecret}, http.StatusUnauthorized},
		{"not signed", now, body, nil, http.StatusUnauthorized},
	} {
		if got := post(t, url, "evt_1", tc.at, tc.body, tc.secrets...); got != tc.want {
			t.Errorf("%s: answered %d, want %d", tc.name, got, tc.want)
		}
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET answered %d", resp.StatusCode)
	}
	if n := strings.Count(out.String(), "verified evt_1 points.earned member=cust-42"); n != 3 {
		t.Errorf("printed %d verified deliveries, want 3:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), body) {
		t.Errorf("the body is not printed:\n%s", out.String())
	}
	if n := strings.Count(errOut.String(), "rejected a delivery"); n != 3 {
		t.Errorf("reported %d rejections, want 3:\n%s", n, errOut.String())
	}
}

func TestWebhookListenAnswersTheStatusAsked(t *testing.T) {
	t.Parallel()
	secret := webhooks.NewSecret()
	url, out, _ := listen(t, "--secret", secret, "--status", "500")
	if got := post(t, url, "evt_2", time.Now(), `{"id":"evt_2"}`, secret); got != http.StatusInternalServerError {
		t.Errorf("answered %d, want 500", got)
	}
	if !strings.Contains(out.String(), "answered=500") {
		t.Errorf("output %q", out.String())
	}
}

func TestWebhookListenUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{},
		{"--secret", "nope"},
		{"--secret", webhooks.NewSecret(), "--status", "99"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), append([]string{"webhook", "listen"}, args...), &out, &errOut, func(string) string { return "" }); code != exitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, exitUsage, errOut.String())
		}
	}
}
