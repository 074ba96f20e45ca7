package webhooks_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/webhooks"
)

// verify is the README's verification snippet: what a partner's receiver
// does with a delivery, with the standard library only (the Standard
// Webhooks libraries do the same: standardwebhooks.NewWebhook(secret).Verify
// (body, r.Header)).
func verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("bad webhook-timestamp")
	}
	// The replay window: 5 minutes either way.
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("webhook-timestamp outside the replay window")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	// One signature per secret Accrue signs with (two during a rotation).
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("no valid signature")
}

// A receiver verifies each delivery, deduplicates on webhook-id, and answers
// 2xx once it has the event.
func Example_verify() {
	secret := webhooks.NewSecret() // what POST /v1/webhooks answered
	seen := map[string]bool{}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable", http.StatusBadRequest)
			return
		}
		if err := verify(secret, r.Header, body, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if id := r.Header.Get("webhook-id"); !seen[id] { // at least once: skip what was handled
			seen[id] = true
			fmt.Println("handled", id)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	send := func(id, secret string) int {
		body := `{"specversion":"1.0","id":"` + id + `","type":"points.earned","data":{}}`
		sig, _ := webhooks.Sign(id, time.Now(), []byte(body), secret)
		req, _ := http.NewRequest(http.MethodPost, receiver.URL, strings.NewReader(body))
		webhooks.Headers(req.Header, id, time.Now(), sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(send("evt_1", secret))
	fmt.Println(send("evt_1", secret)) // a retry of the same delivery
	fmt.Println(send("evt_2", webhooks.NewSecret()))
	// Output:
	// handled evt_1
	// 204
	// 204
	// 401
}

// The snippet verifies the specification's published example, and refuses it
// with another secret or outside the window.
func TestVerifySnippetOnTheSpecificationsVector(t *testing.T) {
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v2,abc v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	body, at := []byte(`{"test": 2432232314}`), time.Unix(1614265330, 0)
	if err := verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, body, at.Add(time.Minute)); err != nil {
		t.Errorf("the spec's example: %v", err)
	}
	if verify(webhooks.NewSecret(), h, body, at) == nil {
		t.Error("verified with another secret")
	}
	if verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, body, at.Add(6*time.Minute)) == nil {
		t.Error("verified outside the replay window")
	}
}
