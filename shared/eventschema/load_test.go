package eventschema

import (
	"strings"
	"testing"
	"testing/fstest"
)

// load refuses a catalogue whose files do not say what their paths do.
func TestLoadChecksTheFiles(t *testing.T) {
	doc := func(typ, uri string) string {
		return `{"$schema":"` + Dialect + `","$id":"` + uri + `","title":"` + typ + `","description":"d","type":"object",` +
			`"properties":{"type":{"const":"` + typ + `"},"dataschema":{"const":"` + uri + `"}}}`
	}
	ok := doc("points.earned", URI("points.earned", 1))
	if _, err := load(fstest.MapFS{"schemas/events/points.earned/v1.json": {Data: []byte(ok)}}); err != nil {
		t.Fatal(err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"empty":         {"schemas/events/README": {Data: []byte("x")}},
		"bad file name": {"schemas/events/points.earned/1.json": {Data: []byte(ok)}},
		"bad type name": {"schemas/events/Points/v1.json": {Data: []byte(doc("Points", URI("Points", 1)))}},
		"too deep":      {"schemas/events/x/points.earned/v1.json": {Data: []byte(ok)}},
		"wrong $id":     {"schemas/events/points.earned/v1.json": {Data: []byte(doc("points.earned", URI("points.earned", 2)))}},
		"wrong title":   {"schemas/events/points.earned/v1.json": {Data: []byte(strings.Replace(ok, `"title":"points.earned"`, `"title":"x"`, 1))}},
		"other dialect": {"schemas/events/points.earned/v1.json": {Data: []byte(strings.Replace(ok, Dialect, "http://json-schema.org/draft-07/schema#", 1))}},
		"no type const": {"schemas/events/points.earned/v1.json": {Data: []byte(strings.Replace(ok, `"type":{"const":"points.earned"}`, `"type":{}`, 1))}},
		"not JSON":      {"schemas/events/points.earned/v1.json": {Data: []byte(`{`)}},
		"starts at v2":  {"schemas/events/points.earned/v2.json": {Data: []byte(doc("points.earned", URI("points.earned", 2)))}},
		"a version gap": {
			"schemas/events/points.earned/v1.json": {Data: []byte(ok)},
			"schemas/events/points.earned/v3.json": {Data: []byte(doc("points.earned", URI("points.earned", 3)))},
		},
	} {
		if got, err := load(fsys); err == nil {
			t.Errorf("%s: loaded %d schemas", name, len(got))
		}
	}
}
