package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/accrue/accrue/shared/eventschema"
)

// GET /v1/event-types lists the catalogue of shared/eventschema (every type,
// its current version and URI, every version), and the schema routes serve
// each document byte for byte as application/schema+json, to app and admin
// keys alike.
func TestEventCatalogueServed(t *testing.T) {
	h := newHarness(t)
	var list struct {
		Data []struct {
			Type        string `json:"type"`
			Version     int    `json:"version"`
			DataSchema  string `json:"dataschema"`
			Versions    []int  `json:"versions"`
			Description string `json:"description"`
		} `json:"data"`
	}
	got := h.call("GET", "/v1/event-types", "telco/app", nil).expect(t, 200, "")
	if err := json.Unmarshal(got.Raw, &list); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, et := range list.Data {
		types = append(types, et.Type)
		latest, ok := eventschema.Latest(et.Type)
		switch {
		case !ok:
			t.Errorf("listed %s is not in the catalogue", et.Type)
		case et.Version != latest.Version || et.DataSchema != latest.URI || et.Description != latest.Description:
			t.Errorf("%s listed as v%d %s, the catalogue's latest is v%d %s", et.Type, et.Version, et.DataSchema, latest.Version, latest.URI)
		case !slices.Equal(et.Versions, eventschema.Versions(et.Type)):
			t.Errorf("%s versions %v, want %v", et.Type, et.Versions, eventschema.Versions(et.Type))
		}
	}
	if !slices.Equal(types, eventschema.Types()) {
		t.Errorf("listed %v, want %v", types, eventschema.Types())
	}

	for _, s := range eventschema.All() {
		paths := []string{fmt.Sprintf("/v1/event-types/%s/versions/%d", s.Type, s.Version)}
		if latest, _ := eventschema.Latest(s.Type); latest.Version == s.Version {
			paths = append(paths, "/v1/event-types/"+s.Type)
		}
		for _, path := range paths {
			for _, key := range []string{"telco/app", "telco/admin"} {
				r := h.call("GET", path, key, nil).expect(t, 200, "")
				if ct := r.Header.Get("Content-Type"); ct != eventschema.ContentType {
					t.Errorf("%s: content type %q, want %q", path, ct, eventschema.ContentType)
				}
				if !bytes.Equal(r.Raw, s.JSON) {
					t.Errorf("%s: not the schema document of %s", path, s.URI)
				}
			}
		}
	}
}
