package domainevents_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/memberjobs"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// jobsE2EProgram: the e2e program with points expiring 30 days after earning,
// announced 7 days before, and a 30-day qualifying window.
const jobsE2EProgram = `{
  "name": "E2E jobs",
  "auto_enroll": true,
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 100}}],
  "tiers": [{"name": "base", "threshold": 0, "multiplier": "1"}, {"name": "gold", "threshold": 1000, "multiplier": "1"}],
  "qualifying_window_days": 30,
  "expiry": {"rolling_days": 30, "warn_days": 7},
  "point_value": {"minor": "100", "currency": "RUB"}
}`

// TestJobEvents: what the scheduled member jobs change reaches the bus as
// points.expiring, points.expired and tier.changed, once each — also when
// the bus is down while the jobs run, and with every job run twice.
func TestJobEvents(t *testing.T) {
	t.Parallel()
	for _, down := range []bool{false, true} {
		t.Run(fmt.Sprintf("bus down %v", down), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			e := newE2E(t)
			var clock atomic.Int64
			now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
			set := func(t time.Time) { clock.Store(t.UnixNano()) }
			st := store.New(e.db, e.table, store.WithClock(now), store.WithProgramCacheTTL(0))
			p, err := program.Parse([]byte(jobsE2EProgram))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.PutProgram(ctx, "acme", p); err != nil {
				t.Fatal(err)
			}
			runner := memberjobs.New(st, memberjobs.WithClock(now), memberjobs.WithLogger(quiet()))

			cfg := awstest.AWSConfig()
			cfg.RetryMaxAttempts = 1
			bus := &downBus{up: e.eb, refusing: eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) {
				o.BaseEndpoint = aws.String("http://127.0.0.1:1")
			})}
			bus.down.Store(down)
			var failedBatches atomic.Int64
			pub := domainevents.NewPublisher(bus, e.bus, domainevents.WithLogger(quiet()), domainevents.WithRetries(2, 10*time.Millisecond))
			e.runPoller(t, func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				resp, err := pub.HandleStream(ctx, ev)
				if len(resp.BatchItemFailures) > 0 {
					failedBatches.Add(1)
				}
				return resp, err
			})

			t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
			set(t0)
			for _, py := range []struct {
				member string
				minor  int64
			}{{"m1", 110000}, {"m2", 20000}} {
				if _, err := st.Apply(ctx, payment.Payment{
					EventID: "evt-" + py.member, Source: "test", Type: payment.TypeSucceeded, Time: t0,
					PartnerID: "acme", MemberID: py.member, PaymentID: "pay-" + py.member, AmountMinor: py.minor, Currency: "RUB", Category: "telecom",
				}); err != nil {
					t.Fatal(err)
				}
			}
			for _, at := range []time.Time{
				t0.AddDate(0, 0, 23),                  // warnings
				t0.AddDate(0, 0, 30),                  // expiry
				t0.AddDate(0, 0, 30).Add(time.Second), // the payment leaves the window: m1 back to base
			} {
				set(at)
				for range 2 {
					if _, err := runner.Run(ctx); err != nil {
						t.Fatal(err)
					}
				}
				for _, m := range []string{"m1", "m2"} {
					if err := st.Audit(ctx, "acme", m); err != nil {
						t.Fatal(err)
					}
				}
			}
			if down {
				deadline := time.Now().Add(30 * time.Second)
				for failedBatches.Load() < 3 && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if failedBatches.Load() < 3 {
					t.Fatal("the publisher reported no failure while the bus was down")
				}
				bus.down.Store(false)
			}

			want := []string{
				"points.earned m1 1100", "points.earned m2 200",
				"points.expired m1 1100", "points.expired m2 200",
				"points.expiring m1 1100", "points.expiring m2 200",
				"tier.changed m1 0", "tier.changed m1 0",
			}
			got := e.receive(t, len(want), 2*time.Second)
			expected := e.streamEvents(t)
			if s := summary(expected); fmt.Sprint(s) != fmt.Sprint(want) {
				t.Fatalf("the stream maps to %q\nwant %q", s, want)
			}
			checkArrived(t, got, expected, false)
			for _, m := range got {
				d := m.Detail
				switch d.Type {
				case "points.expiring":
					if d.ExpiresAt == nil || !d.ExpiresAt.Equal(t0.AddDate(0, 0, 30)) {
						t.Errorf("expiring event %+v", d)
					}
					fallthrough
				case "points.expired":
					// 1 point = 1.00 RUB: the value is points × 100 kopecks.
					if d.Value == nil || d.Value.AmountMinor != d.Points*100 || d.Value.Currency != "RUB" {
						t.Errorf("%s event without the points' value: %+v", d.Type, d)
					}
				case "tier.changed":
					if d.FromTier == "gold" && (d.ToTier != "base" || d.Qualifying == nil || *d.Qualifying != 0) {
						t.Errorf("downgrade event %+v", d)
					}
				}
			}
		})
	}
}
