// Package eventschema is the catalogue of Accrue's domain events: one JSON
// Schema (draft 2020-12) per version of each event type, the contract of the
// event's JSON (the EventBridge entry's detail, and the data of a CloudEvent).
//
// # Where the schemas are
//
// schemas/events/<type>/v<N>.json beside this file, embedded into the binary:
// the path is the schema's URI below BaseURI, which is its $id and the
// dataschema every event carries, e.g.
// https://accrue.dev/schemas/events/points.earned/v1.json. This package only
// reads them (no dependencies beyond the standard library), so the API (GET
// /v1/event-types), the CDK stack (the EventBridge schema registry, see
// EventBridgeDraft4) and shared/domainevents (which stamps dataschema) share
// one copy without importing each other.
//
// # Versions
//
// A version is a contract: an event that names it in dataschema validates
// against it. Within a version only additive changes are made, in place: a new
// optional field, a new value of a field documented as open (a breakdown
// line's kind), a looser constraint, clearer descriptions. The schemas do not
// forbid unknown fields, so a consumer that validates with an older copy of
// the same version still accepts the events: consumers must ignore fields they
// do not know. Anything else is breaking — removing or renaming a field,
// changing its type, format or meaning, making it optional, adding a value to
// a closed enum, tightening a constraint — and gets a new version, v<N+1>.json
// beside the old one, which stays (served and registered) as long as events of
// it may be delivered or replayed. The mapper emits one version per type
// (domainevents.SchemaVersion, the latest here: its tests fail otherwise); see
// the README for how a breaking change is rolled out.
package eventschema

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"sync"
)

// BaseURI is the URI prefix of every event schema: BaseURI + type + "/v" + N + ".json".
const BaseURI = "https://accrue.dev/schemas/events/"

// Dialect is the JSON Schema dialect of the schemas ($schema).
const Dialect = "https://json-schema.org/draft/2020-12/schema"

// Source is the source of every Accrue event: the EventBridge entry's source.
const Source = "accrue"

// ContentType is the media type the API serves a schema as.
const ContentType = "application/schema+json"

//go:embed schemas/events
var files embed.FS

// Schema is one version of one event type's schema.
type Schema struct {
	// Type is the event type (points.earned, ...): the event's type and the
	// EventBridge entry's detail-type.
	Type string
	// Version is the schema version, 1, 2, ...
	Version int
	// URI is the schema's $id: the dataschema of events of this version.
	URI string
	// Title and Description are the schema's own.
	Title, Description string
	// JSON is the schema document, as in the repository.
	JSON []byte
}

// URI is the schema URI of version v of typ.
func URI(typ string, v int) string { return BaseURI + typ + "/v" + strconv.Itoa(v) + ".json" }

var (
	typeRE = regexp.MustCompile(`^[a-z]+(\.[a-z_]+)+$`)
	fileRE = regexp.MustCompile(`^v([1-9][0-9]*)\.json$`)
)

// catalogue is every schema, by type then version, read once.
var catalogue = sync.OnceValue(func() []Schema {
	out, err := load(files)
	if err != nil {
		// The files are part of the build: the package's tests read them
		// the same way, so a broken one fails them first.
		panic("eventschema: " + err.Error())
	}
	return out
})

// load reads and checks the schemas under schemas/events of fsys.
func load(fsys fs.FS) ([]Schema, error) {
	var out []Schema
	err := fs.WalkDir(fsys, "schemas/events", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		typ := path.Base(path.Dir(p))
		m := fileRE.FindStringSubmatch(path.Base(p))
		if m == nil || !typeRE.MatchString(typ) || path.Dir(path.Dir(p)) != "schemas/events" {
			return fmt.Errorf("%s: want schemas/events/<type>/v<N>.json", p)
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		var doc struct {
			Schema      string `json:"$schema"`
			ID          string `json:"$id"`
			Title       string `json:"title"`
			Description string `json:"description"`
			Properties  map[string]struct {
				Const any `json:"const"`
			} `json:"properties"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		s := Schema{Type: typ, Version: v, URI: URI(typ, v), Title: doc.Title, Description: doc.Description, JSON: b}
		switch {
		case doc.Schema != Dialect:
			return fmt.Errorf("%s: $schema %q, want %q", p, doc.Schema, Dialect)
		case doc.ID != s.URI:
			return fmt.Errorf("%s: $id %q, want %q", p, doc.ID, s.URI)
		case doc.Title != typ || doc.Description == "":
			return fmt.Errorf("%s: want title %q and a description", p, typ)
		case doc.Properties["type"].Const != typ:
			return fmt.Errorf("%s: properties.type must be const %q", p, typ)
		case doc.Properties["dataschema"].Const != s.URI:
			return fmt.Errorf("%s: properties.dataschema must be const %q", p, s.URI)
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no schemas under schemas/events")
	}
	slices.SortFunc(out, func(a, b Schema) int {
		if a.Type != b.Type {
			if a.Type < b.Type {
				return -1
			}
			return 1
		}
		return a.Version - b.Version
	})
	for i := range out {
		if want := 1; i == 0 || out[i-1].Type != out[i].Type {
			if out[i].Version != want {
				return nil, fmt.Errorf("%s: versions start at v1, found v%d first", out[i].Type, out[i].Version)
			}
		} else if out[i].Version != out[i-1].Version+1 {
			return nil, fmt.Errorf("%s: v%d follows v%d: versions have no gaps", out[i].Type, out[i].Version, out[i-1].Version)
		}
	}
	return out, nil
}

// All returns every version of every type's schema, by type, then version.
func All() []Schema { return slices.Clone(catalogue()) }

// Types returns the event types of the catalogue, sorted.
func Types() []string {
	var out []string
	for _, s := range catalogue() {
		if len(out) == 0 || out[len(out)-1] != s.Type {
			out = append(out, s.Type)
		}
	}
	return out
}

// Versions returns the versions of typ's schema, oldest first (none for a
// type not in the catalogue).
func Versions(typ string) []int {
	var out []int
	for _, s := range catalogue() {
		if s.Type == typ {
			out = append(out, s.Version)
		}
	}
	return out
}

// Get returns version v of typ's schema.
func Get(typ string, v int) (Schema, bool) {
	for _, s := range catalogue() {
		if s.Type == typ && s.Version == v {
			return s, true
		}
	}
	return Schema{}, false
}

// Latest returns the newest version of typ's schema.
func Latest(typ string) (Schema, bool) {
	var out Schema
	for _, s := range catalogue() {
		if s.Type == typ {
			out = s
		}
	}
	return out, out.Type != ""
}

// ByURI returns the schema whose URI (an event's dataschema) is uri.
func ByURI(uri string) (Schema, bool) {
	for _, s := range catalogue() {
		if s.URI == uri {
			return s, true
		}
	}
	return Schema{}, false
}
