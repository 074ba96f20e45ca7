package store

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// memShards simulates DynamoDB's queries of an endpoint's delivery shards:
// each shard newest first; a query evaluates at most limit records below
// before, returns those that pass the filter and, when records are left,
// the id it stopped at (what LastEvaluatedKey says).
type memShards [DeliveryShards][]Delivery

func (m *memShards) query(limit int, status string) func(before string) ([]shardPage, error) {
	return func(before string) ([]shardPage, error) {
		pages := make([]shardPage, DeliveryShards)
		for i, shard := range m {
			var evaluated []Delivery
			for _, d := range shard {
				if before == "" || d.ID < before {
					evaluated = append(evaluated, d)
				}
			}
			if len(evaluated) > limit {
				pages[i].last = evaluated[limit-1].ID
				evaluated = evaluated[:limit]
			}
			for _, d := range evaluated {
				if status == "" || d.Status == status {
					pages[i].items = append(pages[i].items, d)
				}
			}
		}
		return pages, nil
	}
}

// Paging through the merged shards yields every delivery the filter keeps,
// newest first, each once, whatever the page size, the filter and how the
// deliveries fall into shards.
func TestPageDeliveriesMergesTheShards(t *testing.T) {
	for seed := range uint64(60) {
		r := rand.New(rand.NewPCG(seed, 7))
		var m memShards
		var all []Delivery
		n := r.IntN(400)
		t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		for i := range n {
			// Some deliveries share a time (the same instant, other events).
			at := t0.Add(time.Duration(r.IntN(n/2+1)) * time.Millisecond)
			d := Delivery{ID: DeliveryID("wh_1", fmt.Sprintf("evt_%d", i), at), Status: DeliveryStatuses[r.IntN(3)]}
			if r.IntN(10) > 0 {
				d.Status = DeliveryDelivered // dead and pending are rare
			}
			all = append(all, d)
			shard := bucket(d.ID, DeliveryShards)
			m[shard] = append(m[shard], d)
		}
		for i := range m {
			slices.SortFunc(m[i], func(a, b Delivery) int { return strings.Compare(b.ID, a.ID) })
		}
		slices.SortFunc(all, func(a, b Delivery) int { return strings.Compare(b.ID, a.ID) })
		for _, status := range []string{"", DeliveryDead} {
			var want []string
			for _, d := range all {
				if status == "" || d.Status == status {
					want = append(want, d.ID)
				}
			}
			limit := 1 + r.IntN(60)
			var got []string
			before := ""
			for pages := 0; ; pages++ {
				if pages > n+5 {
					t.Fatalf("seed %d: paging does not end", seed)
				}
				items, next, err := pageDeliveries(limit, before, m.query(limit, status))
				if err != nil {
					t.Fatal(err)
				}
				if len(items) > limit {
					t.Fatalf("seed %d: a page of %d, limit %d", seed, len(items), limit)
				}
				for _, d := range items {
					got = append(got, d.ID)
				}
				if next == "" {
					break
				}
				if next == before {
					t.Fatalf("seed %d: the cursor does not advance", seed)
				}
				before = next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d, status %q, limit %d: paged %d deliveries, want %d in order", seed, status, limit, len(got), len(want))
			}
		}
	}
}

// Delivery ids sort by the event's time, and are the same for the same
// endpoint and event.
func TestDeliveryIDs(t *testing.T) {
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	a, b := DeliveryID("wh_1", "evt_1", at), DeliveryID("wh_1", "evt_1", at)
	if a != b || !ValidDeliveryID(a) {
		t.Fatalf("ids %q %q", a, b)
	}
	if DeliveryID("wh_2", "evt_1", at) == a || DeliveryID("wh_1", "evt_2", at) == a {
		t.Error("another endpoint or event has the same delivery id")
	}
	if later := DeliveryID("wh_1", "evt_0", at.Add(time.Nanosecond)); later <= a {
		t.Errorf("a later event's id %q sorts before %q", later, a)
	}
	for _, bad := range []string{"", "dlv_", a + "0", strings.ToUpper(a), "wh_" + a[4:]} {
		if ValidDeliveryID(bad) {
			t.Errorf("ValidDeliveryID(%q) = true", bad)
		}
	}
	id := NewWebhookID()
	if !ValidWebhookID(id) || ValidWebhookID(id+"0") || ValidWebhookID("wh_") {
		t.Errorf("webhook id %q", id)
	}
}
