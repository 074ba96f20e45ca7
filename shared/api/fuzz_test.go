package api

import (
	"errors"
	"testing"
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
