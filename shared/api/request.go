package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MaxBodyBytes limits request bodies (a program document is the largest).
const MaxBodyBytes = 256 * 1024

// readBody reads the whole body, refusing more than MaxBodyBytes and non-JSON
// content types.
func readBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, problem(probUnsupported, fmt.Sprintf("Content-Type %q", ct))
		}
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(b) > MaxBodyBytes {
		return nil, problem(probTooLarge, fmt.Sprintf("at most %d bytes", MaxBodyBytes))
	}
	return b, nil
}

// decodeStrict decodes a JSON object into v, rejecting unknown fields (named in
// the problem), wrong types (named) and trailing data.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return problem(probMalformed, "a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &ute):
			f := ute.Field
			if f == "" {
				f = "(body)"
			}
			return invalid(f, "must be "+jsonType(ute.Type.Kind().String()))
		case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
			return problem(probMalformed, err.Error())
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
			return invalid(f, "unknown field")
		}
		return problem(probMalformed, err.Error())
	}
	if dec.More() {
		return problem(probMalformed, "trailing data after the JSON object")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return problem(probMalformed, "trailing data after the JSON object")
	}
	return nil
}

// emptyBody checks the body of a route that takes none: nothing, or {}.
func emptyBody(c *call) error {
	if len(c.body) == 0 {
		return nil
	}
	var empty struct{}
	return decodeStrict(c.body, &empty)
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "of another type"
}

// pageParams reads ?limit= (1..100, default 50) and ?cursor=.
func pageParams(r *http.Request) (int32, string, error) { return pageValues(r.URL.Query()) }

// pageValues reads limit (1..100, default 50) and cursor of a query.
func pageValues(q url.Values) (int32, string, error) {
	limit := int32(50)
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return 0, "", invalid("limit", "an integer from 1 to 100")
		}
		limit = int32(n)
	}
	return limit, q.Get("cursor"), nil
}

// list is the shape of every paginated response.
type list[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}
