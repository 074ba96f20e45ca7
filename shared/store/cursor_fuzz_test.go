package store

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// FuzzDecodeCursor: any string is either refused with ErrBadCursor or decodes
// to a key of the list's own partition whose values DynamoDB accepts; what
// encodeCursor makes decodes back to the same key (issue #9, item 4).
func FuzzDecodeCursor(f *testing.F) {
	pk := "P#telco#M#m1"
	good := encodeCursor(map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: pk}, AttrSK: &types.AttributeValueMemberS{Value: "PAY#p#S"},
	}, curPK, curSK)
	for _, s := range []string{good, ledgerCursor(pk, 7), "", "x", "IlAjdGVsY28jUkVWSUVXIiIi", "IiIiIiIi", good + "A", "////"} {
		f.Add(s)
	}
	shapes := [][]cursorKey{{curPK, curSK}, {curPK, curSeq}}
	f.Fuzz(func(t *testing.T, c string) {
		for _, shape := range shapes {
			k, err := decodeCursor(c, pk, shape...)
			if err != nil {
				if !errors.Is(err, ErrBadCursor) {
					t.Fatalf("error %v is not ErrBadCursor", err)
				}
				continue
			}
			for i, a := range shape {
				v, _ := k[a.attr].(*types.AttributeValueMemberS)
				if v == nil || !validKeyValue(v.Value, i == 0) || (a.valid != nil && !a.valid(v.Value)) {
					t.Fatalf("cursor %q decoded to a bad %s: %v", c, a.attr, k[a.attr])
				}
			}
			if k[AttrPK].(*types.AttributeValueMemberS).Value != pk {
				t.Fatalf("cursor %q left the partition: %v", c, k)
			}
			if again := encodeCursor(k, shape...); again != c {
				t.Fatalf("cursor %q re-encodes as %q", c, again)
			}
		}
		// The ledger's cursor: a seq of 1 or more, of this member only.
		if seq, err := parseLedgerCursor(c, pk); err == nil {
			if seq < 1 || ledgerCursor(pk, seq) != c {
				t.Fatalf("ledger cursor %q parsed as %d", c, seq)
			}
		} else if !errors.Is(err, ErrBadCursor) {
			t.Fatalf("ledger cursor %q: error %v is not ErrBadCursor", c, err)
		}
	})
}
