package ddbsim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Half read units per started 4 KB: an eventually consistent read costs
// half a unit, a strongly consistent one a unit, a transactional one two.
const (
	halfEventual      = 1
	halfStrong        = 2
	halfTransactional = 4
)

func readHalves(consistent *bool) int64 {
	if aws.ToBool(consistent) {
		return halfStrong
	}
	return halfEventual
}

// billRead bills a successful read on the outcome of the whole call (package
// doc: read rules).
func (m *Meter) billRead(ctx context.Context, op string, input, result any, callErr error) {
	if callErr != nil {
		m.addError(op)
		return
	}
	half, err := m.readUnits(ctx, input, result)
	if err != nil {
		m.fail(fmt.Errorf("ddbsim: meter: %s: %w", op, err))
		return
	}
	b := newBill()
	b.halfRRU = half
	m.addBill(op, b)
}

func (m *Meter) readUnits(ctx context.Context, input, result any) (int64, error) {
	switch in := input.(type) {
	case *dynamodb.GetItemInput:
		out, _ := result.(*dynamodb.GetItemOutput)
		if out == nil {
			return 0, errors.New("no GetItem output")
		}
		t, err := lookup(m.tables, in.TableName)
		if err != nil {
			return 0, err
		}
		size, err := m.fullSize(ctx, t, in.Key, out.Item, projects(in.ProjectionExpression, in.AttributesToGet))
		if err != nil {
			return 0, err
		}
		return readHalves(in.ConsistentRead) * units(size, readUnitBytes), nil

	case *dynamodb.BatchGetItemInput:
		out, _ := result.(*dynamodb.BatchGetItemOutput)
		if out == nil {
			return 0, errors.New("no BatchGetItem output")
		}
		var half int64
		for _, name := range slices.Sorted(maps.Keys(in.RequestItems)) {
			ka := in.RequestItems[name]
			t, err := lookup(m.tables, aws.String(name))
			if err != nil {
				return 0, err
			}
			skip := idsOf(t, out.UnprocessedKeys[name].Keys)
			got := map[string]map[string]types.AttributeValue{}
			for _, it := range out.Responses[name] {
				if key, ok := t.keyOf(it); ok {
					got[t.id(key)] = it
				}
			}
			// Each key is billed as a GetItem of its own, found or not.
			for _, key := range ka.Keys {
				id := t.id(key)
				if skip[id] {
					continue
				}
				size, err := m.fullSize(ctx, t, key, got[id], projects(ka.ProjectionExpression, ka.AttributesToGet))
				if err != nil {
					return 0, err
				}
				half += readHalves(ka.ConsistentRead) * units(size, readUnitBytes)
			}
		}
		return half, nil

	case *dynamodb.TransactGetItemsInput:
		out, _ := result.(*dynamodb.TransactGetItemsOutput)
		if out == nil || len(out.Responses) != len(in.TransactItems) {
			return 0, errors.New("TransactGetItems output does not match its input")
		}
		var half int64
		for i, ti := range in.TransactItems {
			if ti.Get == nil {
				continue
			}
			t, err := lookup(m.tables, ti.Get.TableName)
			if err != nil {
				return 0, err
			}
			size, err := m.fullSize(ctx, t, ti.Get.Key, out.Responses[i].Item, ti.Get.ProjectionExpression != nil)
			if err != nil {
				return 0, err
			}
			half += halfTransactional * units(size, readUnitBytes)
		}
		return half, nil

	case *dynamodb.QueryInput:
		out, _ := result.(*dynamodb.QueryOutput)
		if out == nil {
			return 0, errors.New("no Query output")
		}
		if _, err := lookup(m.tables, in.TableName); err != nil {
			return 0, err
		}
		items := out.Items
		if !plainQuery(in) {
			var err error
			if items, err = m.evaluated(ctx, in); err != nil {
				return 0, err
			}
		}
		size := 0
		for _, it := range items {
			size += ItemSize(it)
		}
		// The whole page is one read, its summed size rounded up once.
		return readHalves(in.ConsistentRead) * units(size, readUnitBytes), nil
	}
	return 0, fmt.Errorf("unexpected input %T", input)
}

func projects(expr *string, attrs []string) bool { return expr != nil || len(attrs) > 0 }

// fullSize is the size of the item a read returned, or, when the read asked
// for some attributes only, of the whole item at key, read again: AWS bills
// the whole item whatever is returned (and a projection may leave out the
// key attributes, so a batch's answers cannot be matched to its keys).
func (m *Meter) fullSize(ctx context.Context, t *table, key, item map[string]types.AttributeValue, projected bool) (int, error) {
	if !projected {
		return ItemSize(item), nil
	}
	full, err := m.get(ctx, t, key)
	if err != nil {
		return 0, err
	}
	return ItemSize(full), nil
}

func idsOf(t *table, keys []map[string]types.AttributeValue) map[string]bool {
	ids := map[string]bool{}
	for _, k := range keys {
		ids[t.id(k)] = true
	}
	return ids
}

// plainQuery: the items a query returned are the items it read (no filter
// dropped any, no projection or count shrank them).
func plainQuery(in *dynamodb.QueryInput) bool {
	return in.FilterExpression == nil && len(in.QueryFilter) == 0 && !projects(in.ProjectionExpression, in.AttributesToGet) &&
		(in.Select == "" || in.Select == types.SelectAllAttributes || in.Select == types.SelectAllProjectedAttributes)
}

// evaluated runs a query again without its filter, projection and count, from
// the same start and with the same limit: the items it returns are the ones
// the original query evaluated, which AWS bills.
func (m *Meter) evaluated(ctx context.Context, in *dynamodb.QueryInput) ([]map[string]types.AttributeValue, error) {
	q := *in
	q.FilterExpression, q.QueryFilter, q.ConditionalOperator = nil, nil, ""
	q.ProjectionExpression, q.AttributesToGet, q.Select = nil, nil, ""
	q.ReturnConsumedCapacity = ""
	// DynamoDB refuses expression names and values that no expression uses.
	used := placeholders(aws.ToString(q.KeyConditionExpression))
	q.ExpressionAttributeNames = keep(in.ExpressionAttributeNames, used)
	q.ExpressionAttributeValues = keep(in.ExpressionAttributeValues, used)
	out, err := m.raw.Query(internal(ctx), &q)
	if err != nil {
		return nil, fmt.Errorf("query again without filter or projection: %w", err)
	}
	return out.Items, nil
}

// placeholders returns the #name and :value placeholders an expression uses.
func placeholders(expr string) map[string]bool {
	used := map[string]bool{}
	for i := 0; i < len(expr); i++ {
		if expr[i] != '#' && expr[i] != ':' {
			continue
		}
		j := i + 1
		for j < len(expr) && (expr[j] == '_' || expr[j] >= '0' && expr[j] <= '9' || expr[j] >= 'a' && expr[j] <= 'z' || expr[j] >= 'A' && expr[j] <= 'Z') {
			j++
		}
		used[expr[i:j]] = true
		i = j - 1
	}
	return used
}

func keep[V any](m map[string]V, used map[string]bool) map[string]V {
	if len(m) == 0 {
		return nil
	}
	out := map[string]V{}
	for k, v := range m {
		if used[k] {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
