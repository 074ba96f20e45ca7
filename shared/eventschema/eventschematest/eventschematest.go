// Package eventschematest checks events against the catalogue, for tests: the
// tests that produce events (shared/domainevents' mapping, its end-to-end runs
// on the emulators, the CloudEvents rendering) call it on everything they
// produce, so an event that leaves its schema fails them.
//
// The validator is github.com/santhosh-tekuri/jsonschema/v6 (draft 2020-12
// and draft 4, formats asserted). It is linked only into tests.
package eventschematest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/accrue/accrue/shared/eventschema"
)

// compiled caches each schema, by key, compiled once.
var compiled sync.Map // string → *compiledSchema

type compiledSchema struct {
	once sync.Once
	sch  *jsonschema.Schema
	err  error
}

func compile(key, url string, doc func() ([]byte, error)) (*jsonschema.Schema, error) {
	v, _ := compiled.LoadOrStore(key, &compiledSchema{})
	cs := v.(*compiledSchema)
	cs.once.Do(func() {
		b, err := doc()
		if err != nil {
			cs.err = err
			return
		}
		parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			cs.err = fmt.Errorf("%s: %w", url, err)
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource(url, parsed); err != nil {
			cs.err = err
			return
		}
		// Compiling also validates the schema against its dialect's
		// meta-schema (2020-12 or draft 4).
		cs.sch, cs.err = c.Compile(url)
	})
	return cs.sch, cs.err
}

// Compile compiles a schema of the catalogue as published.
func Compile(s eventschema.Schema) (*jsonschema.Schema, error) {
	return compile("open "+s.URI, s.URI, func() ([]byte, error) { return s.JSON, nil })
}

// strict compiles s closed: every object schema that lists properties and
// says nothing of others gets additionalProperties false. The published
// schemas are open (consumers must ignore fields they do not know, so that a
// field added within a version breaks nobody); the tests are not, so that
// Accrue never emits a field its schema does not describe.
func strict(s eventschema.Schema) (*jsonschema.Schema, error) {
	return compile("strict "+s.URI, s.URI, func() ([]byte, error) {
		var doc any
		dec := json.NewDecoder(bytes.NewReader(s.JSON))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return nil, err
		}
		closeObjects(doc)
		return json.Marshal(doc)
	})
}

func closeObjects(v any) {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["properties"].(map[string]any); ok {
			if _, set := x["additionalProperties"]; !set {
				x["additionalProperties"] = false
			}
		}
		for _, c := range x {
			closeObjects(c)
		}
	case []any:
		for _, c := range x {
			closeObjects(c)
		}
	}
}

// Check validates detail, the JSON of one event, against the schema its
// dataschema names (which must be the schema of its type), with no field the
// schema does not describe.
func Check(detail []byte) error {
	var head struct {
		Type       string `json:"type"`
		DataSchema string `json:"dataschema"`
	}
	if err := json.Unmarshal(detail, &head); err != nil {
		return fmt.Errorf("event is not JSON: %w", err)
	}
	s, ok := eventschema.ByURI(head.DataSchema)
	switch {
	case !ok:
		return fmt.Errorf("%s event: dataschema %q is no schema of the catalogue", head.Type, head.DataSchema)
	case s.Type != head.Type:
		return fmt.Errorf("%s event: dataschema %s is the schema of %s", head.Type, head.DataSchema, s.Type)
	}
	sch, err := strict(s)
	if err != nil {
		return fmt.Errorf("compile %s: %w", s.URI, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(detail))
	if err != nil {
		return err
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("%s event does not validate against %s: %w\nevent: %s", head.Type, s.URI, err, detail)
	}
	return nil
}

// CheckEventBridge validates a whole EventBridge event (as a rule's target
// receives it) against the registry document of its detail's schema
// (eventschema.Schema.EventBridgeDraft4, draft 4), and its detail with Check.
func CheckEventBridge(event []byte) error {
	var ev struct {
		Detail json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(event, &ev); err != nil {
		return fmt.Errorf("EventBridge event is not JSON: %w", err)
	}
	if len(ev.Detail) == 0 {
		return errors.New("EventBridge event without a detail")
	}
	if err := Check(ev.Detail); err != nil {
		return err
	}
	var head struct {
		DataSchema string `json:"dataschema"`
	}
	_ = json.Unmarshal(ev.Detail, &head)
	s, _ := eventschema.ByURI(head.DataSchema)
	sch, err := compile("draft4 "+s.URI, fmt.Sprintf("https://accrue.dev/registry/%s/v%d.json", s.Type, s.Version),
		func() ([]byte, error) { return s.EventBridgeDraft4() })
	if err != nil {
		return fmt.Errorf("compile the registry document of %s: %w", s.URI, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(event))
	if err != nil {
		return err
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("EventBridge event does not validate against the registry document of %s: %w\nevent: %s", s.URI, err, event)
	}
	return nil
}

// Require fails t unless every detail passes Check.
func Require(t testing.TB, details ...[]byte) {
	t.Helper()
	for _, d := range details {
		if err := Check(d); err != nil {
			t.Error(err)
		}
	}
}
