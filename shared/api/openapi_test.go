package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	oaerrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel"
	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/accrue/accrue/shared/api"
	"github.com/accrue/accrue/shared/rules"
)

// The OpenAPI document (openapi.json, embedded as api.OpenAPI) is checked
// three ways: it is a valid OpenAPI 3.1 document; its routes are exactly the
// routes of server.go (with the same roles and idempotency); and every
// request and response that a test of this package makes through the harness
// is validated against it (checkOpenAPI, run when each harness's test ends).

// openAPI is the document and its validator, built once per test binary.
var openAPI struct {
	once      sync.Once
	err       error
	validator validator.Validator
	notFound  *base.Schema // the schema of components.responses.NotFound
	problem   *base.Schema // components.schemas.Problem
	schemas   schema_validation.SchemaValidator
}

func openAPIValidator(t testing.TB) (validator.Validator, *base.Schema, schema_validation.SchemaValidator) {
	t.Helper()
	openAPI.once.Do(func() {
		doc, err := libopenapi.NewDocument(api.OpenAPI)
		if err != nil {
			openAPI.err = fmt.Errorf("parse openapi.json: %w", err)
			return
		}
		opts := []config.Option{config.WithFormatAssertions()}
		v, errs := validator.NewValidator(doc, opts...)
		if len(errs) > 0 {
			openAPI.err = fmt.Errorf("build the validator: %v", errs)
			return
		}
		model, err := doc.BuildV3Model()
		if err != nil {
			openAPI.err = fmt.Errorf("build the model: %w", err)
			return
		}
		responseSchema := func(name string) *base.Schema {
			r, ok := model.Model.Components.Responses.Get(name)
			if !ok || r.Content == nil {
				openAPI.err = fmt.Errorf("no components.responses.%s", name)
				return nil
			}
			mt, ok := r.Content.Get("application/problem+json")
			if !ok || mt.Schema == nil {
				openAPI.err = fmt.Errorf("components.responses.%s has no application/problem+json schema", name)
				return nil
			}
			return mt.Schema.Schema()
		}
		openAPI.validator, openAPI.notFound = v, responseSchema("NotFound")
		if openAPI.err != nil {
			return
		}
		if p, ok := model.Model.Components.Schemas.Get("Problem"); ok {
			openAPI.problem = p.Schema()
		} else {
			openAPI.err = fmt.Errorf("no components.schemas.Problem")
			return
		}
		openAPI.schemas = schema_validation.NewSchemaValidator(opts...)
	})
	if openAPI.err != nil {
		t.Fatal(openAPI.err)
	}
	return openAPI.validator, openAPI.notFound, openAPI.schemas
}

// problemSchema is components.schemas.Problem.
func problemSchema(t testing.TB) *base.Schema {
	openAPIValidator(t)
	return openAPI.problem
}

