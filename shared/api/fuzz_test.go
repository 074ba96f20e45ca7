package api

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/eventschema"
	"github.com/accrue/accrue/shared/payment"
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
		`{"to_member_id":"m2","points":5,"reason":"gift"}`, `{"to_member_id":null,"points":-1}`, `{"role":"admin","label":"ops"}`,
		`{"role":7}`, `{"absorbed_member_id":"m2","reason":"one person"}`, `{"absorbed_member_id":"m1"}`, `{"absorbed_member_id":"","reason":" "}`,
	} {
		f.Add([]byte(seed))
	}
	targets := []func() any{
		func() any { return &enrollRequest{} }, func() any { return &patchRequest{} },
		func() any { return &redeemRequest{} }, func() any { return &adjustRequest{} },
		func() any { return &activityRequest{} }, func() any { return &rewardsRequest{} },
		func() any { return &simulateRequest{} }, func() any { return &transferRequest{} },
		func() any { return &createKeyRequest{} }, func() any { return &mergeRequest{} },
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range targets {
			v := target()
			err := decodeStrict(body, v)
			if tr, ok := v.(*transferRequest); ok && err == nil {
				err = tr.validate("m1") // the transfer's own checks: client problems too
			}
			if mr, ok := v.(*mergeRequest); ok && err == nil {
				err = mr.validate("m1") // the merge's own checks
			}
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

// FuzzAuditQuery: any query string of GET /v1/audit gives either a query
// (from not after to, a valid member id, a limit of 1..100) or a
// validation-error naming one of the parameters — never a panic, never
// another problem.
func FuzzAuditQuery(f *testing.F) {
	for _, seed := range []string{
		"", "from=2026-11-05&to=2026-11-06", "from=2026-11-05T10:00:00Z", "to=2026-11-05T10:00:00.123456789+03:00",
		"from=2026-11-06&to=2026-11-05", "member_id=m1&limit=5&cursor=abc", "member_id=", "member_id=a%20b", "limit=0",
		"from=0000-01-01", "to=9999-12-31", "from=2026-02-30", "from=%ff", "to=2026-11-05T24:00:00Z", "from=-0001-01-01T00:00:00Z",
		"from=a&from=2026-11-05",
	} {
		f.Add(seed)
	}
	params := []string{"from", "to", "member_id", "limit", "cursor"}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // the server never sees an unparsable query as parameters
		}
		aq, err := auditQuery(q)
		if err != nil {
			p, _ := toProblem(err)
			if p.Status != 400 || p.Type != ProblemBase+"validation-error" || len(p.Errors) != 1 || !slices.Contains(params, p.Errors[0].Field) {
				t.Fatalf("query %q: problem %+v", raw, p)
			}
			return
		}
		if !aq.From.IsZero() && !aq.To.IsZero() && aq.To.Before(aq.From) {
			t.Fatalf("query %q: to %v before from %v", raw, aq.To, aq.From)
		}
		if aq.Limit < 1 || aq.Limit > 100 || (aq.MemberID != "" && !payment.ValidExternalID(aq.MemberID)) {
			t.Fatalf("query %q: %+v", raw, aq)
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
