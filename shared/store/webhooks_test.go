package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/store"
)

func newWebhook(partner string) store.Webhook {
	return store.Webhook{ID: store.NewWebhookID(), PartnerID: partner, URL: "https://hooks.example.com/" + partner,
		Active: true, Secret: []byte("ciphertext"), SecretAt: t0, CreatedAt: t0, UpdatedAt: t0}
}

// Endpoints: created, read, listed page by page, changed, deleted; a partner
// sees only its own; at most MaxWebhooks each, also when created at once.
func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	var mu sync.Mutex
	var created []string
	var tooMany int
	var wg sync.WaitGroup
	for range store.MaxWebhooks + 4 {
		wg.Go(func() {
			w, err := e.st.CreateWebhook(ctx, newWebhook("telco"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, store.ErrTooManyWebhooks):
				tooMany++
			case err != nil:
				t.Errorf("create: %v", err)
			default:
				created = append(created, w.ID)
			}
		})
	}
	wg.Wait()
	if len(created) != store.MaxWebhooks || tooMany != 4 {
		t.Fatalf("%d created and %d refused of %d at once, want %d and 4", len(created), tooMany, store.MaxWebhooks+4, store.MaxWebhooks)
	}
	other, err := e.st.CreateWebhook(ctx, newWebhook("other"))
	if err != nil {
		t.Fatalf("another partner's first endpoint: %v", err)
	}

	var listed []string
	cursor := ""
	for {
		page, err := e.st.ListWebhooks(ctx, "telco", 5, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range page.Items {
			listed = append(listed, w.ID)
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	slices.Sort(created)
	if !slices.Equal(listed, created) {
		t.Fatalf("listed %v, want %v", listed, created)
	}
	if all, err := e.st.PartnerWebhooks(ctx, "other"); err != nil || len(all) != 1 || all[0].ID != other.ID {
		t.Fatalf("other's endpoints %v %v", all, err)
	}
	if _, err := e.st.ListWebhooks(ctx, "other", 5, func() string {
		p, _ := e.st.ListWebhooks(ctx, "telco", 1, "")
		return p.Next
	}()); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("telco's cursor on other's list: %v, want ErrBadCursor", err)
	}

	// Isolation: another partner's id is not found.
	if _, err := e.st.Webhook(ctx, "other", created[0]); !errors.Is(err, store.ErrWebhookNotFound) {
		t.Errorf("other reads telco's endpoint: %v", err)
	}
	if err := e.st.DeleteWebhook(ctx, "other", created[0]); !errors.Is(err, store.ErrWebhookNotFound) {
		t.Errorf("other deletes telco's endpoint: %v", err)
	}
	if _, err := e.st.UpdateWebhook(ctx, "other", created[0], func(*store.Webhook) error { return nil }); !errors.Is(err, store.ErrWebhookNotFound) {
		t.Errorf("other changes telco's endpoint: %v", err)
	}

	w, err := e.st.UpdateWebhook(ctx, "telco", created[0], func(w *store.Webhook) error {
		w.Active, w.EventTypes = false, []string{"points.earned"}
		return nil
	})
	if err != nil || w.Active || w.Version != 2 || w.Receives("points.earned") {
		t.Fatalf("update: %+v %v", w, err)
	}
	if _, err := e.st.UpdateWebhook(ctx, "telco", created[0], func(w *store.Webhook) error { w.ID = "wh_x"; return nil }); err == nil {
		t.Error("an update changed the endpoint's id")
	}
	// A deletion makes room for one more.
	if err := e.st.DeleteWebhook(ctx, "telco", created[0]); err != nil {
		t.Fatal(err)
	}
	if err := e.st.DeleteWebhook(ctx, "telco", created[0]); !errors.Is(err, store.ErrWebhookNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if _, err := e.st.CreateWebhook(ctx, newWebhook("telco")); err != nil {
		t.Errorf("create after a delete: %v", err)
	}
	if _, err := e.st.CreateWebhook(ctx, newWebhook("telco")); !errors.Is(err, store.ErrTooManyWebhooks) {
		t.Errorf("create beyond the limit: %v", err)
	}
}

func TestWebhookSecretsAndSubscriptions(t *testing.T) {
	until := t0.Add(time.Hour)
	w := store.Webhook{Active: true, Secret: []byte("new"), PrevSecret: []byte("old"), PrevUntil: &until}
	if got := w.Secrets(t0); len(got) != 2 || string(got[0]) != "new" || string(got[1]) != "old" {
		t.Errorf("secrets during the overlap: %q", got)
	}
	if got := w.Secrets(until); len(got) != 1 || string(got[0]) != "new" {
		t.Errorf("secrets after the overlap: %q", got)
	}
	for _, tc := range []struct {
		active bool
		types  []string
		typ    string
		want   bool
	}{
		{true, nil, "tier.changed", true},
		{true, []string{"points.earned"}, "points.earned", true},
		{true, []string{"points.earned"}, "tier.changed", false},
		{false, nil, "points.earned", false},
	} {
		w := store.Webhook{Active: tc.active, EventTypes: tc.types}
		if got := w.Receives(tc.typ); got != tc.want {
			t.Errorf("%+v receives %s: %v", w, tc.typ, got)
		}
	}
}

func delivery(webhook string, i int, status string) store.Delivery {
	at := t0.Add(time.Duration(i) * time.Second)
	return store.Delivery{ID: store.DeliveryID(webhook, fmt.Sprintf("evt_%d", i), at), PartnerID: "telco", WebhookID: webhook,
		EventID: fmt.Sprintf("evt_%d", i), EventType: "points.earned", EventTime: at, Status: status, Attempts: 1,
		LastAttemptAt: &at, MessageID: fmt.Sprintf("msg-%d", i)}
}

// An attempt is recorded once: by the message whose attempt it is (again,
// when that message is handled again), never by a duplicate, never over a
// later attempt.
func TestRecordDeliveryAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	d := delivery("wh_aaaaaaaaaaaaaaaaaaaaaaaa", 1, store.DeliveryPending)
	for _, tc := range []struct {
		name     string
		attempts int
		msg      string
		status   string
		want     bool
	}{
		{"first attempt", 1, "m1", store.DeliveryPending, true},
		{"a duplicate of it", 1, "m1-dup", store.DeliveryDelivered, false},
		{"the same message again", 1, "m1", store.DeliveryPending, true},
		{"the next attempt", 2, "m2", store.DeliveryPending, true},
		{"an older attempt", 1, "m1", store.DeliveryDelivered, false},
		{"the last attempt", 3, "m3", store.DeliveryDead, true},
	} {
		r := d
		r.Attempts, r.MessageID, r.Status = tc.attempts, tc.msg, tc.status
		got, err := e.st.RecordDeliveryAttempt(ctx, r)
		if err != nil || got != tc.want {
			t.Fatalf("%s: recorded %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	got, err := e.st.Delivery(ctx, "telco", d.WebhookID, d.ID)
	if err != nil || got.Attempts != 3 || got.Status != store.DeliveryDead || got.TTL != t0.Add(store.DeliveryRetention).Unix() {
		t.Fatalf("record %+v %v", got, err)
	}
	if _, err := e.st.Delivery(ctx, "other", d.WebhookID, d.ID); !errors.Is(err, store.ErrDeliveryNotFound) {
		t.Errorf("another partner reads the delivery: %v", err)
	}
}

// The log of an endpoint: newest first across its shards, page by page, by
// status; a cursor continues only its own endpoint's log.
func TestListDeliveries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	wh, other := "wh_bbbbbbbbbbbbbbbbbbbbbbbb", "wh_cccccccccccccccccccccccc"
	var all, dead []string
	for i := range 45 {
		status := store.DeliveryDelivered
		if i%10 == 3 {
			status = store.DeliveryDead
		}
		d := delivery(wh, i, status)
		if _, err := e.st.RecordDeliveryAttempt(ctx, d); err != nil {
			t.Fatal(err)
		}
		all = append([]string{d.ID}, all...)
		if status == store.DeliveryDead {
			dead = append([]string{d.ID}, dead...)
		}
	}
	if _, err := e.st.RecordDeliveryAttempt(ctx, delivery(other, 99, store.DeliveryDead)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		status string
		limit  int32
		want   []string
	}{
		{"", 10, all}, {"", 100, all}, {"", 7, all},
		{store.DeliveryDead, 2, dead}, {store.DeliveryDead, 50, dead}, {store.DeliveryPending, 10, nil},
	} {
		var got []string
		cursor := ""
		for range 50 {
			page, err := e.st.ListDeliveries(ctx, store.DeliveryQuery{Partner: "telco", Webhook: wh, Status: tc.status, Limit: tc.limit, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page.Items {
				got = append(got, d.ID)
			}
			if cursor = page.Next; cursor == "" {
				break
			}
			if _, err := e.st.ListDeliveries(ctx, store.DeliveryQuery{Partner: "telco", Webhook: other, Limit: 10, Cursor: cursor}); !errors.Is(err, store.ErrBadCursor) {
				t.Fatalf("a cursor of %s's log on %s's: %v", wh, other, err)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("status %q, limit %d: %d deliveries %v\nwant %d %v", tc.status, tc.limit, len(got), got, len(tc.want), tc.want)
		}
	}
	if page, err := e.st.ListDeliveries(ctx, store.DeliveryQuery{Partner: "other", Webhook: wh, Limit: 10}); err != nil || len(page.Items) != 0 {
		t.Errorf("another partner lists the endpoint's log: %v %v", page.Items, err)
	}
}

// A dead delivery re-sent is pending again; anything else is not re-sent,
// and a re-send that its attempt overtook is left as the attempt wrote it.
func TestMarkResent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	wh := "wh_dddddddddddddddddddddddd"
	dead := delivery(wh, 1, store.DeliveryDead)
	dead.Attempts, dead.Body = 8, `{"id":"evt_1"}`
	delivered := delivery(wh, 2, store.DeliveryDelivered)
	for _, d := range []store.Delivery{dead, delivered} {
		if _, err := e.st.RecordDeliveryAttempt(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.st.MarkResent(ctx, "telco", wh, delivered.ID, 1, t0); !errors.Is(err, store.ErrDeliveryNotDead) {
		t.Errorf("re-send of a delivered one: %v", err)
	}
	at := t0.Add(time.Minute)
	got, err := e.st.MarkResent(ctx, "telco", wh, dead.ID, 8, at)
	if err != nil || got.Status != store.DeliveryPending || !got.NextAttemptAt.Equal(at) || got.Attempts != 8 || got.Body == "" {
		t.Fatalf("re-sent: %+v %v", got, err)
	}
	// The same re-send again (a retried request): as it is.
	if again, err := e.st.MarkResent(ctx, "telco", wh, dead.ID, 8, at); err != nil || again.Status != store.DeliveryPending {
		t.Errorf("re-send again: %+v %v", again, err)
	}
	// Its attempt recorded before the mark: the mark changes nothing.
	next := dead
	next.Attempts, next.Status, next.Body, next.MessageID = 9, store.DeliveryDelivered, "", "m9"
	if _, err := e.st.RecordDeliveryAttempt(ctx, next); err != nil {
		t.Fatal(err)
	}
	if late, err := e.st.MarkResent(ctx, "telco", wh, dead.ID, 8, at); err != nil || late.Status != store.DeliveryDelivered || late.Attempts != 9 {
		t.Errorf("a mark after the attempt: %+v %v", late, err)
	}
	if _, err := e.st.MarkResent(ctx, "other", wh, dead.ID, 8, at); !errors.Is(err, store.ErrDeliveryNotFound) {
		t.Errorf("another partner re-sends: %v", err)
	}
}
