package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Convert returns the OpenAPI 3.0.3 view of an OpenAPI 3.1 document (JSON).
//
// The document is walked by its structure (paths, operations, parameters,
// headers, request bodies, responses, media types, components), so only
// schemas are rewritten as schemas: a property that happens to be called
// "const" or "examples" is left alone. In each schema:
//
//   - type [T, "null"] becomes type T with nullable: true; type ["null"]
//     alone cannot be said in 3.0 outside a oneOf/anyOf (below) and fails;
//   - type [T1, T2, ...] (several non-null types) loses its type: 3.0 has no
//     type union, and JSON Schema applies each type-specific keyword (pattern,
//     minimum, ...) only to values of its type, so those keywords keep their
//     meaning; the view accepts any type where the document accepts T1 or T2
//     (a generator makes it an untyped value);
//   - a {"type": "null"} member of oneOf/anyOf goes, with nullable: true; a
//     oneOf/anyOf left with one member becomes allOf [member] (3.0 ignores
//     nullable beside a bare $ref);
//   - const v becomes enum [v];
//   - numeric exclusiveMinimum/exclusiveMaximum n become minimum/maximum n
//     with exclusiveMinimum/exclusiveMaximum: true;
//   - examples [v, ...] becomes example v;
//   - a $ref with siblings other than description and summary (3.1 applies
//     them, 3.0 ignores them) becomes allOf [{$ref}] beside them;
//   - propertyNames, $comment, contentEncoding and contentMediaType (checks
//     and notes that 3.0 cannot say and that code generation does not use)
//     are dropped;
//   - any other keyword 3.0 does not have (prefixItems, if/then/else,
//     dependentRequired, unevaluatedProperties, $defs, ...) fails.
//
// Outside schemas: a Reference Object ($ref to a parameter, header, request
// body or response) loses its siblings (3.1 lets description and summary
// override the target's; 3.0 has none); openapi becomes "3.0.3"; jsonSchemaDialect, info.summary,
// info.license.identifier go; webhooks and components.pathItems fail unless
// empty. Object keys come out sorted (encoding/json), numbers as written.
func Convert(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	v, _ := root["openapi"].(string)
	if !strings.HasPrefix(v, "3.1.") {
		return nil, fmt.Errorf("openapi %q: not an OpenAPI 3.1 document", v)
	}
	c := &converter{}
	c.document(root)
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

type converter struct {
	errs []error
}

func (c *converter) fail(path, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: "+format, append([]any{path}, args...)...))
}

// obj is v as a JSON object, or nil.
func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// each calls f for each member of the object v, in key order.
func each(v any, f func(key string, member map[string]any)) {
	m := obj(v)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if o := obj(m[k]); o != nil {
			f(k, o)
		}
	}
}

func (c *converter) document(root map[string]any) {
	root["openapi"] = "3.0.3"
	delete(root, "jsonSchemaDialect")
	if info := obj(root["info"]); info != nil {
		delete(info, "summary")
		if l := obj(info["license"]); l != nil {
			delete(l, "identifier")
		}
	}
	if len(obj(root["webhooks"])) > 0 {
		c.fail("webhooks", "OpenAPI 3.0 has no webhooks")
	}
	delete(root, "webhooks")
	each(root["paths"], func(p string, item map[string]any) { c.pathItem("paths."+p, item) })
	comp := obj(root["components"])
	if len(obj(comp["pathItems"])) > 0 {
		c.fail("components.pathItems", "OpenAPI 3.0 has no components.pathItems")
	}
	each(comp["schemas"], func(k string, s map[string]any) { c.schema("components.schemas."+k, s) })
	each(comp["parameters"], func(k string, p map[string]any) { c.parameter("components.parameters."+k, p) })
	each(comp["headers"], func(k string, h map[string]any) { c.parameter("components.headers."+k, h) })
	each(comp["requestBodies"], func(k string, b map[string]any) { c.content("components.requestBodies."+k, b) })
	each(comp["responses"], func(k string, r map[string]any) { c.response("components.responses."+k, r) })
}

var operations = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func (c *converter) pathItem(path string, item map[string]any) {
	c.parameters(path, item)
	for _, m := range operations {
		op := obj(item[m])
		if op == nil {
			continue
		}
		where := path + "." + m
		c.parameters(where, op)
		if b := obj(op["requestBody"]); b != nil {
			c.content(where+".requestBody", b)
		}
		each(op["responses"], func(st string, r map[string]any) { c.response(where+".responses."+st, r) })
	}
}

// isRef reports whether o is a Reference Object, and drops its siblings.
func isRef(o map[string]any) bool {
	if _, ok := o["$ref"]; !ok {
		return false
	}
	for k := range o {
		if k != "$ref" {
			delete(o, k)
		}
	}
	return true
}

