package api_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchAPI measures one request kind under concurrent load (4 clients per
// GOMAXPROCS) over HTTP against DynamoDB Local, and reports the latency
// percentiles.
func benchAPI(b *testing.B, do func(h *harness, i int) int, want int) {
	h := newBenchHarness(b)
	for i := range 20 {
		h.seed(fmt.Sprintf("bench-%d", i), 10_000_000, 10_000_000) // 4000 points each
	}
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	var seq atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 64)
		for pb.Next() {
			i := int(seq.Add(1))
			start := time.Now()
			if got := do(h, i); got != want {
				b.Errorf("status %d, want %d", got, want)
				return
			}
			local = append(local, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*50/100].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[min(len(lat)*99/100, len(lat)-1)].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkAPIBalanceRead: GET /v1/members/{id} (member, program, expiring lots).
func BenchmarkAPIBalanceRead(b *testing.B) {
	benchAPI(b, func(h *harness, i int) int {
		return h.call("GET", fmt.Sprintf("/v1/members/bench-%d", i%20), "telco/app", nil).Status
	}, 200)
}

// BenchmarkAPIRedemption: POST /v1/members/{id}/redemptions with immediate
// capture, spread over 20 members (so requests of one member contend).
func BenchmarkAPIRedemption(b *testing.B) {
	benchAPI(b, func(h *harness, i int) int {
		return h.call("POST", fmt.Sprintf("/v1/members/bench-%d/redemptions", i%20), "telco/app",
			map[string]any{"points": 1, "capture": true}).Status
	}, 201)
}
