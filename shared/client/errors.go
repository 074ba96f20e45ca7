package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// ProblemBase prefixes every problem type URI of the API: a problem's Type is
// ProblemBase + a slug such as "insufficient-points", and the API explains
// each at GET /problems/{slug}.
const ProblemBase = "https://accrue.dev/problems/"

// Error is an answer of the API that is not a 2xx: the API's problem (RFC
// 9457; Problem.Type is set), or an error API Gateway answered itself, such
// as its throttling 429 (Message is set, Problem is zero).
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Problem is the API's problem details object.
	Problem
	// Message is API Gateway's {"message": ...}, or the body's first bytes
	// when it is neither.
	Message string
	// RequestID is the X-Request-Id of the answer (the API's logs carry it).
	RequestID string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "accrue API: %d", e.StatusCode)
	if e.Type != "" {
		fmt.Fprintf(&b, " %s", e.Slug())
		if e.Detail != nil && *e.Detail != "" {
			fmt.Fprintf(&b, ": %s", *e.Detail)
		} else if e.Title != "" {
			fmt.Fprintf(&b, ": %s", e.Title)
		}
	} else if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request %s)", e.RequestID)
	}
	return b.String()
}

// Slug is the problem type's slug ("insufficient-points"), or "" when the
// answer is not one of the API's problems.
func (e *Error) Slug() string {
	return strings.TrimPrefix(e.Type, ProblemBase)
}

// IsProblem reports whether err is (or wraps) an *Error of the problem type
// slug, such as "not-found".
func IsProblem(err error, slug string) bool {
	var e *Error
	return errors.As(err, &e) && e.Type != "" && e.Slug() == slug
}

// Check returns nil for a 2xx answer and an *Error for any other: pass it the
// HTTPResponse and Body of a generated ...WithResponse answer.
//
//	r, err := c.GetMemberWithResponse(ctx, "cust-42")
//	if err == nil {
//		err = client.Check(r.HTTPResponse, r.Body)
//	}
func Check(resp *http.Response, body []byte) error {
	if resp == nil {
		return errors.New("accrue client: no response")
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	e := &Error{StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var p Problem
	var gw struct {
		Message string `json:"message"`
	}
	switch {
	case mt == "application/problem+json" && json.Unmarshal(body, &p) == nil && p.Type != "":
		e.Problem = p
	case json.Unmarshal(body, &gw) == nil && gw.Message != "":
		e.Message = gw.Message
	default:
		e.Message = strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	return e
}
