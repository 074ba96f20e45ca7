package domainevents_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/accrue/accrue/internal/streamtest"
	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/eventschema/eventschematest"
)

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 589793000, time.UTC)

// image marshals v as the store does and adds its keys and extra attributes.
var image = streamtest.Image

var seqCounter int

// record builds a stream record; old or new may be nil.
func record(name string, pk, sk string, old, new map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
	seqCounter++
	return events.DynamoDBEventRecord{
		EventID: fmt.Sprintf("ev-%d", seqCounter), EventName: name, EventSource: "aws:dynamodb", AWSRegion: "us-east-1",
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: t0.Truncate(time.Second)},
			Keys: map[string]events.DynamoDBAttributeValue{
				"pk": events.NewStringAttribute(pk), "sk": events.NewStringAttribute(sk),
			},
			NewImage: new, OldImage: old,
			SequenceNumber: fmt.Sprintf("%021d", seqCounter*100), StreamViewType: "NEW_AND_OLD_IMAGES",
		},
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// requireSchema checks each event's JSON (its EventBridge detail) against
// the schema its dataschema names, with no field the schema does not describe
// (the shared assertion of every test that produces events).
func requireSchema(t testing.TB, evs ...domainevents.Event) {
	t.Helper()
	for _, e := range evs {
		d, err := e.Detail()
		if err != nil {
			t.Errorf("event %+v: %v", e, err)
			continue
		}
		eventschematest.Require(t, []byte(d))
	}
}