func (c *converter) parameters(path string, holder map[string]any) {
	list, _ := holder["parameters"].([]any)
	for i, p := range list {
		if o := obj(p); o != nil {
			c.parameter(fmt.Sprintf("%s.parameters[%d]", path, i), o)
		}
	}
}

// parameter converts a parameter or a header: a schema or a content map.
func (c *converter) parameter(path string, p map[string]any) {
	if isRef(p) {
		return
	}
	if s := obj(p["schema"]); s != nil {
		c.schema(path+".schema", s)
	}
	c.content(path, p)
}

func (c *converter) response(path string, r map[string]any) {
	if isRef(r) {
		return
	}
	each(r["headers"], func(k string, h map[string]any) { c.parameter(path+".headers."+k, h) })
	c.content(path, r)
}

// content converts the schemas of holder's content map (a request body, a
// response, a parameter).
func (c *converter) content(path string, holder map[string]any) {
	if isRef(holder) {
		return
	}
	each(holder["content"], func(mt string, media map[string]any) {
		if s := obj(media["schema"]); s != nil {
			c.schema(path+".content."+mt+".schema", s)
		}
	})
}

// dropped: schema keywords 3.0 lacks that only check or annotate values.
var dropped = []string{"propertyNames", "$comment", "contentEncoding", "contentMediaType"}

// unsupported: schema keywords 3.0 lacks whose meaning the view would lose.
var unsupported = []string{
	"prefixItems", "if", "then", "else", "dependentRequired", "dependentSchemas", "unevaluatedProperties",
	"unevaluatedItems", "patternProperties", "$defs", "$dynamicRef", "$dynamicAnchor", "$anchor", "contains",
	"minContains", "maxContains", "$id", "$schema",
}

func (c *converter) schema(path string, s map[string]any) {
	for _, k := range unsupported {
		if _, ok := s[k]; ok {
			c.fail(path, "%s has no OpenAPI 3.0 equivalent", k)
		}
	}
	for _, k := range dropped {
		delete(s, k)
	}
	if ref, ok := s["$ref"]; ok {
		for k := range s {
			if k != "$ref" && k != "description" && k != "summary" {
				delete(s, "$ref")
				s["allOf"] = append([]any{map[string]any{"$ref": ref}}, list(s["allOf"])...)
				break
			}
		}
		delete(s, "summary")
	}
	switch t := s["type"].(type) {
	case []any:
		var types []string
		for _, x := range t {
			name, _ := x.(string)
			if name == "null" {
				s["nullable"] = true
				continue
			}
			types = append(types, name)
		}
		switch len(types) {
		case 0:
			c.fail(path, "type null alone has no OpenAPI 3.0 equivalent outside oneOf/anyOf")
			delete(s, "type")
		case 1:
			s["type"] = types[0]
		default:
			delete(s, "type")
		}
	case string:
		if t == "null" {
			c.fail(path, "type null alone has no OpenAPI 3.0 equivalent outside oneOf/anyOf")
		}
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		members, ok := s[k].([]any)
		if !ok {
			continue
		}
		kept := slices.DeleteFunc(slices.Clone(members), isNullSchema)
		if len(kept) < len(members) {
			s["nullable"] = true
		}
		if len(kept) == 1 {
			delete(s, k)
			s["allOf"] = append(list(s["allOf"]), kept[0])
		} else {
			s[k] = kept
		}
	}
	if v, ok := s["const"]; ok {
		if _, has := s["enum"]; has {
			c.fail(path, "const beside enum")
		}
		s["enum"] = []any{v}
		delete(s, "const")
	}
	for kw, bound := range map[string]string{"exclusiveMinimum": "minimum", "exclusiveMaximum": "maximum"} {
		if n, ok := s[kw].(json.Number); ok {
			if _, has := s[bound]; has {
				c.fail(path, "%s beside %s", kw, bound)
			}
			s[bound], s[kw] = n, true
		}
	}
	if ex, ok := s["examples"].([]any); ok {
		if len(ex) > 0 {
			s["example"] = ex[0]
		}
		delete(s, "examples")
	}
	each(s["properties"], func(k string, p map[string]any) { c.schema(path+".properties."+k, p) })
	for _, k := range []string{"items", "additionalProperties", "not"} {
		if sub := obj(s[k]); sub != nil {
			c.schema(path+"."+k, sub)
		}
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		for i, m := range list(s[k]) {
			if sub := obj(m); sub != nil {
				c.schema(fmt.Sprintf("%s.%s[%d]", path, k, i), sub)
			}
		}
	}
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// isNullSchema reports whether v is the schema {"type": "null"} (with at most
// a description).
func isNullSchema(v any) bool {
	m := obj(v)
	if m == nil || m["type"] != "null" {
		return false
	}
	for k := range m {
		if k != "type" && k != "description" {
			return false
		}
	}
	return true
}