// checkOpenAPI validates each exchange against the OpenAPI document: the
// request when the server accepted it (2xx: requests the tests send invalid on
// purpose are answered 4xx and not checked), and every response against the
// response of its status. All mismatches of a test are reported in one error.
func checkOpenAPI(t *testing.T, exs []exchange) {
	t.Helper()
	if len(exs) == 0 {
		return
	}
	v, notFound, schemas := openAPIValidator(t)
	// Mismatches are grouped by route, status and kind of failure; each group
	// is reported once with one example and its count.
	type group struct {
		example string
		count   int
	}
	var order []string
	groups := map[string]*group{}
	add := func(ex exchange, what string, errs []*oaerrors.ValidationError) {
		for i, msg := range describe(errs) {
			where := ex.Path
			if errs[i].SpecPath != "" {
				where = errs[i].SpecPath
			}
			key := fmt.Sprintf("%s %s %d %s %s", ex.Method, where, ex.Status, what, errs[i].Message)
			for _, f := range errs[i].SchemaValidationErrors {
				key += " " + f.KeywordLocation + f.FieldPath
			}
			g := groups[key]
			if g == nil {
				g = &group{example: fmt.Sprintf("%s %s → %d: %s: %s", ex.Method, ex.Path, ex.Status, what, msg)}
				groups[key] = g
				order = append(order, key)
			}
			g.count++
		}
	}
	fail := func(ex exchange, what, msg string) {
		add(ex, what, []*oaerrors.ValidationError{{Message: msg}})
	}
	for _, ex := range exs {
		// Every validation problem names its fields (issue #9, item 5).
		if bytes.Contains(ex.RespBody, []byte(`"type":"`+api.ProblemBase+`validation-error"`)) && !bytes.Contains(ex.RespBody, []byte(`"errors":[{"field":`)) {
			fail(ex, "response", "a validation-error without errors[{field,message}]")
		}
		// Every 503 and 429 the API answers says when to retry (issue #13).
		if ex.Status == http.StatusServiceUnavailable || ex.Status == http.StatusTooManyRequests {
			if n, err := strconv.Atoi(ex.RespHeader.Get("Retry-After")); err != nil || n < 0 {
				fail(ex, "response", fmt.Sprintf("a %d without Retry-After delay-seconds (%q)", ex.Status, ex.RespHeader.Get("Retry-After")))
			}
		}
		undocumented := false
		if ex.Status >= 200 && ex.Status < 300 {
			if ok, errs := v.ValidateHttpRequestSync(ex.request()); !ok {
				undocumented = routeMissing(errs)
				add(ex, "request", errs)
			}
		}
		if undocumented {
			continue
		}
		ok, errs := v.ValidateHttpResponse(ex.request(), ex.response())
		if ok {
			continue
		}
		if !routeMissing(errs) {
			add(ex, "response", errs)
			continue
		}
		// A path the API does not have answers 404 not-found; a method a
		// documented path does not have, 405 method-not-allowed with Allow:
		// both must still be the documented problems.
		if ct := ex.RespHeader.Get("Content-Type"); ct != "application/problem+json" {
			fail(ex, "response", "content type "+strconv.Quote(ct)+", want application/problem+json")
		}
		switch ex.Status {
		case http.StatusNotFound:
			if ok, errs := schemas.ValidateSchemaBytesWithVersion(notFound, ex.RespBody, 3.1); !ok {
				add(ex, "response (components.responses.NotFound)", errs)
			}
		case http.StatusMethodNotAllowed:
			if ex.RespHeader.Get("Allow") == "" {
				fail(ex, "response", "405 without an Allow header")
			}
			if ok, errs := schemas.ValidateSchemaBytesWithVersion(problemSchema(t), ex.RespBody, 3.1); !ok {
				add(ex, "response (components.schemas.Problem)", errs)
			}
			if !bytes.Contains(ex.RespBody, []byte(`"type":"`+api.ProblemBase+`method-not-allowed"`)) {
				fail(ex, "response", "a 405 that is not the method-not-allowed problem")
			}
		default:
			fail(ex, "response", "a route missing from the document answered other than 404 or 405")
		}
	}
	if len(order) > 0 {
		lines := make([]string, 0, len(order))
		for _, k := range order {
			g := groups[k]
			line := g.example
			if g.count > 1 {
				line += fmt.Sprintf(" (×%d)", g.count)
			}
			lines = append(lines, line)
		}
		t.Errorf("%d OpenAPI mismatch(es) between shared/api/openapi.json and the server:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}

func routeMissing(errs []*oaerrors.ValidationError) bool {
	for _, e := range errs {
		if e.IsPathMissingError() || e.IsOperationMissingError() {
			return true
		}
	}
	return false
}

// describe turns validation errors into one line each, with the schema
// failures (field and reason) that explain them.
func describe(errs []*oaerrors.ValidationError) []string {
	var out []string
	for _, e := range errs {
		msg := e.Message
		if e.Reason != "" && e.Reason != e.Message && len(e.SchemaValidationErrors) == 0 {
			msg += " (" + e.Reason + ")"
		}
		var fails []string
		for _, f := range e.SchemaValidationErrors {
			where := f.FieldPath
			if where == "" {
				where = f.KeywordLocation
			}
			fails = append(fails, where+": "+f.Reason)
		}
		if len(fails) > 0 {
			msg += ": " + strings.Join(fails, "; ")
		}
		out = append(out, msg)
	}
	return out
}

// request rebuilds the recorded request (afresh each time: validation reads the body).
func (ex exchange) request() *http.Request {
	u := &url.URL{Scheme: "http", Host: "api.test", Path: ex.Path, RawQuery: ex.Query}
	r, err := http.NewRequest(ex.Method, u.String(), bytes.NewReader(ex.ReqBody))
	if err != nil {
		panic(err)
	}
	r.Header = ex.ReqHeader.Clone()
	if r.Header == nil {
		r.Header = http.Header{}
	}
	return r
}

func (ex exchange) response() *http.Response {
	return &http.Response{
		StatusCode: ex.Status, Status: strconv.Itoa(ex.Status) + " " + http.StatusText(ex.Status),
		Header: ex.RespHeader.Clone(), Body: io.NopCloser(bytes.NewReader(ex.RespBody)),
		ContentLength: int64(len(ex.RespBody)), Request: ex.request(),
	}
}

// The document parses as OpenAPI 3.1, builds without errors and validates
// against the OpenAPI 3.1 schema.
func TestOpenAPIDocument(t *testing.T) {
	doc, err := libopenapi.NewDocument(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if info := doc.GetSpecInfo(); info.SpecFormat != datamodel.OAS31 || info.Version != "3.1.0" {
		t.Fatalf("format %q version %q, want OpenAPI 3.1.0", info.SpecFormat, info.Version)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if errs := model.Index.GetReferenceIndexErrors(); len(errs) > 0 {
		t.Fatalf("references: %v", errs)
	}
	if c := model.Index.GetCircularReferences(); len(c) > 0 {
		t.Fatalf("circular references: %d", len(c))
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		t.Fatalf("not a valid OpenAPI 3.1 document:\n%s", strings.Join(describe(verrs), "\n"))
	}
	openAPIValidator(t) // the validator the other tests use builds too

	// No dead weight: every component is referenced, every operationId unique.
	var raw struct {
		Components map[string]map[string]json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI, &raw); err != nil {
		t.Fatal(err)
	}
	for kind, comps := range raw.Components {
		if kind == "securitySchemes" {
			continue
		}
		for name := range comps {
			if !bytes.Contains(api.OpenAPI, []byte(`"#/components/`+kind+`/`+name+`"`)) {
				t.Errorf("components.%s.%s is never referenced", kind, name)
			}
		}
	}
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`"operationId": "([^"]+)"`).FindAllSubmatch(api.OpenAPI, -1) {
		if ids[string(m[1])] {
			t.Errorf("operationId %s is not unique", m[1])
		}
		ids[string(m[1])] = true
	}
}

// oaDoc is the part of the document the route tests read.
type oaDoc struct {
	Info struct {
		Description string `json:"description"`
	} `json:"info"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Responses map[string]struct {
			Content map[string]struct {
				Schema struct {
					Properties struct {
						Type struct {
							Enum []string `json:"enum"`
						} `json:"type"`
						Status struct {
							Const int `json:"const"`
						} `json:"status"`
					} `json:"properties"`
				} `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"components"`
}

type oaOperation struct {
	Security   *[]map[string][]string `json:"security"`
	Role       string                 `json:"x-accrue-role"`
	Parameters []struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
	Responses map[string]json.RawMessage `json:"responses"`
}

func readDoc(t *testing.T) oaDoc {
	t.Helper()
	var d oaDoc
	if err := json.Unmarshal(api.OpenAPI, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

var httpMethods = []string{"get", "put", "post", "patch", "delete", "head", "options", "trace"}

// The document has exactly the routes that server.go registers, each with the
// role, idempotency and auth statuses that server.go gives it: a route added
// without documentation (or documented and removed) fails here.
func TestOpenAPIRoutesMatchServer(t *testing.T) {
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	type routeInfo struct {
		role       string // "" for routes outside wrap (no auth)
		idempotent bool
	}
	server := map[string]routeInfo{}
	routeRE := regexp.MustCompile(`(?m)^\s*route\("([A-Z]+) (/[^"]*)",\s*(app|admin),\s*(true|false),`)
	for _, m := range routeRE.FindAllStringSubmatch(string(src), -1) {
		server[m[1]+" "+m[2]] = routeInfo{role: m[3], idempotent: m[4] == "true"}
	}
	plainRE := regexp.MustCompile(`(?m)^\s*mux\.HandleFunc\("([A-Z]+) (/[^"]*)"`)
	for _, m := range plainRE.FindAllStringSubmatch(string(src), -1) {
		server[m[1]+" "+m[2]] = routeInfo{}
	}
	if len(server) < 20 {
		t.Fatalf("found only %d routes in server.go: did its route(...) lines change shape?", len(server))
	}

	d := readDoc(t)
	documented := map[string]oaOperation{}
	for path, item := range d.Paths {
		for method, raw := range item {
			if !slices.Contains(httpMethods, method) {
				continue
			}
			var op oaOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			documented[strings.ToUpper(method)+" "+path] = op
		}
	}
	for _, k := range sortedKeys(server) {
		if _, ok := documented[k]; !ok {
			t.Errorf("route %s is registered in server.go but not documented in openapi.json", k)
		}
	}
	for _, k := range sortedKeys(documented) {
		if _, ok := server[k]; !ok {
			t.Errorf("route %s is documented in openapi.json but not registered in server.go", k)
		}
	}
	for _, k := range sortedKeys(server) {
		r, op := server[k], documented[k]
		if _, ok := documented[k]; !ok {
			continue
		}
		idem := slices.ContainsFunc(op.Parameters, func(p struct {
			Ref  string `json:"$ref"`
			Name string `json:"name"`
			In   string `json:"in"`
		}) bool {
			return p.Ref == "#/components/parameters/IdempotencyKey" || (p.In == "header" && p.Name == "Idempotency-Key")
		})
		_, has401 := op.Responses["401"]
		_, has403 := op.Responses["403"]
		_, has500 := op.Responses["500"]
		switch {
		case r.role == "":
			if op.Security == nil || len(*op.Security) != 0 {
				t.Errorf("%s: served without authentication: the operation needs \"security\": []", k)
			}
		case op.Role != r.role:
			t.Errorf("%s: x-accrue-role %q, server.go says %q", k, op.Role, r.role)
		case !has401 || !has500:
			t.Errorf("%s: an authenticated route must document 401 and 500", k)
		case has403 != (r.role == "admin"):
			t.Errorf("%s: 403 documented %v, but the route's role is %s", k, has403, r.role)
		}
		// wrap reads the body of every method but GET and DELETE: such routes
		// can answer 400 (malformed), 413 and 415 whatever the handler does.
		if r.role != "" && !strings.HasPrefix(k, "GET ") && !strings.HasPrefix(k, "DELETE ") {
			for _, st := range []string{"400", "413", "415"} {
				if _, ok := op.Responses[st]; !ok {
					t.Errorf("%s: reads a request body but does not document %s", k, st)
				}
			}
		}
		if idem != r.idempotent {
			t.Errorf("%s: Idempotency-Key parameter documented %v, server.go says idempotent=%v", k, idem, r.idempotent)
		}
	}
}

// Every problem type of the table in problem.go is in the document: its row
// of the table in info.description says exactly what the Go table says (slug,
// status, title, when), the problem response of its status lists it with the
// same text and allows its URI, and no row is left of a type that is gone.
func TestOpenAPIProblemTypes(t *testing.T) {
	types := api.ProblemTypes()
	if len(types) < 15 {
		t.Fatalf("only %d problem types", len(types))
	}
	// A type declared in problem.go but left out of the list would have no
	// page and no documentation.
	src, err := os.ReadFile("problem.go")
	if err != nil {
		t.Fatal(err)
	}
	declared := regexp.MustCompile(`&ProblemType\{Slug: "([a-z-]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(declared) != len(types) {
		t.Errorf("problem.go declares %d problem types, ProblemTypes() returns %d: add each to problemTypes", len(declared), len(types))
	}
	d := readDoc(t)
	type response struct {
		name, description string
		enum              []string
	}
	byStatus := map[int]response{}
	var raw struct {
		Components struct {
			Responses map[string]struct {
				Description string `json:"description"`
			} `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI, &raw); err != nil {
		t.Fatal(err)
	}
	for name, r := range d.Components.Responses {
		c, ok := r.Content["application/problem+json"]
		if !ok {
			continue
		}
		st := c.Schema.Properties.Status.Const
		if st == 0 {
			t.Errorf("components.responses.%s: no status const", name)
		}
		byStatus[st] = response{name: name, description: raw.Components.Responses[name].Description, enum: c.Schema.Properties.Type.Enum}
	}
	rows := 0
	for _, line := range strings.Split(d.Info.Description, "\n") {
		if strings.HasPrefix(line, "| `") {
			rows++
		}
	}
	if rows != len(types) {
		t.Errorf("info.description's table has %d problem rows, the Go table %d types", rows, len(types))
	}
	for _, p := range types {
		row := fmt.Sprintf("| `%s` | %d | %s | %s |", p.Slug, p.Status, p.Title, p.When)
		if !strings.Contains(d.Info.Description, row+"\n") {
			t.Errorf("info.description's problem table lacks, or words otherwise, the row\n%s", row)
		}
		r, ok := byStatus[p.Status]
		if !ok {
			continue // 405: no operation documents it (any route may answer it)
		}
		if !slices.Contains(r.enum, p.URI()) {
			t.Errorf("problem type %s is not allowed by components.responses.%s", p.Slug, r.name)
		}
		if line := "- `" + p.Slug + "` — " + p.When; !slices.Contains(strings.Split(r.description, "\n"), line) {
			t.Errorf("components.responses.%s's description lacks, or words otherwise, the line\n%s", r.name, line)
		}
	}
}

// GET /v1/openapi.json needs no key and serves the embedded document as is.
func TestServedOpenAPI(t *testing.T) {
	h := api.New(api.Deps{})
	req := httptest.NewRequest("GET", "/v1/openapi.json", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	if !bytes.Equal(rec.Body.Bytes(), api.OpenAPI) {
		t.Fatal("the served document differs from the embedded one")
	}
	onDisk, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, api.OpenAPI) {
		t.Fatal("the embedded document differs from openapi.json on disk")
	}
	checkOpenAPI(t, []exchange{{Method: "GET", Path: "/v1/openapi.json", ReqHeader: http.Header{},
		Status: rec.Code, RespHeader: rec.Header().Clone(), RespBody: rec.Body.Bytes()}})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// The routes' rarer response shapes, so that checkOpenAPI sees them too:
// a program with campaigns, pending and expiring lots, streaks, refunds,
// duplicates, rejected events, the review queue and both decisions, tier-gated
// rewards, holds and bill credits, a simulation with ignored payments and
// point values in two currencies, GDPR export and erasure, idempotent replays
// and the generic client errors. Partner "other" gets its own program.
func TestOpenAPIResponseShapes(t *testing.T) {
	h := newHarness(t)
	const admin, app = "other/admin", "other/app"
	var prog map[string]any
	if err := json.Unmarshal(programJSON(t), &prog); err != nil {
		t.Fatal(err)
	}
	prog["pending_days"] = 3
	prog["expiry"] = map[string]any{"rolling_days": 20, "warn_days": 5}
	prog["rounding"] = "floor"
	prog["campaigns"] = []any{
		map[string]any{"id": "double", "starts_at": "2026-11-01T00:00:00Z", "ends_at": "2026-12-01T00:00:00Z", "multiplier": 2, "tags": []string{"vip"}},
		map[string]any{"id": "welcome", "starts_at": "2026-11-01T00:00:00+03:00", "ends_at": "2026-12-01T00:00:00Z", "bonus": 5, "categories": []string{"telecom"}, "budget": 1000},
	}
	prog["fraud"] = map[string]any{"max_events_per_hour": 30, "max_points_per_day": 100000, "large_payment_minor": map[string]any{"RUB": 50000000}}
	prog["tiers"].([]any)[1].(map[string]any)["multiplier"] = 1.25 // a number on input, a string on output
	put := h.call("PUT", "/v1/program", admin, prog).expect(t, 200, "")
	if str(put.Body, "tiers") != "" || put.Body["tiers"].([]any)[1].(map[string]any)["multiplier"] != "1.25" {
		t.Fatalf("multiplier not a decimal string: %s", put.Raw)
	}
	h.call("GET", "/v1/program", app, nil).expect(t, 200, "")

	// Recurring on-time payments (streak), a refund, a duplicate, a rejected event.
	h.call("POST", "/v1/members", app, map[string]any{"member_id": "o1", "tags": []string{"vip"}}).expect(t, 201, "")
	for i, period := range []string{"2026-09", "2026-10", "2026-11"} {
		ev := event("other", "o1", "rec-"+period, 300000)
		ev["time"] = fmt.Sprintf("2026-%02d-05T10:00:00Z", 9+i)
		ev["data"].(map[string]any)["recurring"] = map[string]any{"subscription_id": "plan-7", "period": period, "due_date": period + "-10"}
		h.call("POST", "/v1/events", app, ev, "Idempotency-Key", "ev-"+period).expect(t, 201, "")
	}
	replay := h.call("POST", "/v1/events", app, func() map[string]any {
		ev := event("other", "o1", "rec-2026-11", 300000)
		ev["time"] = "2026-11-05T10:00:00Z"
		ev["data"].(map[string]any)["recurring"] = map[string]any{"subscription_id": "plan-7", "period": "2026-11", "due_date": "2026-11-10"}
		return ev
	}(), "Idempotency-Key", "ev-2026-11").expect(t, 201, "")
	if replay.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("not replayed: %v", replay.Header)
	}
	h.call("POST", "/v1/events", app, event("other", "o1", "plain", 200000)).expect(t, 201, "")
	h.call("POST", "/v1/events", app, event("other", "o1", "plain", 200000)).expect(t, 200, "")
	refund := event("other", "o1", "plain-refund", 100000)
	refund["type"] = "payment.refunded"
	refund["data"].(map[string]any)["refund_of"] = "plain"
	h.call("POST", "/v1/events", app, refund).expect(t, 201, "")
	bad := event("other", "o1", "bad-ccy", 100000)
	bad["data"].(map[string]any)["currency"] = "ZZZ"
	rej := h.call("POST", "/v1/events", app, bad).expect(t, 422, "event-rejected")
	if str(rej.Body, "reason") == "" {
		t.Fatalf("no reason: %s", rej.Raw)
	}
	h.call("POST", "/v1/events", app, `{"specversion":"1.0"}`).expect(t, 422, "event-rejected")
	if got := h.call("GET", "/v1/rejected-events?limit=1", admin, nil).expect(t, 200, ""); len(got.Body["data"].([]any)) != 1 || got.Body["next_cursor"] == nil {
		t.Fatalf("rejected events: %s", got.Raw)
	}
	h.call("POST", "/v1/members/o1/adjustments", admin, map[string]any{"points": 500, "reason": "welcome gift"}).expect(t, 201, "")
	h.call("GET", "/v1/members/o1", app, nil).expect(t, 200, "")
	led := h.call("GET", "/v1/members/o1/ledger?limit=3", app, nil).expect(t, 200, "")
	h.call("GET", "/v1/members/o1/ledger?limit=100&cursor="+url.QueryEscape(str(led.Body, "next_cursor")), app, nil).expect(t, 200, "")

	// Holds, captures, bill credits, rewards gated by tier, a suspended member.
	hold := h.call("POST", "/v1/members/o1/redemptions", app, map[string]any{"points": 10, "hold_minutes": 60}).expect(t, 201, "")
	h.call("POST", "/v1/members/o1/redemptions/"+str(hold.Body, "redemption", "id")+"/capture", app, "{}").expect(t, 200, "")
	h.call("POST", "/v1/members/o1/redemptions", app, map[string]any{"points": 10, "as": "bill_credit", "capture": true}).expect(t, 201, "")
	h.call("PUT", "/v1/rewards", admin, map[string]any{"rewards": []any{
		map[string]any{"id": "lounge", "name": "Lounge pass", "cost": 5, "min_tier": "gold"},
		map[string]any{"id": "mug", "name": "Mug", "cost": 5, "stock": 3},
	}}).expect(t, 200, "")
	h.call("GET", "/v1/rewards", app, nil).expect(t, 200, "")
	h.call("POST", "/v1/members/o1/redemptions", app, map[string]any{"reward_id": "lounge"}).expect(t, 422, "tier-too-low")
	h.call("POST", "/v1/members/o1/redemptions", app, map[string]any{"reward_id": "mug", "capture": true}).expect(t, 201, "")
	h.call("PATCH", "/v1/members/o1", app, map[string]any{"status": "suspended", "tags": []string{}}).expect(t, 200, "")
	h.call("POST", "/v1/members/o1/activities", app, map[string]any{"name": "autopay_enabled"}).expect(t, 409, "member-inactive")
	h.call("PATCH", "/v1/members/o1", app, map[string]any{"status": "active"}).expect(t, 200, "")
	h.call("POST", "/v1/members/o1/activities", app, map[string]any{"name": "autopay_enabled"}).expect(t, 201, "")

	// Review: two large payments held; one approved, one rejected.
	h.call("POST", "/v1/events", app, event("other", "o2", "big-1", 50_000_000)).expect(t, 201, "")
	h.call("POST", "/v1/events", app, event("other", "o2", "big-2", 60_000_000)).expect(t, 201, "")
	q := h.call("GET", "/v1/review?limit=1", admin, nil).expect(t, 200, "")
	q2 := h.call("GET", "/v1/review?cursor="+url.QueryEscape(str(q.Body, "next_cursor")), admin, nil).expect(t, 200, "")
	h.call("GET", "/v1/members/o2/data", admin, nil).expect(t, 200, "")
	first, second := str(q.Body["data"].([]any)[0], "id"), str(q2.Body["data"].([]any)[0], "id")
	h.call("POST", "/v1/review/"+first+"/approve", admin, "{}", "Idempotency-Key", "rv-1").expect(t, 200, "")
	h.call("POST", "/v1/review/"+first+"/approve", admin, "{}", "Idempotency-Key", "rv-1").expect(t, 200, "")
	h.call("POST", "/v1/review/"+second+"/reject", admin, map[string]any{"reason": "chargeback risk"}).expect(t, 200, "")
	h.call("POST", "/v1/review/"+second+"/reject", admin, nil).expect(t, 404, "not-found")

	// GDPR: export, erase, and the anonymised member.
	h.call("POST", "/v1/events", app, event("other", "o3", "big-3", 70_000_000)).expect(t, 201, "")
	h.call("GET", "/v1/members/o3/data", admin, nil).expect(t, 200, "")
	erased := h.call("DELETE", "/v1/members/o3/data", admin, nil).expect(t, 200, "")
	anon := str(erased.Body, "anonymised_id")
	h.call("GET", "/v1/members/"+anon, app, nil).expect(t, 200, "")
	h.call("GET", "/v1/members/"+anon+"/ledger", app, nil).expect(t, 200, "")
	h.call("GET", "/v1/members/"+anon+"/data", admin, nil).expect(t, 200, "")
	h.call("GET", "/v1/members/o3", app, nil).expect(t, 404, "not-found")

	// Simulation over given payments: a duplicate, a refund of an unknown
	// payment, and point values in two currencies (no liability delta).
	proposed := maps(prog)
	proposed["point_value"] = map[string]any{"minor": "0.5", "currency": "USD"}
	succ := event("other", "o9", "s-1", 250000)
	unknownRefund := event("other", "o9", "s-2", 1000)
	unknownRefund["type"] = "payment.refunded"
	unknownRefund["data"].(map[string]any)["refund_of"] = "nowhere"
	sim := h.call("POST", "/v1/program/simulate", admin, map[string]any{"program": proposed, "payments": []any{succ, succ, unknownRefund}}).expect(t, 200, "")
	if sim.Body["liability_delta"] != nil || str(sim.Body, "liability_note") == "" {
		t.Fatalf("simulation across currencies: %s", sim.Raw)
	}
	h.call("POST", "/v1/program/simulate", admin, map[string]any{"program": prog, "member_id": "o1"}).expect(t, 200, "")

	h.call("GET", "/v1/stats?from=2026-11-01&to=2026-11-30", admin, nil).expect(t, 200, "")

	// Generic client errors of the wrapper.
	h.call("GET", "/v1/program", "", nil).expect(t, 401, "unauthenticated")
	h.call("PUT", "/v1/rewards", app, map[string]any{"rewards": []any{}}).expect(t, 403, "forbidden")
	h.call("PUT", "/v1/program", admin, `{"name":"`+strings.Repeat("x", api.MaxBodyBytes)+`"}`).expect(t, 413, "request-too-large")
	h.call("PATCH", "/v1/members/o1", app, `{}`, "Content-Type", "text/plain").expect(t, 415, "unsupported-media-type")
	h.call("POST", "/v1/members", app, map[string]any{"member_id": "o1"}, "Idempotency-Key", strings.Repeat("k", 256)).expect(t, 400, "validation-error")
	h.call("POST", "/v1/members", app, map[string]any{"member_id": "o5"}, "Idempotency-Key", "same").expect(t, 201, "")
	h.call("POST", "/v1/members", app, map[string]any{"member_id": "o6"}, "Idempotency-Key", "same").expect(t, 409, "idempotency-key-reused")
	if r := h.call("DELETE", "/v1/program", admin, nil).expect(t, 405, "method-not-allowed"); r.Header.Get("Allow") != "GET, PUT" {
		t.Fatalf("Allow %q, want GET, PUT", r.Header.Get("Allow"))
	}
	h.call("GET", "/v1/members/o1/redemptions", app, nil).expect(t, 405, "method-not-allowed")
	h.call("GET", "/v1/nothing-here", app, nil).expect(t, 404, "not-found")
}

// maps copies a JSON object one level deep.
func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// The breakdown line kinds the document lists are exactly the ledger's
// vocabulary (rules.LineKinds), so a new kind cannot reach the API undocumented.
func TestOpenAPIBreakdownKinds(t *testing.T) {
	got := schemaEnum(t, "BreakdownLine", "kind")
	var want []string
	for _, k := range rules.LineKinds() {
		want = append(want, string(k))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("BreakdownLine.kind enum = %v, want rules.LineKinds() %v", got, want)
	}
}

// schemaEnum is the enum of property of components.schemas.schema in
// openapi.json.
func schemaEnum(t *testing.T, schema, property string) []string {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Components.Schemas[schema].Properties[property].Enum
}
