package ledger

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A redemption's value is stored as a number of whole minor units, and one
// stored before amounts were whole (an exact decimal string) reads as the
// bill-credit rounding makes it.
func TestMoneyStored(t *testing.T) {
	item, err := attributevalue.MarshalMap(Redemption{ID: "r", Value: &Money{AmountMinor: 1, Currency: "JPY"}})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := item["value"].(*types.AttributeValueMemberM)
	if n, _ := v.Value["amt"].(*types.AttributeValueMemberN); n == nil || n.Value != "1" {
		t.Fatalf("stored value %#v, want amt N 1", item["value"])
	}
	for _, c := range []struct {
		amt  types.AttributeValue
		want int64
		ok   bool
	}{
		{&types.AttributeValueMemberN{Value: "1"}, 1, true},
		{&types.AttributeValueMemberN{Value: "-3"}, -3, true},
		{&types.AttributeValueMemberS{Value: "1.5"}, 1, true}, // stored by an older version
		{&types.AttributeValueMemberS{Value: "250"}, 250, true},
		{&types.AttributeValueMemberS{Value: "0.999999999"}, 0, true},
		{&types.AttributeValueMemberN{Value: "1.5"}, 0, false},
		{&types.AttributeValueMemberS{Value: "ten"}, 0, false},
		{&types.AttributeValueMemberS{Value: "1e30"}, 0, false},
		{&types.AttributeValueMemberBOOL{Value: true}, 0, false},
	} {
		item["value"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"amt": c.amt, "cur": &types.AttributeValueMemberS{Value: "JPY"}}}
		var r Redemption
		err := attributevalue.UnmarshalMap(item, &r)
		if (err == nil) != c.ok {
			t.Fatalf("amt %#v: err %v, want ok %v", c.amt, err, c.ok)
		}
		if c.ok && (r.Value == nil || *r.Value != (Money{AmountMinor: c.want, Currency: "JPY"})) {
			t.Fatalf("amt %#v: value %+v, want %d JPY", c.amt, r.Value, c.want)
		}
	}
	delete(item, "value")
	var r Redemption
	if err := attributevalue.UnmarshalMap(item, &r); err != nil || r.Value != nil {
		t.Fatalf("no value: %+v, %v", r.Value, err)
	}
}
