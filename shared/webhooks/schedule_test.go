package webhooks

import (
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/store"
)

// The default schedule retries for more than a day, and every wait fits
// what SQS can make a message wait (a delay, then at most one hiding).
func TestDefaultScheduleSpansADay(t *testing.T) {
	s := DefaultSchedule
	if s.Span() < MinSpan {
		t.Fatalf("the default schedule spans %s, less than %s", s.Span(), MinSpan)
	}
	if s.Attempts() != 8 {
		t.Errorf("%d attempts, want 8", s.Attempts())
	}
	for _, w := range s {
		if w > MaxWait {
			t.Errorf("wait %s longer than a delay and one hiding (%s)", w, MaxWait)
		}
		// Received at most twice: once after the delay, once when due.
		if rest := w - time.Duration(DelaySeconds(w))*time.Second; rest > 0 && time.Duration(VisibilitySeconds(rest))*time.Second < rest {
			t.Errorf("wait %s: the hiding after the delay does not cover the rest %s", w, rest)
		}
	}
}

func TestScheduleNext(t *testing.T) {
	s := Schedule{time.Second, time.Minute}
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		try  int
		due  time.Time
		dead bool
	}{
		{1, at.Add(time.Second), false},
		{2, at.Add(time.Minute), false},
		{3, time.Time{}, true},
		{0, time.Time{}, true},
		{99, time.Time{}, true},
	} {
		due, dead := s.Next(tc.try, at)
		if !due.Equal(tc.due) || dead != tc.dead {
			t.Errorf("Next(%d) = %s, %v; want %s, %v", tc.try, due, dead, tc.due, tc.dead)
		}
	}
}

func TestWaits(t *testing.T) {
	for _, tc := range []struct {
		d                 time.Duration
		delay, visibility int32
	}{
		{-time.Second, 0, 1},
		{0, 0, 1},
		{300 * time.Millisecond, 1, 1},
		{5 * time.Second, 5, 5},
		{5 * time.Minute, 300, 300},
		{15 * time.Minute, 900, 900},
		{10 * time.Hour, 900, 36000},
		{13 * time.Hour, 900, 43200},
	} {
		if got := DelaySeconds(tc.d); got != tc.delay {
			t.Errorf("DelaySeconds(%s) = %d, want %d", tc.d, got, tc.delay)
		}
		if got := VisibilitySeconds(tc.d); got != tc.visibility {
			t.Errorf("VisibilitySeconds(%s) = %d, want %d", tc.d, got, tc.visibility)
		}
	}
}

func TestParseSchedule(t *testing.T) {
	s, err := ParseSchedule(DefaultSchedule.String())
	if err != nil || s.String() != DefaultSchedule.String() {
		t.Fatalf("round trip: %v %v", s, err)
	}
	if s, err := ParseSchedule(" 1s, 2s ,3s"); err != nil || len(s) != 3 || s[2] != 3*time.Second {
		t.Errorf("ParseSchedule: %v %v", s, err)
	}
	for _, bad := range []string{"", "1s,", "500ms", "13h", "x", "-1s"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q): no error", bad)
		}
	}
}

func validMessage() Message {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	wh := store.NewWebhookID()
	return Message{V: 1, Partner: "telco", Webhook: wh, Delivery: store.DeliveryID(wh, "evt_1", at), EventID: "evt_1",
		EventType: "points.earned", EventTime: at, Body: `{"specversion":"1.0"}`, Attempt: 3, Try: 1, Due: at}
}

func TestMessageRoundTrip(t *testing.T) {
	m := validMessage()
	s, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseMessage([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	if got != m {
		t.Fatalf("round trip %+v, want %+v", got, m)
	}
	for name, change := range map[string]func(*Message){
		"version":       func(m *Message) { m.V = 2 },
		"partner":       func(m *Message) { m.Partner = "Tel#co" },
		"webhook":       func(m *Message) { m.Webhook = "wh_x" },
		"other event":   func(m *Message) { m.EventID = "evt_2" },
		"delivery id":   func(m *Message) { m.Delivery = strings.Replace(m.Delivery, "dlv_", "dlv_0", 1)[:36] },
		"try > attempt": func(m *Message) { m.Try = 4 },
		"attempt 0":     func(m *Message) { m.Attempt, m.Try = 0, 0 },
		"no due":        func(m *Message) { m.Due = time.Time{} },
		"body":          func(m *Message) { m.Body = "[]" },
		"bad body":      func(m *Message) { m.Body = "{" },
	} {
		bad := validMessage()
		bad.Webhook, bad.Delivery = m.Webhook, m.Delivery
		change(&bad)
		s, err := bad.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseMessage([]byte(s)); err == nil {
			t.Errorf("%s: ParseMessage accepted %s", name, s)
		}
	}
	for _, raw := range []string{``, `{}`, `[]`, s + `x`, strings.Replace(s, `{"v":1`, `{"v":1,"extra":true`, 1)} {
		if _, err := ParseMessage([]byte(raw)); err == nil {
			t.Errorf("ParseMessage accepted %q", raw)
		}
	}
}

// FuzzParseMessage: any queue message gives a valid Message or an error.
func FuzzParseMessage(f *testing.F) {
	s, err := validMessage().Encode()
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{s, `{}`, `{"v":1}`, `{"detail-type":"x"}`, ``, `null`, `{"v":1,"attempt":-1}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err != nil {
			return
		}
		if m.Attempt < 1 || m.Try < 1 || m.Try > m.Attempt || m.Delivery != store.DeliveryID(m.Webhook, m.EventID, m.EventTime) {
			t.Fatalf("accepted an invalid message %+v", m)
		}
		if _, err := m.Encode(); err != nil {
			t.Fatalf("accepted a message that does not encode: %v", err)
		}
	})
}
