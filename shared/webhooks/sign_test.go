package webhooks

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The Standard Webhooks specification's published example (its libraries'
// shared test vector): this secret, id, timestamp and payload sign to this
// signature.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specPayload   = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesTheSpecificationsVector(t *testing.T) {
	for _, secret := range []string{specSecret, strings.TrimPrefix(specSecret, SecretPrefix)} {
		got, err := Sign(specID, time.Unix(specTimestamp, 0), []byte(specPayload), secret)
		if err != nil {
			t.Fatal(err)
		}
		if got != specSignature {
			t.Errorf("Sign with %q = %q, want the spec's %q", secret, got, specSignature)
		}
	}
}

func signed(t *testing.T, id string, at time.Time, body string, secrets ...string) http.Header {
	t.Helper()
	sig, err := Sign(id, at, []byte(body), secrets...)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	Headers(h, id, at, sig)
	return h
}

// Verify accepts what Sign signed with the receiver's secret, within the
// replay window, and nothing else; during a rotation's overlap a delivery
// carries both signatures and verifies with either secret.
func TestVerify(t *testing.T) {
	oldSecret, newSecret, other := NewSecret(), NewSecret(), NewSecret()
	now := time.Now()
	body := `{"specversion":"1.0","id":"evt_1"}`
	for _, tc := range []struct {
		name    string
		header  http.Header
		body    string
		secret  string
		wantErr error
	}{
		{"signed with the secret", signed(t, "evt_1", now, body, newSecret), body, newSecret, nil},
		{"overlap: the new secret", signed(t, "evt_1", now, body, newSecret, oldSecret), body, newSecret, nil},
		{"overlap: the old secret", signed(t, "evt_1", now, body, newSecret, oldSecret), body, oldSecret, nil},
		{"after the overlap: the old secret", signed(t, "evt_1", now, body, newSecret), body, oldSecret, standardwebhooks.ErrNoMatchingSignature},
		{"a wrong secret", signed(t, "evt_1", now, body, newSecret), body, other, standardwebhooks.ErrNoMatchingSignature},
		{"another body", signed(t, "evt_1", now, body, newSecret), body + " ", newSecret, standardwebhooks.ErrNoMatchingSignature},
		{"another id", func() http.Header {
			h := signed(t, "evt_1", now, body, newSecret)
			h.Set(HeaderID, "evt_2")
			return h
		}(), body, newSecret, standardwebhooks.ErrNoMatchingSignature},
		{"just inside the replay window", signed(t, "evt_1", now.Add(-ReplayWindow+5*time.Second), body, newSecret), body, newSecret, nil},
		{"too old: a replay", signed(t, "evt_1", now.Add(-ReplayWindow-time.Second), body, newSecret), body, newSecret, standardwebhooks.ErrMessageTooOld},
		{"from the future", signed(t, "evt_1", now.Add(ReplayWindow+2*time.Second), body, newSecret), body, newSecret, standardwebhooks.ErrMessageTooNew},
		{"a timestamp moved into the window", func() http.Header {
			h := signed(t, "evt_1", now.Add(-time.Hour), body, newSecret)
			h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
			return h
		}(), body, newSecret, standardwebhooks.ErrNoMatchingSignature},
		{"no signature", func() http.Header {
			h := signed(t, "evt_1", now, body, newSecret)
			h.Del(HeaderSignature)
			return h
		}(), body, newSecret, standardwebhooks.ErrRequiredHeaders},
		{"a v2 signature", func() http.Header {
			h := signed(t, "evt_1", now, body, newSecret)
			h.Set(HeaderSignature, strings.Replace(h.Get(HeaderSignature), "v1,", "v2,", 1))
			return h
		}(), body, newSecret, standardwebhooks.ErrNoMatchingSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.header, []byte(tc.body))
			if tc.wantErr == nil && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify: %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := NewSecret()
		if !strings.HasPrefix(s, SecretPrefix) || !ValidSecret(s) || seen[s] {
			t.Fatalf("secret %q: bad or repeated", s)
		}
		seen[s] = true
	}
	for _, bad := range []string{"", "whsec_", "whsec_abc", "whsec_" + strings.Repeat("A", 200), "whsec_!!!!"} {
		if ValidSecret(bad) {
			t.Errorf("ValidSecret(%q) = true", bad)
		}
	}
	if _, err := Sign("x", time.Now(), []byte("{}")); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Sign without a secret: %v", err)
	}
	if _, err := Sign("x", time.Now(), []byte("{}"), "whsec_!!"); err == nil {
		t.Error("Sign with a malformed secret: no error")
	}
}

// FuzzVerifySignatureHeader: whatever the headers hold, Verify returns
// (never panics), and accepts only a signature made with the secret.
func FuzzVerifySignatureHeader(f *testing.F) {
	secret := NewSecret()
	now := time.Now()
	good, err := Sign("evt_1", now, []byte("{}"), secret)
	if err != nil {
		f.Fatal(err)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	for _, seed := range [][3]string{
		{"evt_1", ts, good}, {"evt_1", ts, good + " " + good}, {"evt_1", ts, "v1," + strings.Repeat("A", 44)},
		{"", "", ""}, {"evt_1", "-1", good}, {"evt_1", "99999999999999999999", good}, {"evt_1", ts, ",,, v1,,"},
		{"evt_1", ts, "v1 " + good}, {"evt_1", " " + ts, good}, {"evt\n1", ts, "v1,\x00"},
	} {
		f.Add(seed[0], seed[1], seed[2], []byte("{}"))
	}
	f.Fuzz(func(t *testing.T, id, timestamp, signature string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, timestamp)
		h.Set(HeaderSignature, signature)
		if Verify(secret, h, body) != nil {
			return
		}
		// Accepted: one of its signatures must be the secret's own of
		// exactly this id, timestamp and body.
		sec, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
		if err != nil {
			t.Fatalf("accepted a timestamp %q that is not a number", timestamp)
		}
		want, err := Sign(h.Get(HeaderID), time.Unix(sec, 0), body, secret)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(" "+h.Get(HeaderSignature)+" ", " "+want+" ") {
			t.Fatalf("accepted %q for id %q at %q, whose signature is %q", signature, id, timestamp, want)
		}
	})
}
