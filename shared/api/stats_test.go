package api_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/streampoller"
	"github.com/accrue/accrue/internal/streamtest"
	"github.com/accrue/accrue/shared/rollup"
)

// GET /v1/stats returns what the roll-up wrote: closed days and today's
// figures so far, each field as the OpenAPI document describes it (checked
// when the test ends), and only the caller's partner's days.
func TestStatsFromRollup(t *testing.T) {
	h := newHarness(t)
	h.seed("s1", 100000, 250000) // 10 + 25 points, 2026-11-05 15:00 Moscow time
	later := now.Add(48 * time.Hour)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	// The stats consumer sums the table's stream first (the stats function
	// does, all along, in AWS).
	arn, err := streampoller.StreamARN(context.Background(), h.db, h.table)
	if err != nil {
		t.Fatal(err)
	}
	p := streampoller.NewWindowPoller(awstest.StreamsClient(t), arn, rollup.NewConsumer(h.st, log).Handle)
	p.Log, p.MaxRetries = log, 1
	streamtest.Drain(t, p)
	job := rollup.New(h.st, log, rollup.WithClock(func() time.Time { return later }))
	if _, err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := h.call("GET", "/v1/stats?from=2026-11-01&to=2026-11-30", "telco/admin", nil).expect(t, 200, "")
	data, _ := r.Body["data"].([]any)
	if len(data) != 3 {
		t.Fatalf("stats: %s", r.Raw)
	}
	first := data[0].(map[string]any)
	if str(first, "day") != "2026-11-05" || num(t, first, "issued") != 35 || num(t, first, "outstanding") != 35 ||
		num(t, first, "liability_minor") != 350 || str(first, "currency") != "RUB" || num(t, first, "active_members") != 1 ||
		first["final"] != true || str(first, "as_of") != "2026-11-05T21:00:00Z" {
		t.Fatalf("first day: %v", first)
	}
	if today := data[2].(map[string]any); today["final"] != false || str(today, "as_of") != later.Format(time.RFC3339) || num(t, today, "outstanding") != 35 {
		t.Fatalf("today: %v", today)
	}
	r = h.call("GET", "/v1/stats?from=2026-11-01&to=2026-11-30", "other/admin", nil).expect(t, 200, "")
	for _, d := range r.Body["data"].([]any) {
		if num(t, d, "issued") != 0 || num(t, d, "outstanding") != 0 {
			t.Fatalf("other partner's stats show telco's points: %s", r.Raw)
		}
	}
}
