package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/accrue/accrue/shared/strictjson"
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

// decodeStrict decodes a JSON object into v (strictjson.Decode): an unknown
// field or a wrong type is a validation-error naming the field, anything else
// that is not one JSON object malformed-request.
func decodeStrict(body []byte, v any) error {
	err := strictjson.Decode(body, v)
	var fe *strictjson.FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe) && fe.Field == "":
		return invalid("(body)", fe.Message)
	case errors.As(err, &fe):
		return invalid(fe.Field, fe.Message)
	}
	return problem(probMalformed, strings.TrimPrefix(err.Error(), strictjson.ErrMalformed.Error()+": "))
}

// emptyBody checks the body of a route that takes none: nothing, or {}.
func emptyBody(c *call) error {
	if len(c.body) == 0 {
		return nil
	}
	var empty struct{}
	return decodeStrict(c.body, &empty)
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
