package domainevents_test

import (
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/domainevents"
)

func TestAttributeRoundTrip(t *testing.T) {
	in := map[string]types.AttributeValue{
		"s":    &types.AttributeValueMemberS{Value: "x"},
		"n":    &types.AttributeValueMemberN{Value: "-12.5"},
		"b":    &types.AttributeValueMemberB{Value: []byte{1, 2}},
		"bool": &types.AttributeValueMemberBOOL{Value: true},
		"null": &types.AttributeValueMemberNULL{Value: true},
		"ss":   &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"ns":   &types.AttributeValueMemberNS{Value: []string{"1", "2"}},
		"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{3}}},
		"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "y"}, &types.AttributeValueMemberN{Value: "3"}}},
		"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"inner": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
			"list":  &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		}},
	}
	l, err := domainevents.LambdaImage(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := l["m"].Map()["inner"].DataType(); got != events.DataTypeMap {
		t.Fatalf("inner map converted to %v", got)
	}
	out, err := domainevents.SDKImage(l)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in %#v\nout %#v", in, out)
	}
	if img, err := domainevents.SDKImage(nil); err != nil || img != nil {
		t.Fatalf("nil image: %v %v", img, err)
	}
}

// The Lambda runtime unmarshals the event JSON into events.DynamoDBEvent: the
// conversion must read what it produces.
func TestSDKImageFromLambdaJSON(t *testing.T) {
	js := `{"Records":[{"eventID":"1","eventName":"INSERT","dynamodb":{"Keys":{"pk":{"S":"P#a"},"sk":{"S":"b"}},
		"NewImage":{"pk":{"S":"P#a"},"sk":{"S":"b"},"pts":{"N":"7"},"tags":{"SS":["x"]},"rs":{"M":{"tier":{"S":"gold"}}},"l":{"L":[{"BOOL":false},{"NULL":true}]}},
		"SequenceNumber":"111","StreamViewType":"NEW_AND_OLD_IMAGES"}}]}`
	var ev events.DynamoDBEvent
	if err := jsonUnmarshal([]byte(js), &ev); err != nil {
		t.Fatal(err)
	}
	img, err := domainevents.SDKImage(ev.Records[0].Change.NewImage)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]types.AttributeValue{
		"pk":   &types.AttributeValueMemberS{Value: "P#a"},
		"sk":   &types.AttributeValueMemberS{Value: "b"},
		"pts":  &types.AttributeValueMemberN{Value: "7"},
		"tags": &types.AttributeValueMemberSS{Value: []string{"x"}},
		"rs":   &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"tier": &types.AttributeValueMemberS{Value: "gold"}}},
		"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberBOOL{Value: false}, &types.AttributeValueMemberNULL{Value: true}}},
	}
	if !reflect.DeepEqual(img, want) {
		t.Fatalf("got %#v", img)
	}
}
