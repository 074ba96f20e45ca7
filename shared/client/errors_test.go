package client

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/accrue/accrue/shared/api"
)

func TestCheck(t *testing.T) {
	resp := func(status int, ct string) *http.Response {
		h := http.Header{}
		h.Set("Content-Type", ct)
		h.Set("X-Request-Id", "req_0123456789abcdef")
		return &http.Response{StatusCode: status, Header: h}
	}
	cases := []struct {
		name          string
		resp          *http.Response
		body          string
		ok            bool
		slug, message string
		text          string
	}{
		{name: "2xx", resp: resp(201, "application/json"), body: `{}`, ok: true},
		{name: "a problem", resp: resp(422, "application/problem+json"),
			body: `{"type":"https://accrue.dev/problems/insufficient-points","title":"Not enough available points","status":422,"detail":"not enough available points"}`,
			slug: "insufficient-points", text: "accrue API: 422 insufficient-points: not enough available points (request req_0123456789abcdef)"},
		{name: "a problem without detail", resp: resp(503, "application/problem+json; charset=utf-8"),
			body: `{"type":"https://accrue.dev/problems/try-again","title":"Temporarily unable","status":503}`,
			slug: "try-again", text: "accrue API: 503 try-again: Temporarily unable (request req_0123456789abcdef)"},
		{name: "API Gateway's throttling", resp: resp(429, "application/json"), body: `{"message":"Too Many Requests"}`,
			message: "Too Many Requests", text: "accrue API: 429: Too Many Requests (request req_0123456789abcdef)"},
		{name: "anything else", resp: resp(502, "text/html"), body: "<html>Bad Gateway</html>",
			message: "<html>Bad Gateway</html>"},
		{name: "a broken problem", resp: resp(500, "application/problem+json"), body: `{"type":`,
			message: `{"type":`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.resp, []byte(tc.body))
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("%T %v, want an *Error", err, err)
			}
			if e.Slug() != tc.slug || e.Message != tc.message || e.StatusCode != tc.resp.StatusCode || e.RequestID != "req_0123456789abcdef" {
				t.Fatalf("%+v", e)
			}
			if tc.slug != "" && (!IsProblem(fmt.Errorf("wrapped: %w", err), tc.slug) || IsProblem(err, "not-found")) {
				t.Fatalf("IsProblem of %v", err)
			}
			if tc.slug == "" && IsProblem(err, "") {
				t.Fatal("an answer that is not a problem is one")
			}
			if tc.text != "" && err.Error() != tc.text {
				t.Fatalf("Error() = %q, want %q", err.Error(), tc.text)
			}
		})
	}
	if Check(nil, nil) == nil {
		t.Fatal("no response checked fine")
	}
}

// The client's problem base is the API's.
func TestProblemBase(t *testing.T) {
	if ProblemBase != api.ProblemBase {
		t.Fatalf("client.ProblemBase %q, api.ProblemBase %q", ProblemBase, api.ProblemBase)
	}
}
