package ddbsim_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/internal/ddbsim"
)

// ItemSize against AWS's formula ("DynamoDB item sizes and formats"), one
// attribute type at a time.
func TestItemSize(t *testing.T) {
	cases := []struct {
		name string
		item map[string]types.AttributeValue
		want int
	}{
		{"empty item", nil, 0},
		{"string: name + UTF-8 bytes", av("pk", s("abc")), 2 + 3},
		{"non-ASCII string counts bytes", av("s", s("é")), 1 + 2},
		{"number: 1 byte per two significant digits + 1", av("n", n("123")), 1 + 3},
		{"number: leading and trailing zeros trimmed", av("n", n("-0.0100")), 1 + 2},
		{"number: 9 significant digits", av("n", n("1234567890")), 1 + 6},
		{"zero", av("n", n("0")), 1 + 1},
		{"binary: raw bytes", av("b", &types.AttributeValueMemberB{Value: []byte{1, 2, 3}}), 1 + 3},
		{"boolean", av("ok", &types.AttributeValueMemberBOOL{Value: true}), 2 + 1},
		{"null", av("no", &types.AttributeValueMemberNULL{Value: true}), 2 + 1},
		{"list: 3 + 1 per element + elements", av("l", &types.AttributeValueMemberL{Value: []types.AttributeValue{s("ab"), n("1")}}), 1 + 3 + (1 + 2) + (1 + 2)},
		{"empty map", av("m", &types.AttributeValueMemberM{}), 1 + 3},
		{"map: 3 + 1 per element + names + values", av("m", &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": s("v")}}), 1 + 3 + (1 + 1 + 1)},
		{"string set", av("ss", &types.AttributeValueMemberSS{Value: []string{"a", "bc"}}), 2 + 3},
		{"number set", av("ns", &types.AttributeValueMemberNS{Value: []string{"1", "22"}}), 2 + 2 + 2},
		{"binary set", av("bs", &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}}), 2 + 3},
		{"several attributes", av("pk", s("a"), "sk", s("b"), "n", n("7")), 3 + 3 + 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ddbsim.ItemSize(tc.item); got != tc.want {
				t.Fatalf("ItemSize = %d, want %d", got, tc.want)
			}
		})
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// av builds an item from name, value pairs.
func av(kv ...any) map[string]types.AttributeValue {
	m := map[string]types.AttributeValue{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(types.AttributeValue)
	}
	return m
}
