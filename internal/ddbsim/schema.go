package ddbsim

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrUnknownTable: a call names a table the Meter or Conflicts was not given
// the definition of. Neither can do its work without the table's keys, so
// the mistake is reported rather than passed over.
var ErrUnknownTable = errors.New("no definition given for table")

// keyAttrs names the partition and sort key attributes of a table or index
// (sk is "" for a partition key alone).
type keyAttrs struct{ pk, sk string }

// index is what billing needs of a secondary index.
type index struct {
	name  string
	local bool
	key   keyAttrs
	proj  types.ProjectionType
	// include: the non-key attributes an INCLUDE projection copies.
	include []string
}

// table is what the Meter and Conflicts need of a table definition, read from
// the same CreateTableInput that creates the table, so a change of the schema
// (an index added, removed or projected differently) changes the figures
// without a change here.
type table struct {
	name    string
	key     keyAttrs
	indexes []index
}

// parseTables reads table definitions, keyed by table name.
func parseTables(defs []*dynamodb.CreateTableInput) (map[string]*table, error) {
	out := make(map[string]*table, len(defs))
	for i, def := range defs {
		t, err := parseTable(def)
		if err != nil {
			return nil, fmt.Errorf("table definition %d: %w", i, err)
		}
		if _, dup := out[t.name]; dup {
			return nil, fmt.Errorf("table %s is defined twice", t.name)
		}
		out[t.name] = t
	}
	return out, nil
}

func parseTable(def *dynamodb.CreateTableInput) (*table, error) {
	if def == nil {
		return nil, errors.New("nil CreateTableInput")
	}
	name := aws.ToString(def.TableName)
	if name == "" {
		return nil, errors.New("CreateTableInput without a TableName")
	}
	k, err := parseKeySchema(def.KeySchema)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", name, err)
	}
	t := &table{name: name, key: k}
	for _, l := range def.LocalSecondaryIndexes {
		ix, err := parseIndex(aws.ToString(l.IndexName), true, l.KeySchema, l.Projection)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
		t.indexes = append(t.indexes, ix)
	}
	for _, g := range def.GlobalSecondaryIndexes {
		ix, err := parseIndex(aws.ToString(g.IndexName), false, g.KeySchema, g.Projection)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
		t.indexes = append(t.indexes, ix)
	}
	return t, nil
}

func parseIndex(name string, local bool, ks []types.KeySchemaElement, p *types.Projection) (index, error) {
	if name == "" {
		return index{}, errors.New("secondary index without a name")
	}
	k, err := parseKeySchema(ks)
	if err != nil {
		return index{}, fmt.Errorf("index %s: %w", name, err)
	}
	if p == nil {
		return index{}, fmt.Errorf("index %s has no projection", name)
	}
	ix := index{name: name, local: local, key: k, proj: p.ProjectionType}
	switch p.ProjectionType {
	case types.ProjectionTypeAll, types.ProjectionTypeKeysOnly:
	case types.ProjectionTypeInclude:
		ix.include = append([]string(nil), p.NonKeyAttributes...)
	default:
		return index{}, fmt.Errorf("index %s: unknown projection type %q", name, p.ProjectionType)
	}
	return ix, nil
}

func parseKeySchema(ks []types.KeySchemaElement) (keyAttrs, error) {
	var k keyAttrs
	for _, e := range ks {
		switch e.KeyType {
		case types.KeyTypeHash:
			k.pk = aws.ToString(e.AttributeName)
		case types.KeyTypeRange:
			k.sk = aws.ToString(e.AttributeName)
		}
	}
	if k.pk == "" {
		return k, errors.New("key schema without a HASH key")
	}
	return k, nil
}

// lookup returns the definition of the table a call names.
func lookup(tables map[string]*table, name *string) (*table, error) {
	t, ok := tables[aws.ToString(name)]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownTable, aws.ToString(name))
	}
	return t, nil
}

// keyOf returns the primary key of item (an item or a key map); ok is false
// when a key attribute is missing (DynamoDB rejects such a call itself).
func (t *table) keyOf(item map[string]types.AttributeValue) (map[string]types.AttributeValue, bool) {
	pk, ok := item[t.key.pk]
	if !ok {
		return nil, false
	}
	k := map[string]types.AttributeValue{t.key.pk: pk}
	if t.key.sk != "" {
		sk, ok := item[t.key.sk]
		if !ok {
			return nil, false
		}
		k[t.key.sk] = sk
	}
	return k, true
}

// id is a canonical string naming one item of the table, for maps and locks.
func (t *table) id(key map[string]types.AttributeValue) string {
	s := strconv.Quote(t.name) + "/" + scalarID(key[t.key.pk])
	if t.key.sk != "" {
		s += "/" + scalarID(key[t.key.sk])
	}
	return s
}

// scalarID renders a key attribute value (S, N or B) unambiguously.
func scalarID(v types.AttributeValue) string {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return "S" + strconv.Quote(x.Value)
	case *types.AttributeValueMemberN:
		return "N" + strconv.Quote(x.Value)
	case *types.AttributeValueMemberB:
		return "B" + strconv.Quote(string(x.Value))
	}
	return "?"
}

// KeyString renders a partition key value as the histogram names it: a
// string or number as it is, a binary value in Go's quoted form.
func KeyString(v types.AttributeValue) string {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return x.Value
	case *types.AttributeValueMemberN:
		return x.Value
	case *types.AttributeValueMemberB:
		return strconv.Quote(string(x.Value))
	}
	return ""
}

// project returns the index item of item in ix (table keys, index keys and
// the projected attributes), or nil when item is nil or not in the index (an
// index key attribute is absent: indexes are sparse).
func (t *table) project(ix *index, item map[string]types.AttributeValue) map[string]types.AttributeValue {
	if item == nil {
		return nil
	}
	if _, ok := item[ix.key.pk]; !ok {
		return nil
	}
	if _, ok := item[ix.key.sk]; ix.key.sk != "" && !ok {
		return nil
	}
	if ix.proj == types.ProjectionTypeAll {
		return item
	}
	out := map[string]types.AttributeValue{}
	for _, a := range []string{t.key.pk, t.key.sk, ix.key.pk, ix.key.sk} {
		if v, ok := item[a]; ok && a != "" {
			out[a] = v
		}
	}
	for _, a := range ix.include {
		if v, ok := item[a]; ok {
			out[a] = v
		}
	}
	return out
}
