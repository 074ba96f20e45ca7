package api_test

import (
	"bytes"
	"io"
	"net/http"
	"reflect"
	"testing"

	"github.com/accrue/accrue/shared/client"
)

// client is the Go client of the API (shared/client) on the harness's server
// with the key named by key ("telco/app", ...). Its exchanges are recorded
// like call's, so checkOpenAPI validates them too.
func (h *harness) client(t testing.TB, key string, c client.Config) *client.Accrue {
	t.Helper()
	k, ok := h.keys[key]
	if !ok {
		t.Fatalf("no key %q", key)
	}
	c.BaseURL, c.APIKey = h.srv.URL, k
	c.HTTPClient = &http.Client{Transport: recorder{h: h, next: h.srv.Client().Transport}}
	a, err := client.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// recorder records each exchange of the client in the harness.
type recorder struct {
	h    *harness
	next http.RoundTripper
}

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		body, _ = io.ReadAll(rc)
	}
	resp, err := r.next.RoundTrip(req)
	if err != nil || r.h.norecord {
		return resp, err
	}
	raw, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	r.h.mu.Lock()
	r.h.seen = append(r.h.seen, exchange{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, ReqHeader: req.Header.Clone(),
		ReqBody: body, Status: resp.StatusCode, RespHeader: resp.Header.Clone(), RespBody: raw})
	r.h.mu.Unlock()
	return resp, nil
}

// must checks the answer r of a generated ...WithResponse call (and its
// error): its status, and for a problem its type's slug (client.Check).
//
//	m := must(app.GetMemberWithResponse(ctx, "cust-42"))(t, 200, "").JSON200
func must[R interface{ StatusCode() int }](r R, err error) func(t testing.TB, status int, slug string) R {
	return func(t testing.TB, status int, slug string) R {
		t.Helper()
		if err != nil {
			t.Fatalf("call: %v", err)
		}
		v := reflect.ValueOf(r).Elem()
		resp, _ := v.FieldByName("HTTPResponse").Interface().(*http.Response)
		body := v.FieldByName("Body").Bytes()
		if r.StatusCode() != status {
			t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, r.StatusCode(), status, body)
		}
		if cerr := client.Check(resp, body); slug != "" && !client.IsProblem(cerr, slug) {
			t.Fatalf("%s %s: %v, want the problem %s", resp.Request.Method, resp.Request.URL.Path, cerr, slug)
		}
		return r
	}
}
