package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/store"
)

// listed is the --json output of accrue rejected list.
type listed struct {
	Data []struct {
		ID               string    `json:"id"`
		PartnerID        string    `json:"partner_id"`
		ClaimedPartnerID string    `json:"claimed_partner_id"`
		MessageID        string    `json:"message_id"`
		ReceivedAt       time.Time `json:"received_at"`
		Reason           string    `json:"reason"`
		Body             string    `json:"body"`
	} `json:"data"`
	NextCursor string `json:"next_cursor"`
}

func (e *tenv) list(args ...string) listed {
	e.t.Helper()
	r := e.ok(append([]string{"rejected", "list", "--json"}, args...)...)
	var l listed
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
		e.t.Fatalf("rejected list %v: %v\n%s", args, err, r.stdout)
	}
	return l
}

func (l listed) ids() []string {
	var ids []string
	for _, d := range l.Data {
		ids = append(ids, d.ID)
	}
	return ids
}

// Operators see the rejected events no partner can see — those whose partner
// is unknown or unreadable — and any partner's, with filters, paging and the
// raw body (issue #9, item 9).
func TestRejectedListAndShow(t *testing.T) {
	t.Parallel()
	e := newTenv(t)
	e.ok("partner", "create", "--id", "telco", "--program", e.file("p.json", testProgram), "--no-key")
	proc := ingest.New(store.New(awstest.Client(t), e.table), slog.New(slog.NewJSONHandler(io.Discard, nil)), nil)
	event := func(partner, currency string) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":"e-%[1]s","source":"billing/x","type":"payment.succeeded","time":"2026-11-05T10:00:00Z",
			"data":{"partner_id":%[1]q,"member_id":"m1","payment_id":"p-%[1]s","amount_minor":100,"currency":%[2]q,"category":"telecom"}}`, partner, currency)
	}
	t0 := time.Date(2026, 11, 5, 10, 0, 0, 123456789, time.UTC)
	msgs := []struct{ id, body, reason string }{
		{"sqs-1", "{\"data\":\x1b[2J\x1b]0;owned\x07", "malformed_json"}, // a terminal escape in the raw body
		{"sqs-2", event("nobody", "RUB"), "unknown_partner"},
		{"sqs-3", event("ghost", "RUB"), "unknown_partner"},
		{"sqs-4", event("telco", "XAU"), "unknown_currency"}, // kept under telco
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		at := t0.Add(time.Duration(i) * time.Minute)
		res, err := proc.Process(t.Context(), ingest.Message{ID: m.id, Source: "sqs", Body: []byte(m.body), ReceivedAt: at})
		if err != nil || res.Rejection == nil || res.Rejection.Reason != m.reason {
			t.Fatalf("%s: %+v, %v", m.id, res, err)
		}
		scope := "OPS"
		if i == 3 {
			scope = "telco"
		}
		ids[i] = fmt.Sprintf("%s/%d/%s", scope, at.UnixNano(), m.id)
	}

	// The operators' partition is the default, newest first.
	all := e.list()
	if got := all.ids(); !slices.Equal(got, []string{ids[2], ids[1], ids[0]}) || all.NextCursor != "" {
		t.Fatalf("ops list %v (cursor %q), want %v", got, all.NextCursor, []string{ids[2], ids[1], ids[0]})
	}
	if d := all.Data[1]; d.PartnerID != "" || d.ClaimedPartnerID != "nobody" || d.Body != msgs[1].body || !d.ReceivedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("unknown partner's rejection: %+v", d)
	}
	if got := e.list("--ops").ids(); !slices.Equal(got, all.ids()) {
		t.Fatalf("--ops %v", got)
	}
	if got := e.list("--partner", "telco").ids(); !slices.Equal(got, []string{ids[3]}) {
		t.Fatalf("telco's list %v", got)
	}
	// The table: a row per event, ids first; the escape in a body never reaches the terminal.
	r := e.ok("rejected", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], ids[2]+" ") || !strings.Contains(lines[3], "malformed_json") || strings.ContainsRune(r.stdout, '\x1b') {
		t.Fatalf("table:\n%s", r.stdout)
	}

	// Filters.
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--reason", "unknown_partner"}, []string{ids[2], ids[1]}},
		{[]string{"--reason", "unknown_currency"}, nil},
		{[]string{"--reason", "unknown_currency", "--partner", "telco"}, []string{ids[3]}},
		{[]string{"--since", t0.Add(time.Minute).Format(time.RFC3339Nano)}, []string{ids[2], ids[1]}},
		{[]string{"--until", t0.Add(time.Minute).Format(time.RFC3339Nano)}, []string{ids[1], ids[0]}},
		{[]string{"--since", t0.Add(30 * time.Second).Format(time.RFC3339), "--until", t0.Add(90 * time.Second).Format(time.RFC3339)}, []string{ids[1]}},
		{[]string{"--since", "2026-11-05", "--until", "2026-11-05"}, []string{ids[2], ids[1], ids[0]}}, // the whole day
		{[]string{"--until", "2026-11-04"}, nil},
		{[]string{"--since", "1h"}, nil}, // an hour ago: long after the events
	} {
		if got := e.list(c.args...).ids(); !slices.Equal(got, c.want) {
			t.Errorf("list %v: %v, want %v", c.args, got, c.want)
		}
	}

	// Paging with the store's cursors, with and without a filter.
	for _, filter := range [][]string{nil, {"--reason", "unknown_partner"}} {
		var got []string
		cursor := ""
		for page := 0; ; page++ {
			args := append([]string{"--limit", "1"}, filter...)
			if cursor != "" {
				args = append(args, "--cursor", cursor)
			}
			l := e.list(args...)
			if len(l.Data) > 1 || page > 5 {
				t.Fatalf("page %d: %+v", page, l)
			}
			got = append(got, l.ids()...)
			if cursor = l.NextCursor; cursor == "" {
				break
			}
		}
		want := all.ids()
		if filter != nil {
			want = want[:2]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("pages %v with %v, want %v", got, filter, want)
		}
	}
	r = e.ok("rejected", "list", "--limit", "2")
	if !strings.Contains(r.stderr, "More: add --cursor ") {
		t.Fatalf("no cursor printed: %q", r.stderr)
	}

	// show: the record and the raw body, escaped for the terminal; --raw as received.
	r = e.ok("rejected", "show", ids[0])
	for _, want := range []string{"reason:", "malformed_json", "sqs-1", "the operators' partition", `{"data":\u001b[2J\u001b]0;owned\u0007`} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("show lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.ContainsRune(r.stdout, '\x1b') {
		t.Fatalf("show printed a raw escape:\n%q", r.stdout)
	}
	if r = e.ok("rejected", "show", ids[0], "--raw"); r.stdout != msgs[0].body {
		t.Fatalf("--raw %q, want %q", r.stdout, msgs[0].body)
	}
	r = e.ok("rejected", "show", "--json", ids[3])
	var shown struct{ ID, Reason, Body, PartnerID string }
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || shown.ID != ids[3] || shown.Reason != "unknown_currency" || shown.Body != msgs[3].body {
		t.Fatalf("show --json: %v\n%s", err, r.stdout)
	}

	// Mistakes.
	ops := e.list("--limit", "1")
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"list", "--partner", "telco", "--ops"}, 2, "exclude each other"},
		{[]string{"list", "--reason", "bogus"}, 2, "--reason"},
		{[]string{"list", "--limit", "0"}, 2, "--limit"},
		{[]string{"list", "--since", "yesterday"}, 2, "--since"},
		{[]string{"list", "--since", "2026-11-06", "--until", "2026-11-05"}, 2, "before"},
		{[]string{"list", "--cursor", "not-a-cursor"}, 2, "--cursor"},
		{[]string{"list", "--partner", "telco", "--cursor", ops.NextCursor}, 2, "--cursor"}, // another partition's
		{[]string{"list", "--partner", "Bad!"}, 2, "--partner"},
		{[]string{"show"}, 2, "ID is required"},
		{[]string{"show", "telco-123"}, 2, "PARTNER/NANOSECONDS/MESSAGE_ID"},
		{[]string{"show", "Bad!/1/x"}, 2, "neither a partner"},
		{[]string{"show", ids[0], "--raw", "--json"}, 2, "exclude"},
		{[]string{"show", fmt.Sprintf("OPS/%d/sqs-9", t0.UnixNano())}, 1, "no rejected event"},
		{[]string{"show", strings.Replace(ids[3], "telco/", "OPS/", 1)}, 1, "no rejected event"}, // telco's is not the operators'
	} {
		r := e.run(append([]string{"rejected"}, c.args...)...)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("accrue rejected %v: exit %d, stderr %q; want %d and %q", c.args, r.code, r.stderr, c.code, c.msg)
		}
	}
}
