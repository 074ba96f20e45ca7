package eventschema_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/accrue/accrue/shared/eventschema"
	"github.com/accrue/accrue/shared/eventschema/eventschematest"
	"github.com/accrue/accrue/shared/rules"
)

// Every schema of the catalogue is a valid draft 2020-12 schema (compiling
// checks it against the meta-schema) at the path its URI names.
func TestEverySchemaCompiles(t *testing.T) {
	all := eventschema.All()
	if len(all) < 7 {
		t.Fatalf("%d schemas", len(all))
	}
	for _, s := range all {
		if s.URI != eventschema.URI(s.Type, s.Version) || s.Title != s.Type || s.Description == "" {
			t.Errorf("%+v", s)
		}
		if _, err := eventschematest.Compile(s); err != nil {
			t.Errorf("%s: %v", s.URI, err)
		}
		if got, ok := eventschema.ByURI(s.URI); !ok || got.Type != s.Type || got.Version != s.Version {
			t.Errorf("ByURI(%s) = %v, %v", s.URI, got.URI, ok)
		}
		if got, ok := eventschema.Get(s.Type, s.Version); !ok || !bytes.Equal(got.JSON, s.JSON) {
			t.Errorf("Get(%s, %d)", s.Type, s.Version)
		}
	}
	for _, typ := range eventschema.Types() {
		vs := eventschema.Versions(typ)
		latest, ok := eventschema.Latest(typ)
		if !ok || len(vs) == 0 || latest.Version != vs[len(vs)-1] {
			t.Errorf("%s: versions %v, latest %v", typ, vs, latest.Version)
		}
	}
	if _, ok := eventschema.Latest("points.spent"); ok {
		t.Error("Latest of an unknown type")
	}
}

// The definitions the schemas share (Line, Payment, Money) are the same in
// every schema that has them: one shape per name across the catalogue.
func TestSharedDefinitionsAgree(t *testing.T) {
	seen := map[string]any{}
	where := map[string]string{}
	for _, s := range eventschema.All() {
		var doc struct {
			Defs map[string]any `json:"$defs"`
		}
		if err := json.Unmarshal(s.JSON, &doc); err != nil {
			t.Fatal(err)
		}
		for name, d := range doc.Defs {
			if prev, ok := seen[name]; ok && !reflect.DeepEqual(prev, d) {
				t.Errorf("$defs.%s of %s differs from the one of %s", name, s.URI, where[name])
			}
			seen[name], where[name] = d, s.URI
		}
	}
}

