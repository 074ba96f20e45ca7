package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/shared/client"
	"github.com/accrue/accrue/shared/imports"
	"github.com/accrue/accrue/shared/store"
)

// upload PUTs body to an import's upload URL, as a partner's back office
// would.
func upload(t *testing.T, up client.ImportUpload, body []byte) {
	t.Helper()
	req, err := http.NewRequest(string(up.Method), up.Url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if up.Headers != nil {
		for k, v := range *up.Headers {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: status %d", resp.StatusCode)
	}
}

// runImports is the imports function, invoked on the uploaded file's
// notification (the bucket → queue → function path is shared/imports's
// tests' and the local stack's; here the import is run directly).
func (h *harness) runImports(t *testing.T, partner, id string) {
	t.Helper()
	hd := &imports.Handler{Runner: &imports.Runner{Store: h.st, Workers: 2, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		S3: h.s3, SQS: awstest.SQSClient(t), Bucket: h.bucket, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := hd.Run(context.Background(), partner, id); err != nil {
		t.Fatal(err)
	}
}

// A partner's bulk import through the API, on the Go client: create it, PUT
// the file to its upload URL, and once it ran, read its status, counts and
// rejected lines page by page; the imported members are there.
func TestImportJourney(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	admin := h.client(t, "telco/admin", client.Config{})
	created := must(admin.CreateImportWithResponse(ctx, nil, client.ImportRequest{FileName: client.Ptr("members.jsonl")}))(t, 201, "")
	imp := created.JSON201
	if imp.Status != client.ImportStatusAwaitingUpload || imp.Format != client.ImportFormatJsonl || imp.Upload == nil ||
		!strings.Contains(imp.Upload.Url, imports.ObjectKey("telco", imp.Id)) || *imp.Source != "members.jsonl" {
		t.Fatalf("created: %s", created.Body)
	}
	var file strings.Builder
	for i := range 7 {
		fmt.Fprintf(&file, `{"member_id":"imp-%d","available":[{"points":%d}],"lifetime":%d}`+"\n", i, 10*(i+1), 100)
		if i%2 == 1 {
			fmt.Fprintf(&file, `{"member_id":"bad-%d","tier":"platinum"}`+"\n", i)
		}
	}
	file.WriteString(`{"member_id":"m-present"}` + "\n")
	h.seed("m-present")
	upload(t, *imp.Upload, []byte(file.String()))

	// Before it runs: awaiting its upload's notification.
	got := must(admin.GetImportWithResponse(ctx, imp.Id, nil))(t, 200, "")
	if got.JSON200.Status != client.ImportWithRejectionsStatusAwaitingUpload {
		t.Fatalf("before the run: %s", got.Body)
	}
	h.runImports(t, "telco", imp.Id)

	got = must(admin.GetImportWithResponse(ctx, imp.Id, &client.GetImportParams{Limit: client.Ptr(2)}))(t, 200, "")
	j := got.JSON200
	if j.Status != client.ImportWithRejectionsStatusCompleted || j.Imported != 7 || j.Skipped != 1 || j.Rejected != 3 || j.LinesDone != 11 ||
		len(j.Data) != 2 || j.NextCursor == nil || j.CompletedAt == nil {
		t.Fatalf("completed: %s", got.Body)
	}
	var lines []int64
	for r, err := range admin.ImportRejectedLines(ctx, imp.Id, client.GetImportParams{Limit: client.Ptr(1)}) {
		if err != nil {
			t.Fatal(err)
		}
		if *r.Field != "tier" || !strings.Contains(r.Reason, "not a tier") || !strings.HasPrefix(*r.MemberId, "bad-") {
			t.Fatalf("rejected line %+v", r)
		}
		lines = append(lines, r.Line)
	}
	if fmt.Sprint(lines) != "[3 6 9]" {
		t.Fatalf("rejected lines %v", lines)
	}
	m := must(admin.GetMemberWithResponse(ctx, "imp-6"))(t, 200, "")
	if m.JSON200.Balances.Available != 70 || m.JSON200.Balances.LifetimeEarned != 100 {
		t.Fatalf("imported member: %s", m.Body)
	}
	led := must(admin.GetLedgerWithResponse(ctx, "imp-6", nil))(t, 200, "")
	if len(led.JSON200.Data) != 1 || led.JSON200.Data[0].Kind != client.EntryKindImport || led.JSON200.Data[0].Lot == nil || led.JSON200.Data[0].Delta.LifetimeEarned != 100 {
		t.Fatalf("imported ledger: %s", led.Body)
	}
	if err := h.st.Audit(ctx, "telco", "imp-6"); err != nil {
		t.Fatal(err)
	}
}

// Role, isolation, idempotency and bad input of the import routes.
func TestImportRoutes(t *testing.T) {
	h := newHarness(t)
	created := h.call("POST", "/v1/imports", "telco/admin", map[string]any{"format": "csv"}, "Idempotency-Key", "imp-1").expect(t, 201, "")
	id := str(created.Body, "id")

	// An app key may neither start nor read an import.
	h.call("POST", "/v1/imports", "telco/app", map[string]any{"format": "csv"}).expect(t, 403, "forbidden")
	h.call("GET", "/v1/imports/"+id, "telco/app", nil).expect(t, 403, "forbidden")
	// Another partner's import is not found, its key's upload URLs name its own partner.
	h.call("GET", "/v1/imports/"+id, "other/admin", nil).expect(t, 404, "not-found")
	theirs := h.call("POST", "/v1/imports", "other/admin", map[string]any{"format": "csv"}).expect(t, 201, "")
	if url := str(theirs.Body, "upload", "url"); !strings.Contains(url, "/imports/other/") || strings.Contains(url, id) {
		t.Fatalf("other's upload URL %s", url)
	}
	// The same Idempotency-Key replays the same import (and URL); another body is refused.
	again := h.call("POST", "/v1/imports", "telco/admin", map[string]any{"format": "csv"}, "Idempotency-Key", "imp-1").expect(t, 201, "")
	if str(again.Body, "id") != id || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %s", again.Raw)
	}
	h.call("POST", "/v1/imports", "telco/admin", map[string]any{"format": "jsonl"}, "Idempotency-Key", "imp-1").expect(t, 409, "idempotency-key-reused")

	// Pagination: a cursor only continues its own import's list.
	for line := range int64(5) {
		if err := h.st.RejectImportLine(context.Background(), "telco", id, rejection(line+2)); err != nil {
			t.Fatal(err)
		}
	}
	page := h.call("GET", "/v1/imports/"+id+"?limit=2", "telco/admin", nil).expect(t, 200, "")
	cursor := str(page.Body, "next_cursor")
	if items, _ := page.Body["data"].([]any); len(items) != 2 || cursor == "" {
		t.Fatalf("first page: %s", page.Raw)
	}
	next := h.call("GET", "/v1/imports/"+id+"?limit=2&cursor="+cursor, "telco/admin", nil).expect(t, 200, "")
	if items, _ := next.Body["data"].([]any); len(items) != 2 || num(t, items[0], "line") != 4 {
		t.Fatalf("second page: %s", next.Raw)
	}
	h.call("GET", "/v1/imports/"+str(theirs.Body, "id")+"?cursor="+cursor, "other/admin", nil).expect(t, 400, "validation-error")
	h.call("GET", "/v1/imports/"+id+"?cursor=x"+cursor, "telco/admin", nil).expect(t, 400, "validation-error")
	h.call("GET", "/v1/imports/"+id+"?limit=101", "telco/admin", nil).expect(t, 400, "validation-error")

	// Bad input is problem+json 4xx.
	h.call("POST", "/v1/imports", "telco/admin", "[]", "Content-Type", "application/json").expect(t, 400, "validation-error")
	h.call("POST", "/v1/imports", "telco/admin", "format=csv", "Content-Type", "text/csv").expect(t, 415, "unsupported-media-type")
	h.call("DELETE", "/v1/imports/"+id, "telco/admin", nil).expect(t, 405, "method-not-allowed")

	// The object key of an upload URL is its import's: nothing else is
	// written through it.
	up := str(created.Body, "upload", "url")
	if !strings.Contains(up, "/"+h.bucket+"/imports/telco/"+id+"?") {
		t.Fatalf("upload URL %s", up)
	}
	if _, err := h.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(h.bucket), Key: aws.String(imports.ObjectKey("telco", id))}); err == nil {
		t.Fatal("an object exists before its upload")
	}
}

func rejection(line int64) store.ImportRejection {
	return store.ImportRejection{Line: line, MemberID: fmt.Sprintf("m-%d", line), Field: "tier", Reason: "not a tier"}
}
