package domainevents

import (
	"encoding/json"
	"fmt"
	"net/url"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
)

// CloudEventsContentType is the media type of a CloudEvent in structured
// mode, JSON format (the body CloudEvent renders).
const CloudEventsContentType = "application/cloudevents+json; charset=utf-8"

// CloudEventSource is the source attribute of a partner's CloudEvents: its
// program at Accrue. With the event's id it identifies the event (CloudEvents
// consumers deduplicate on source + id).
func CloudEventSource(partner string) string {
	return "https://accrue.dev/partners/" + url.PathEscape(partner)
}

// CloudEvent renders e as a CloudEvents 1.0 event in structured mode, JSON
// format (a webhook delivery's body, CloudEventsContentType):
//
//	specversion      "1.0"
//	id               e.ID, the stable id (the same on every delivery)
//	source           CloudEventSource(partner)
//	type             e.Type (points.earned, ...)
//	time             e.Time
//	subject          the member id
//	datacontenttype  "application/json"
//	dataschema       e.DataSchema, the schema of data
//	data             the event's JSON, exactly as on EventBridge (its detail)
//
// The event is validated by the CloudEvents SDK (github.com/cloudevents/sdk-go/v2)
// before it is rendered.
func CloudEvent(e Event) ([]byte, error) {
	ce := cloudevents.New(cloudevents.CloudEventsVersionV1)
	ce.SetID(e.ID)
	ce.SetSource(CloudEventSource(e.PartnerID))
	ce.SetType(e.Type)
	ce.SetTime(e.Time)
	ce.SetSubject(e.MemberID)
	ce.SetDataSchema(e.DataSchema)
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("cloudevent %s: %w", e.ID, err)
	}
	// Set as encoded JSON (SetData would base64 a []byte): data is the
	// detail byte for byte.
	ce.SetDataContentType(cloudevents.ApplicationJSON)
	ce.DataEncoded = data
	if err := ce.Validate(); err != nil {
		return nil, fmt.Errorf("cloudevent %s: %w", e.ID, err)
	}
	b, err := json.Marshal(ce)
	if err != nil {
		return nil, fmt.Errorf("cloudevent %s: %w", e.ID, err)
	}
	return b, nil
}
