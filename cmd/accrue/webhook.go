package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/accrue/accrue/shared/webhooks"
)

// secretsFlag is a repeatable --secret.
type secretsFlag []string

func (s *secretsFlag) String() string     { return strings.Join(*s, ",") }
func (s *secretsFlag) Set(v string) error { *s = append(*s, v); return nil }

// maxDelivery bounds the body a receiver reads.
const maxDelivery = 1 << 20

// webhookListen: accrue webhook listen [--addr ADDR] --secret whsec_...
// [--secret ...] [--status CODE]: a local receiver of webhook deliveries
// (make dev's, or any stack's through a tunnel): it prints each delivery
// whose signature verifies with one of the secrets, within the replay
// window, and refuses the others (401).
func webhookListen(ctx context.Context, c *cli, args []string) error {
	const name = "webhook listen"
	fs := c.flags(name)
	addr := fs.String("addr", "127.0.0.1:8081", "the address to listen on")
	var secrets secretsFlag
	fs.Var(&secrets, "secret", "the endpoint's signing secret (whsec_...), from POST /v1/webhooks; give it twice during a rotation")
	status := fs.Int("status", http.StatusNoContent, "the status answered to a verified delivery (500: watch Accrue retry it)")
	if err := c.parse(name, fs, args); err != nil {
		return err
	}
	if len(secrets) == 0 {
		return usagef(name, "--secret is required: the secret POST /v1/webhooks answered")
	}
	for _, s := range secrets {
		if !webhooks.ValidSecret(s) {
			return usagef(name, "--secret %q: not a signing secret (whsec_ and the base64 of 24 to 64 bytes)", s)
		}
	}
	if *status < 200 || *status > 599 {
		return usagef(name, "--status %d: an HTTP status from 200 to 599", *status)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: &receiver{secrets: secrets, status: *status, out: c.stdout, log: c.stderr}, ReadHeaderTimeout: 10 * time.Second}
	url := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(c.stderr, "Listening on %s for webhook deliveries (Ctrl-C stops). Register it with\n"+
		"  curl -X POST -H \"Authorization: Bearer $ACCRUE_API_KEY\" -H 'Content-Type: application/json' \\\n"+
		"    -d '{\"url\":%q}' \"$ACCRUE_API_URL/v1/webhooks\"\n", url, url)
	errs := make(chan error, 1)
	go func() { errs <- srv.Serve(ln) }()
	select {
	case err := <-errs:
		return fmt.Errorf("receiver: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("stop the receiver: %w", err)
	}
	return nil
}

// receiver verifies and prints deliveries.
type receiver struct {
	secrets  []string
	status   int
	mu       sync.Mutex
	out, log io.Writer
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "webhook deliveries are POSTs", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxDelivery+1))
	if err != nil || len(body) > maxDelivery {
		http.Error(w, "unreadable or too large", http.StatusBadRequest)
		return
	}
	var errs []error
	for _, s := range rc.secrets {
		if err := webhooks.Verify(s, r.Header, body); err != nil {
			errs = append(errs, err)
			continue
		}
		errs = nil
		break
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(errs) > 0 {
		err := errors.Join(errs...)
		fmt.Fprintf(rc.log, "rejected a delivery (answered 401): %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		http.Error(w, "signature not verified: "+err.Error(), http.StatusUnauthorized)
		return
	}
	var ce struct {
		Type    string `json:"type"`
		Subject string `json:"subject"`
	}
	_ = json.Unmarshal(body, &ce)
	ts, _ := strconv.ParseInt(r.Header.Get(webhooks.HeaderTimestamp), 10, 64)
	fmt.Fprintf(rc.out, "verified %s %s member=%s sent=%s answered=%d\n%s\n", r.Header.Get(webhooks.HeaderID), ce.Type, ce.Subject,
		time.Unix(ts, 0).UTC().Format(time.RFC3339), rc.status, body)
	w.WriteHeader(rc.status)
}
