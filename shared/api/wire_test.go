package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/shared/api"
	"github.com/accrue/accrue/shared/keys"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// The api function's wiring: after PUT /v1/program, POST /v1/events in the
// same process applies the new program at once (one program cache, not two).
func TestWiredProgramChangeReachesEvents(t *testing.T) {
	c := awstest.Client(t)
	table := awstest.NewTable(t, c, store.CreateTableInput)
	ctx := context.Background()
	p, err := program.Parse(programJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.New(c, table).PutProgram(ctx, "telco", p); err != nil {
		t.Fatal(err)
	}
	key, _, err := keys.New(c, table).Create(ctx, "telco", keys.RoleAdmin, "wire")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Wire(c, table, nil, nil, slog.New(slog.NewJSONHandler(io.Discard, nil))))
	defer srv.Close()
	send := func(method, path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, out)
		}
		return out
	}
	send("POST", "/v1/events", event("telco", "m1", "before", 100000)) // 10 points; warms the caches
	var doubled map[string]any
	_ = json.Unmarshal(programJSON(t), &doubled)
	doubled["earning"].([]any)[0].(map[string]any)["rate"] = map[string]any{"points": 2, "per_minor": 10000}
	send("PUT", "/v1/program", doubled)
	out := send("POST", "/v1/events", event("telco", "m1", "after", 100000))
	if got := num(t, out, "entry", "points"); got != 20 {
		t.Fatalf("the event after PUT /v1/program earned %d points, want 20 (new program)", got)
	}
}
