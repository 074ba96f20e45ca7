package eventschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Draft4 is the $schema of the registry documents (EventBridgeDraft4).
const Draft4 = "http://json-schema.org/draft-04/schema#"

// EventBridgeDraft4 is the schema of the whole EventBridge event that carries
// an event of s — the envelope (version, id, detail-type, source, account,
// time, region, resources) with s as its detail — in JSON Schema draft 4, the
// JSON Schema dialect an EventBridge schema registry takes
// (AWS::EventSchemas::Schema Type "JSONSchemaDraft4"; the other is OpenApi3).
// It is what the stack registers, one schema per type and version, so
// partners browse the catalogue and download code bindings in the registry.
//
// The 2020-12 schema is converted, not rewritten: const becomes a one-value
// enum, $defs become definitions (and their $refs follow),
// dependentRequired becomes dependencies, $schema and $id go; the detail
// itself becomes definitions[DefinitionName(s.Type)]. A keyword draft 4
// cannot express (if/then/else, prefixItems, unevaluatedProperties, a numeric
// exclusiveMinimum, ...) is an error: the schemas keep to the common subset.
func (s Schema) EventBridgeDraft4() ([]byte, error) {
	var detail map[string]any
	dec := json.NewDecoder(bytes.NewReader(s.JSON))
	dec.UseNumber()
	if err := dec.Decode(&detail); err != nil {
		return nil, fmt.Errorf("%s: %w", s.URI, err)
	}
	defs := map[string]any{}
	if raw, ok := detail["$defs"]; ok {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: $defs is not an object", s.URI)
		}
		for name, d := range m {
			c, err := toDraft4(d, "$defs/"+name)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.URI, err)
			}
			defs[name] = c
		}
		delete(detail, "$defs")
	}
	delete(detail, "$schema")
	delete(detail, "$id")
	name := DefinitionName(s.Type)
	if _, clash := defs[name]; clash {
		return nil, fmt.Errorf("%s: a $defs entry is named %s, the name of the detail's definition", s.URI, name)
	}
	d, err := toDraft4(detail, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.URI, err)
	}
	defs[name] = d

	str := map[string]any{"type": "string"}
	doc := map[string]any{
		"$schema":     Draft4,
		"title":       s.Type,
		"description": fmt.Sprintf("An EventBridge event of Accrue: source %q, detail-type %q, detail version %d (%s). %s", Source, s.Type, s.Version, s.URI, s.Description),
		"type":        "object",
		// How EventBridge's own schemas name the event they describe.
		"x-amazon-events-source":      Source,
		"x-amazon-events-detail-type": s.Type,
		"required":                    []any{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"},
		"properties": map[string]any{
			"version":     str,
			"id":          map[string]any{"type": "string", "description": "EventBridge's id of this put: new on every put; the stable id is detail.id."},
			"detail-type": map[string]any{"type": "string", "enum": []any{s.Type}},
			"source":      map[string]any{"type": "string", "enum": []any{Source}},
			"account":     str,
			"time":        map[string]any{"type": "string", "format": "date-time"},
			"region":      str,
			"resources":   map[string]any{"type": "array", "items": str},
			"detail":      map[string]any{"$ref": "#/definitions/" + name},
		},
		"definitions": defs,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

// DefinitionName is the name of an event type's detail among a registry
// document's definitions: points.earned → PointsEarned.
func DefinitionName(typ string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(typ, func(r rune) bool { return r == '.' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// draft4Keywords are the keywords a schema may use (besides the ones
// toDraft4 converts) because draft 4 has them with the same meaning.
var draft4Keywords = []string{
	"title", "description", "default", "type", "enum", "format",
	"properties", "required", "additionalProperties", "minProperties", "maxProperties",
	"items", "minItems", "maxItems", "uniqueItems",
	"minLength", "maxLength", "pattern", "minimum", "maximum", "multipleOf",
	"allOf", "anyOf", "oneOf", "not", "$ref",
}

// toDraft4 converts one (sub)schema at where.
func toDraft4(node any, where string) (any, error) {
	m, ok := node.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: a schema must be an object", orRoot(where))
	}
	out := map[string]any{}
	for k, v := range m {
		at := where + "/" + k
		switch k {
		case "const":
			if _, both := m["enum"]; both {
				return nil, fmt.Errorf("%s: const beside enum", at)
			}
			out["enum"] = []any{v}
		case "dependentRequired":
			out["dependencies"] = v
		case "$ref":
			ref, _ := v.(string)
			if !strings.HasPrefix(ref, "#/$defs/") {
				return nil, fmt.Errorf("%s: only #/$defs/ references convert, not %q", at, ref)
			}
			out["$ref"] = "#/definitions/" + strings.TrimPrefix(ref, "#/$defs/")
		case "properties":
			props, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: not an object", at)
			}
			cp := map[string]any{}
			for name, sub := range props {
				c, err := toDraft4(sub, at+"/"+name)
				if err != nil {
					return nil, err
				}
				cp[name] = c
			}
			out[k] = cp
		case "items", "not":
			c, err := toDraft4(v, at)
			if err != nil {
				return nil, err
			}
			out[k] = c
		case "additionalProperties":
			if b, ok := v.(bool); ok {
				out[k] = b
				continue
			}
			c, err := toDraft4(v, at)
			if err != nil {
				return nil, err
			}
			out[k] = c
		case "allOf", "anyOf", "oneOf":
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%s: not an array", at)
			}
			cl := make([]any, len(list))
			for i, sub := range list {
				c, err := toDraft4(sub, fmt.Sprintf("%s/%d", at, i))
				if err != nil {
					return nil, err
				}
				cl[i] = c
			}
			out[k] = cl
		default:
			if !slices.Contains(draft4Keywords, k) {
				return nil, fmt.Errorf("%s: keyword %s has no JSON Schema draft 4 equivalent", orRoot(where), k)
			}
			out[k] = v
		}
	}
	return out, nil
}

func orRoot(where string) string {
	if where == "" {
		return "(root)"
	}
	return where
}
