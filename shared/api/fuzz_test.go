package api

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/eventschema"
	"github.com/accrue/accrue/shared/webhooks"
)

// FuzzRequestBodies: any bytes sent as a request body give either a decoded
// value or a client problem (never a panic, never an internal error).
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"member_id":"m1","tags":["vip"]}`, `{"tags":null,"status":"suspended"}`,
		`{"points":5,"capture":true,"hold_minutes":10}`, `{"reward_id":"mug"}`, `{"points":-3,"reason":"x"}`,
		`{"name":"autopay_enabled"}`, `{"rewards":[{"id":"a","name":"A","cost":1,"stock":2}]}`,
		`{"program":{"name":"x"},"member_id":"m"}`, `{"points":1e400}`, `[]`, `{"a":1} {"b":2}`, ``, `{`,
	} {
		f.Add([]byte(seed))
	}
	targets := []func() any{
		func() any { return &enrollRequest{} }, func() any { return &patchRequest{} },
		func() any { return &redeemRequest{} }, func() any { return &adjustRequest{} },
		func() any { return &activityRequest{} }, func() any { return &rewardsRequest{} },
		func() any { return &simulateRequest{} },
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range targets {
			err := decodeStrict(body, target())
			if err == nil {
				continue
			}
			var ae *apiError
			if !errors.As(err, &ae) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if p, _ := toProblem(err); p.Status >= 500 {
				t.Fatalf("body %q gave a %d", body, p.Status)
			}
		}
	})
}

// FuzzWebhookRequests: any body of POST /v1/webhooks or PATCH
// /v1/webhooks/{id} gives either a checked change (a URL the policy
// accepts, catalogue types only, sorted and unique, an overlap in range) or
// a client problem naming a field — never a panic, never a 5xx.
func FuzzWebhookRequests(f *testing.F) {
	for _, seed := range []string{
		`{"url":"https://hooks.example.com/a","event_types":["points.earned"],"active":true}`,
		`{"url":"http://127.0.0.1:8080/x"}`, `{"url":"https://[::1]/"}`, `{"url":"https://169.254.169.254/"}`,
		`{"event_types":["points.earned","points.earned","tier.changed"]}`, `{"event_types":["nope"]}`,
		`{"rotate_secret":{"overlap_hours":24}}`, `{"rotate_secret":{"overlap_hours":1e9}}`, `{"rotate_secret":null}`,
		`{"url":null,"active":null}`, `{"url":"https://u:p@x.example/#f"}`, `{}`, `[]`, ``, `{`, `{"url":"` + strings.Repeat("a", 3000) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	known := eventschema.Types()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, create := range []bool{true, false} {
			ch, err := parseWebhookRequest(context.Background(), body, create, webhooks.PolicyHTTPS, nil)
			if err != nil {
				var ae *apiError
				if !errors.As(err, &ae) {
					t.Fatalf("error of type %T: %v", err, err)
				}
				if p, _ := toProblem(err); p.Status != 400 || (p.Type == probValidation.URI() && len(p.Errors) == 0) {
					t.Fatalf("body %q gave %+v", body, p)
				}
				continue
			}
			if create && ch.url == nil {
				t.Fatalf("created without a URL: %q", body)
			}
			if ch.url != nil && webhooks.CheckURL(context.Background(), *ch.url, webhooks.PolicyHTTPS, nil) != nil {
				t.Fatalf("accepted the URL %q", *ch.url)
			}
			if ch.eventTypes != nil {
				ts := *ch.eventTypes
				for i, typ := range ts {
					if !slices.Contains(known, typ) || (i > 0 && ts[i-1] >= typ) {
						t.Fatalf("event types %v", ts)
					}
				}
			}
			if ch.overlap < 0 || ch.overlap > MaxOverlapHours*time.Hour || (create && ch.rotate) {
				t.Fatalf("rotation %v, %s", ch.rotate, ch.overlap)
			}
		}
	})
}
