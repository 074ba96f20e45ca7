package api

import (
	"context"
	"net/http"
	"regexp"
	"strconv"

	"github.com/accrue/accrue/shared/eventschema"
)

// EventTypeView is one event type of the catalogue (GET /v1/event-types).
type EventTypeView struct {
	Type string `json:"type"`
	// Version is the schema version events of the type follow now, and
	// DataSchema its URI (the events' dataschema).
	Version    int    `json:"version"`
	DataSchema string `json:"dataschema"`
	// Versions are every version still published, oldest first.
	Versions    []int  `json:"versions"`
	Description string `json:"description"`
}

// listEventTypes: GET /v1/event-types, the catalogue of the domain events.
func (s *server) listEventTypes(_ context.Context, _ *call) (result, error) {
	out := list[EventTypeView]{Data: []EventTypeView{}}
	for _, typ := range eventschema.Types() {
		latest, _ := eventschema.Latest(typ)
		out.Data = append(out.Data, EventTypeView{
			Type: typ, Version: latest.Version, DataSchema: latest.URI,
			Versions: eventschema.Versions(typ), Description: latest.Description,
		})
	}
	return result{status: http.StatusOK, body: out}, nil
}

// getEventType: GET /v1/event-types/{type}, the current version's schema.
func (s *server) getEventType(_ context.Context, c *call) (result, error) {
	typ, err := pathID(c, "type", idEventType)
	if err != nil {
		return result{}, err
	}
	sch, ok := eventschema.Latest(typ)
	if !ok {
		return result{}, problem(probNotFound, "no event type "+typ)
	}
	return schemaResult(sch), nil
}

// getEventTypeVersion: GET /v1/event-types/{type}/versions/{version}.
func (s *server) getEventTypeVersion(_ context.Context, c *call) (result, error) {
	typ, err := pathID(c, "type", idEventType)
	if err != nil {
		return result{}, err
	}
	raw, err := pathID(c, "version", idSchemaVersion)
	if err != nil {
		return result{}, err
	}
	v, _ := strconv.Atoi(raw)
	sch, ok := eventschema.Get(typ, v)
	if !ok {
		return result{}, problem(probNotFound, "no version "+raw+" of event type "+typ)
	}
	return schemaResult(sch), nil
}

// schemaResult serves a schema document as it is in the repository.
func schemaResult(s eventschema.Schema) result {
	return result{status: http.StatusOK, body: rawJSON{contentType: eventschema.ContentType, body: s.JSON}}
}

// eventTypeRE is an event type's name, as the OpenAPI document's EventType
// parameter has it: lower-case words joined by dots (points.earned).
var eventTypeRE = regexp.MustCompile(`^[a-z_]+(\.[a-z_]+)+$`)

// validEventType: an event type's name, at most 64 bytes.
func validEventType(s string) bool { return len(s) <= 64 && eventTypeRE.MatchString(s) }

// validSchemaVersion: a version number, 1 to 9999.
func validSchemaVersion(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 9999 && strconv.Itoa(n) == s
}