// A breakdown line's kind is documented with every kind the ledger has
// (rules.LineKinds), as the OpenAPI document's BreakdownLine is.
func TestLineKindsDocumented(t *testing.T) {
	for _, s := range eventschema.All() {
		var doc struct {
			Defs struct {
				Line *struct {
					Properties struct {
						Kind struct {
							Description string `json:"description"`
						} `json:"kind"`
					} `json:"properties"`
				} `json:"Line"`
			} `json:"$defs"`
		}
		if err := json.Unmarshal(s.JSON, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Defs.Line == nil {
			continue
		}
		desc := doc.Defs.Line.Properties.Kind.Description
		for _, k := range rules.LineKinds() {
			if !strings.Contains(desc, " "+string(k)+",") && !strings.Contains(desc, " "+string(k)+".") {
				t.Errorf("%s: Line.kind does not document %q: %s", s.URI, k, desc)
			}
		}
	}
}

// The registry documents (EventBridgeDraft4) are valid draft 4 schemas with
// nothing of 2020-12 left, describe the whole EventBridge event, and accept
// an event that the 2020-12 schema accepts.
func TestRegistryDocuments(t *testing.T) {
	for _, s := range eventschema.All() {
		b, err := s.EventBridgeDraft4()
		if err != nil {
			t.Fatalf("%s: %v", s.URI, err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		if doc["$schema"] != eventschema.Draft4 || doc["x-amazon-events-detail-type"] != s.Type || doc["x-amazon-events-source"] != eventschema.Source {
			t.Errorf("%s: %s", s.URI, b)
		}
		walk(doc, func(k string) {
			if slices.Contains([]string{"$defs", "const", "$id", "dependentRequired", "prefixItems", "unevaluatedProperties", "if"}, k) {
				t.Errorf("%s: the draft 4 document still has %s", s.URI, k)
			}
		})
		if !bytes.Contains(b, []byte(`"#/definitions/`+eventschema.DefinitionName(s.Type)+`"`)) {
			t.Errorf("%s: detail is not #/definitions/%s", s.URI, eventschema.DefinitionName(s.Type))
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource("https://registry.test/"+s.Type+".json", parsed); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Compile("https://registry.test/" + s.Type + ".json"); err != nil {
			t.Errorf("%s: the registry document is not a valid draft 4 schema: %v", s.URI, err)
		}
	}
	if got := eventschema.DefinitionName("points.earned"); got != "PointsEarned" {
		t.Errorf("DefinitionName = %q", got)
	}
	if got := eventschema.DefinitionName("member.flagged_again"); got != "MemberFlaggedAgain" {
		t.Errorf("DefinitionName = %q", got)
	}
}

func walk(v any, key func(string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			key(k)
			walk(c, key)
		}
	case []any:
		for _, c := range x {
			walk(c, key)
		}
	}
}

// A keyword draft 4 cannot express, or a reference it cannot follow, is an
// error rather than a registry document that says something else.
func TestRegistryDocumentRefusesWhatDraft4CannotSay(t *testing.T) {
	for name, doc := range map[string]string{
		"if/then":           `{"type":"object","if":{"required":["a"]},"then":{"required":["b"]}}`,
		"prefixItems":       `{"type":"object","properties":{"a":{"type":"array","prefixItems":[{"type":"string"}]}}}`,
		"remote $ref":       `{"type":"object","properties":{"a":{"$ref":"https://example.com/x.json"}}}`,
		"nested $defs":      `{"type":"object","properties":{"a":{"$defs":{"X":{}}}}}`,
		"const beside enum": `{"type":"object","properties":{"a":{"const":1,"enum":[1]}}}`,
		"definition clash":  `{"type":"object","$defs":{"PointsSpent":{"type":"string"}}}`,
	} {
		s := eventschema.Schema{Type: "points.spent", Version: 1, URI: eventschema.URI("points.spent", 1), JSON: []byte(doc)}
		if b, err := s.EventBridgeDraft4(); err == nil {
			t.Errorf("%s: converted to %s", name, b)
		}
	}
}

// The test assertion catches what it must: a field the schema does not
// describe, a missing or mistyped one, a wrong dataschema.
func TestCheckCatchesDrift(t *testing.T) {
	good := `{"id":"evt_0123456789abcdef0123456789abcdef","type":"tier.changed","dataschema":"https://accrue.dev/schemas/events/tier.changed/v1.json",` +
		`"partner_id":"acme","member_id":"m1","time":"2026-05-01T12:00:00Z","from_tier":"","to_tier":"gold","qualifying":1100}`
	if err := eventschematest.Check([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"undescribed field": strings.Replace(good, `"qualifying":1100`, `"qualifying":1100,"extra":1`, 1),
		"missing from_tier": strings.Replace(good, `"from_tier":"",`, ``, 1),
		"qualifying string": strings.Replace(good, `"qualifying":1100`, `"qualifying":"1100"`, 1),
		"bad time":          strings.Replace(good, `2026-05-01T12:00:00Z`, `yesterday`, 1),
		"bad id":            strings.Replace(good, `evt_0123456789abcdef0123456789abcdef`, `evt_1`, 1),
		"unknown schema":    strings.Replace(good, `tier.changed/v1.json`, `tier.changed/v9.json`, 1),
		"another's schema":  strings.Replace(good, `tier.changed/v1.json`, `points.earned/v1.json`, 1),
		"not JSON":          `{`,
	} {
		if err := eventschematest.Check([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The published schema is open: a consumer validating with it accepts a
	// field added later within the version.
	s, _ := eventschema.Latest("tier.changed")
	sch, err := eventschematest.Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(strings.Replace(good, `"qualifying":1100`, `"qualifying":1100,"later":true`, 1)))
	if err := sch.Validate(inst); err != nil {
		t.Errorf("the published schema refuses an added field: %v", err)
	}

	envelope := `{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"tier.changed","source":"accrue","account":"111122223333",` +
		`"time":"2026-05-01T12:00:00Z","region":"eu-west-1","resources":[],"detail":` + good + `}`
	if err := eventschematest.CheckEventBridge([]byte(envelope)); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"wrong detail-type": strings.Replace(envelope, `"detail-type":"tier.changed"`, `"detail-type":"points.earned"`, 1),
		"wrong source":      strings.Replace(envelope, `"source":"accrue"`, `"source":"other"`, 1),
		"no region":         strings.Replace(envelope, `"region":"eu-west-1",`, ``, 1),
		"bad detail":        strings.Replace(envelope, `"qualifying":1100`, `"qualifying":"x"`, 1),
		"no detail":         `{"version":"0"}`,
	} {
		if err := eventschematest.CheckEventBridge([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
