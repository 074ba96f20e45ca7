package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// doc is a minimal OpenAPI 3.1 document with schema s as components.schemas.S.
func doc(s string) string {
	return `{"openapi": "3.1.0", "info": {"title": "t", "version": "1", "summary": "s", "license": {"name": "MIT", "identifier": "MIT"}},
		"jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base", "paths": {},
		"components": {"schemas": {"S": ` + s + `}}}`
}

// schemaOf converts doc(s) and returns its schema S, re-encoded compactly.
func schemaOf(t *testing.T, s string) (string, error) {
	t.Helper()
	out, err := Convert([]byte(doc(s)))
	if err != nil {
		return "", err
	}
	var d struct {
		OpenAPI    string         `json:"openapi"`
		Info       map[string]any `json:"info"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
		Dialect any `json:"jsonSchemaDialect"`
	}
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	if d.OpenAPI != "3.0.3" || d.Dialect != nil || d.Info["summary"] != nil || d.Info["license"].(map[string]any)["identifier"] != nil {
		t.Fatalf("document fields not converted: %s", out)
	}
	var v any
	_ = json.Unmarshal(d.Components.Schemas["S"], &v)
	b, _ := json.Marshal(v)
	return string(b), nil
}

func TestConvertSchemas(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"nullable type", `{"type": ["string", "null"], "maxLength": 3}`,
			`{"maxLength":3,"nullable":true,"type":"string"}`},
		{"type union: untyped, type-specific keywords kept", `{"type": ["string", "number"], "pattern": "^[0-9]+$", "minimum": 0}`,
			`{"minimum":0,"pattern":"^[0-9]+$"}`},
		{"nullable union", `{"type": ["array", "null"], "items": {"type": "integer"}}`,
			`{"items":{"type":"integer"},"nullable":true,"type":"array"}`},
		{"oneOf a ref or null", `{"oneOf": [{"$ref": "#/components/schemas/R"}, {"type": "null"}], "description": "d"}`,
			`{"allOf":[{"$ref":"#/components/schemas/R"}],"description":"d","nullable":true}`},
		{"oneOf kept", `{"oneOf": [{"required": ["a"]}, {"required": ["b"]}]}`,
			`{"oneOf":[{"required":["a"]},{"required":["b"]}]}`},
		{"const", `{"type": "integer", "const": 400}`, `{"enum":[400],"type":"integer"}`},
		{"const in not", `{"type": "integer", "not": {"const": 0}}`, `{"not":{"enum":[0]},"type":"integer"}`},
		{"exclusive bounds", `{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1.5}`,
			`{"exclusiveMaximum":true,"exclusiveMinimum":true,"maximum":1.5,"minimum":0,"type":"number"}`},
		{"examples", `{"type": "string", "examples": ["a", "b"]}`, `{"example":"a","type":"string"}`},
		{"dropped checks", `{"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}, "$comment": "c", "additionalProperties": {"type": ["string", "null"]}}`,
			`{"additionalProperties":{"nullable":true,"type":"string"},"type":"object"}`},
		{"ref with siblings", `{"$ref": "#/components/schemas/R", "description": "d", "maxLength": 2}`,
			`{"allOf":[{"$ref":"#/components/schemas/R"}],"description":"d","maxLength":2}`},
		{"ref with a description only", `{"$ref": "#/components/schemas/R", "description": "d"}`,
			`{"$ref":"#/components/schemas/R","description":"d"}`},
		{"nested properties and items", `{"type": "object", "properties": {"const": {"type": "array", "items": {"const": "x"}}, "examples": {"type": ["integer", "null"]}}}`,
			`{"properties":{"const":{"items":{"enum":["x"]},"type":"array"},"examples":{"nullable":true,"type":"integer"}},"type":"object"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := schemaOf(t, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// What 3.0 cannot say fails, naming where, rather than change the meaning.
func TestConvertRefuses(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"prefixItems", `{"type": "array", "prefixItems": [{"type": "string"}]}`, "components.schemas.S: prefixItems"},
		{"if", `{"properties": {"a": {"if": {"type": "string"}, "then": {"minLength": 1}}}}`, "components.schemas.S.properties.a: if"},
		{"null alone", `{"type": "null"}`, "components.schemas.S: type null alone"},
		{"patternProperties", `{"patternProperties": {"^x": {}}}`, "patternProperties"},
		{"const beside enum", `{"const": 1, "enum": [1, 2]}`, "const beside enum"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := schemaOf(t, tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
	if _, err := Convert([]byte(`{"openapi": "3.0.3", "paths": {}}`)); err == nil {
		t.Fatal("a 3.0 document converted")
	}
	if _, err := Convert([]byte(`{"openapi": "3.1.0", "webhooks": {"w": {}}}`)); err == nil || !strings.Contains(err.Error(), "webhooks") {
		t.Fatalf("webhooks: %v", err)
	}
}

// The schemas of parameters, headers, request bodies and responses are
// converted too.
func TestConvertWalksOperations(t *testing.T) {
	in := `{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/x/{id}": {
		"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "const": "a"}}],
		"post": {
			"parameters": [{"name": "q", "in": "query", "schema": {"type": ["integer", "null"]}}],
			"requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"n": {"type": ["string", "null"]}}}}}},
			"responses": {"200": {"description": "ok",
				"headers": {"H": {"schema": {"type": "string", "const": "h"}}},
				"content": {"application/json": {"schema": {"type": "integer", "const": 1}}}},
				"404": {"$ref": "#/components/responses/R", "description": "3.1 only: overrides R's"}}}}},
		"components": {"responses": {"R": {"description": "r", "content": {"application/json": {"schema": {"const": 2}}}}},
			"parameters": {"P": {"name": "p", "in": "header", "schema": {"const": "p"}}},
			"headers": {"H": {"schema": {"const": "h"}}}}}`
	out, err := Convert([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`"const"`, `"type": [`} {
		if strings.Contains(string(out), bad) {
			t.Fatalf("%s left in:\n%s", bad, out)
		}
	}
	if strings.Contains(string(out), "3.1 only") {
		t.Fatalf("a Reference Object kept its description:\n%s", out)
	}
	if n := strings.Count(string(out), `"nullable": true`); n != 2 {
		t.Fatalf("%d nullable, want 2:\n%s", n, out)
	}
}

// The API's own document converts to a valid OpenAPI 3.0 document (as
// kin-openapi, the loader oapi-codegen uses, reads it) with no 3.1 construct
// left, and with every path and schema of the original.
func TestConvertTheAPIDocument(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("..", "..", "shared", "api", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Convert(in)
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	d, err := loader.LoadFromData(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(context.Background()); err != nil {
		t.Fatalf("the 3.0 view is not valid OpenAPI 3.0: %v", err)
	}
	var orig, view struct {
		Paths      map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	_ = json.Unmarshal(in, &orig)
	_ = json.Unmarshal(out, &view)
	if len(view.Paths) != len(orig.Paths) || len(view.Components.Schemas) != len(orig.Components.Schemas) {
		t.Fatalf("paths %d/%d, schemas %d/%d", len(view.Paths), len(orig.Paths), len(view.Components.Schemas), len(orig.Components.Schemas))
	}
	for _, bad := range []string{`"type": [`, `"const":`, `"propertyNames"`, `"3.1.0"`} {
		if strings.Contains(string(out), bad) {
			t.Errorf("%s left in the 3.0 view", bad)
		}
	}
}

func TestRunWritesTheView(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.json")
	if err := os.WriteFile(in, []byte(doc(`{"type": "string"}`)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "sub", "out.json")
	if err := run(in, out); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), `"openapi": "3.0.3"`) {
		t.Fatalf("%s, %v", b, err)
	}
	if err := run(filepath.Join(dir, "missing.json"), out); err == nil {
		t.Fatal("a missing input converted")
	}
}
