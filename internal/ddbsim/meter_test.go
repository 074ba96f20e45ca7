package ddbsim_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/ddbsim"
)

// The test table has an index of each projection, all sparse: an item is in
// one when it has its key attribute(s).
const (
	ixAll  = "lsi-all"     // LSI (pk, l1), ALL
	ixKeys = "lsi-keys"    // LSI (pk, l2), KEYS_ONLY
	ixInc  = "lsi-include" // LSI (pk, l3), INCLUDE x
	ixG    = "gsi-keys"    // GSI (gpk, gsk), KEYS_ONLY
)

// keyTable is a table of string keys pk, sk and no index; keyAttrs are the
// (string) key attributes of its indexes.
func keyTable(name string, keyAttrs ...string) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest, KeySchema: ks("pk", "sk")}
	for _, a := range append([]string{"pk", "sk"}, keyAttrs...) {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(a), AttributeType: types.ScalarAttributeTypeS})
	}
	return in
}

func ks(hash, rng string) []types.KeySchemaElement {
	return []types.KeySchemaElement{
		{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
	}
}

func indexedTable(name string) *dynamodb.CreateTableInput {
	in := keyTable(name, "l1", "l2", "l3", "gpk", "gsk")
	in.LocalSecondaryIndexes = []types.LocalSecondaryIndex{
		{IndexName: aws.String(ixAll), KeySchema: ks("pk", "l1"), Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}},
		{IndexName: aws.String(ixKeys), KeySchema: ks("pk", "l2"), Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}},
		{IndexName: aws.String(ixInc), KeySchema: ks("pk", "l3"), Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"x"}}},
	}
	in.GlobalSecondaryIndexes = []types.GlobalSecondaryIndex{
		{IndexName: aws.String(ixG), KeySchema: ks("gpk", "gsk"), Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}},
	}
	return in
}

// metered is a table on DynamoDB Local with a Meter: raw writes unmetered,
// c through the Meter.
type metered struct {
	table string
	raw   *dynamodb.Client
	c     *dynamodb.Client
	m     *ddbsim.Meter
}

func newMetered(t *testing.T, def func(string) *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) *metered {
	t.Helper()
	raw := awstest.Client(t)
	table := awstest.NewTable(t, raw, def)
	m, err := ddbsim.NewMeter(raw, def(table))
	if err != nil {
		t.Fatal(err)
	}
	return &metered{table: table, raw: raw, m: m, c: dynamodb.New(raw.Options(), append(opts, m.Option)...)}
}

// item builds an item of key pk, sk and attributes name, value (a string).
func item(pk, sk string, kv ...string) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{"pk": s(pk), "sk": s(sk)}
	for i := 0; i+1 < len(kv); i += 2 {
		it[kv[i]] = s(kv[i+1])
	}
	return it
}

// sized is item padded with attribute p to exactly size bytes by AWS's
// formula (TestItemSize checks the formula).
func sized(size int, pk, sk string, kv ...string) map[string]types.AttributeValue {
	it := item(pk, sk, append(kv, "p", "")...)
	it["p"] = s(strings.Repeat("x", size-ddbsim.ItemSize(it)))
	return it
}

func key(pk, sk string) map[string]types.AttributeValue { return item(pk, sk) }

func (e *metered) put(ctx context.Context, c *dynamodb.Client, it map[string]types.AttributeValue, cond string) error {
	in := &dynamodb.PutItemInput{TableName: aws.String(e.table), Item: it}
	if cond != "" {
		in.ConditionExpression = aws.String(cond)
	}
	_, err := c.PutItem(ctx, in)
	return err
}

// update runs an UpdateItem; vals are :name, value (a string) pairs.
func (e *metered) update(ctx context.Context, k map[string]types.AttributeValue, expr, cond string, vals ...string) error {
	in := &dynamodb.UpdateItemInput{TableName: aws.String(e.table), Key: k, UpdateExpression: aws.String(expr)}
	if cond != "" {
		in.ConditionExpression = aws.String(cond)
	}
	if len(vals) > 0 {
		in.ExpressionAttributeValues = map[string]types.AttributeValue{}
		for i := 0; i+1 < len(vals); i += 2 {
			in.ExpressionAttributeValues[vals[i]] = s(vals[i+1])
		}
	}
	_, err := e.c.UpdateItem(ctx, in)
	return err
}

func (e *metered) txPut(it map[string]types.AttributeValue, cond string) types.TransactWriteItem {
	p := &types.Put{TableName: aws.String(e.table), Item: it}
	if cond != "" {
		p.ConditionExpression = aws.String(cond)
	}
	return types.TransactWriteItem{Put: p}
}

// want is what a Report must say; absent indexes and keys must be zero.
type want struct {
	total, table int64
	indexes      map[string]int64
	keys         map[ddbsim.PartitionKey]int64
	rejected     int64
	rejectedWRU  int64
}

func tbl(pk string) ddbsim.PartitionKey { return ddbsim.PartitionKey{Value: pk} }
func gsi(pk string) ddbsim.PartitionKey { return ddbsim.PartitionKey{Index: ixG, Value: pk} }

func (w want) check(t *testing.T, r ddbsim.Report) {
	t.Helper()
	if r.TotalWRU != w.total || r.TableWRU != w.table {
		t.Errorf("TotalWRU %d, TableWRU %d; want %d and %d", r.TotalWRU, r.TableWRU, w.total, w.table)
	}
	got := map[string]int64{}
	for name, f := range r.Indexes {
		if f.WRU != 0 {
			got[name] = f.WRU
		}
	}
	if !maps.Equal(got, w.indexes) {
		t.Errorf("index WRU %v, want %v (%+v)", got, w.indexes, r.Indexes)
	}
	if !maps.Equal(r.Partitions, w.keys) {
		t.Errorf("key histogram %v, want %v", r.Partitions, w.keys)
	}
	if r.Rejected != w.rejected || r.RejectedWRU != w.rejectedWRU {
		t.Errorf("rejected %d calls, %d WRU; want %d and %d", r.Rejected, r.RejectedWRU, w.rejected, w.rejectedWRU)
	}
}

// Known writes bill exactly AWS's figures (package doc). Item sizes are
// chosen a distance from the 1 KB boundaries, but at them where a case says so.
func TestMeterWrites(t *testing.T) {
	e := newMetered(t, indexedTable)
	ccf := func(err error) bool {
		var x *types.ConditionalCheckFailedException
		return errors.As(err, &x)
	}
	cancelled := func(err error) bool {
		var x *types.TransactionCanceledException
		return errors.As(err, &x)
	}
	cases := []struct {
		name    string
		setup   []map[string]types.AttributeValue
		act     func(ctx context.Context) error
		wantErr func(error) bool
		want    want
	}{
		{name: "put under 1 KB: 1",
			act:  func(ctx context.Context) error { return e.put(ctx, e.c, sized(500, "a", "s"), "") },
			want: want{total: 1, table: 1, keys: map[ddbsim.PartitionKey]int64{tbl("a"): 1}}},
		{name: "put of exactly 1 KB: 1",
			act:  func(ctx context.Context) error { return e.put(ctx, e.c, sized(1024, "b", "s"), "") },
			want: want{total: 1, table: 1, keys: map[ddbsim.PartitionKey]int64{tbl("b"): 1}}},
		{name: "put of 1 KB and a byte: 2",
			act:  func(ctx context.Context) error { return e.put(ctx, e.c, sized(1025, "c", "s"), "") },
			want: want{total: 2, table: 2, keys: map[ddbsim.PartitionKey]int64{tbl("c"): 2}}},
		{name: "put of 1.5 KB: 2",
			act:  func(ctx context.Context) error { return e.put(ctx, e.c, sized(1536, "d", "s"), "") },
			want: want{total: 2, table: 2, keys: map[ddbsim.PartitionKey]int64{tbl("d"): 2}}},
		{name: "put replacing a larger item: the larger size",
			setup: []map[string]types.AttributeValue{sized(2500, "e", "s")},
			act:   func(ctx context.Context) error { return e.put(ctx, e.c, sized(500, "e", "s"), "") },
			want:  want{total: 3, table: 3, keys: map[ddbsim.PartitionKey]int64{tbl("e"): 3}}},
		{name: "delete of a 1.5 KB item: 2",
			setup: []map[string]types.AttributeValue{sized(1536, "f", "s")},
			act: func(ctx context.Context) error {
				_, err := e.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(e.table), Key: key("f", "s")})
				return err
			},
			want: want{total: 2, table: 2, keys: map[ddbsim.PartitionKey]int64{tbl("f"): 2}}},
		{name: "delete of a missing item: 1",
			act: func(ctx context.Context) error {
				_, err := e.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(e.table), Key: key("g", "s")})
				return err
			},
			want: want{total: 1, table: 1, keys: map[ddbsim.PartitionKey]int64{tbl("g"): 1}}},
		{name: "transaction of two items: 2 each",
			act: func(ctx context.Context) error {
				_, err := e.c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
					e.txPut(sized(500, "h1", "s"), ""), e.txPut(sized(500, "h2", "s"), ""),
				}})
				return err
			},
			want: want{total: 4, table: 4, keys: map[ddbsim.PartitionKey]int64{tbl("h1"): 2, tbl("h2"): 2}}},
		{name: "condition check of a 1.5 KB item in a transaction: 2 × 2",
			setup: []map[string]types.AttributeValue{sized(1536, "i2", "s")},
			act: func(ctx context.Context) error {
				_, err := e.c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
					e.txPut(sized(500, "i1", "s"), ""),
					{ConditionCheck: &types.ConditionCheck{TableName: aws.String(e.table), Key: key("i2", "s"), ConditionExpression: aws.String("attribute_exists(pk)")}},
				}})
				return err
			},
			want: want{total: 6, table: 6, keys: map[ddbsim.PartitionKey]int64{tbl("i1"): 2, tbl("i2"): 4}}},
		{name: "new item entering every index in a transaction: index writes not doubled",
			act: func(ctx context.Context) error {
				_, err := e.c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
					e.txPut(item("j", "s", "l1", "1", "l2", "1", "l3", "1", "x", "1", "gpk", "G", "gsk", "1"), ""),
				}})
				return err
			},
			want: want{total: 6, table: 2, indexes: map[string]int64{ixAll: 1, ixKeys: 1, ixInc: 1, ixG: 1},
				keys: map[ddbsim.PartitionKey]int64{tbl("j"): 2 + 3, gsi("G"): 1}}},
		{name: "update of an attribute only ALL projects",
			setup: []map[string]types.AttributeValue{item("k", "s", "l1", "1", "l2", "1", "l3", "1", "y", "old")},
			act:   func(ctx context.Context) error { return e.update(ctx, key("k", "s"), "SET y = :v", "", ":v", "new") },
			want:  want{total: 2, table: 1, indexes: map[string]int64{ixAll: 1}, keys: map[ddbsim.PartitionKey]int64{tbl("k"): 2}}},
		{name: "update of the attribute INCLUDE projects",
			setup: []map[string]types.AttributeValue{item("l", "s", "l1", "1", "l2", "1", "l3", "1", "x", "old")},
			act:   func(ctx context.Context) error { return e.update(ctx, key("l", "s"), "SET x = :v", "", ":v", "new") },
			want:  want{total: 3, table: 1, indexes: map[string]int64{ixAll: 1, ixInc: 1}, keys: map[ddbsim.PartitionKey]int64{tbl("l"): 3}}},
		{name: "update of an attribute no index projects: KEYS_ONLY not written",
			setup: []map[string]types.AttributeValue{item("m", "s", "l2", "1", "y", "old")},
			act:   func(ctx context.Context) error { return e.update(ctx, key("m", "s"), "SET y = :v", "", ":v", "new") },
			want:  want{total: 1, table: 1, keys: map[ddbsim.PartitionKey]int64{tbl("m"): 1}}},
		{name: "update to the same values: no index write",
			setup: []map[string]types.AttributeValue{item("n", "s", "l1", "1", "y", "same")},
			act: func(ctx context.Context) error {
				return e.update(ctx, key("n", "s"), "SET y = :v, l1 = :l", "", ":v", "same", ":l", "1")
			},
			want: want{total: 1, table: 1, keys: map[ddbsim.PartitionKey]int64{tbl("n"): 1}}},
		{name: "update of an LSI sort key: delete + put",
			setup: []map[string]types.AttributeValue{item("o", "s", "l1", "1")},
			act:   func(ctx context.Context) error { return e.update(ctx, key("o", "s"), "SET l1 = :v", "", ":v", "2") },
			want:  want{total: 3, table: 1, indexes: map[string]int64{ixAll: 2}, keys: map[ddbsim.PartitionKey]int64{tbl("o"): 3}}},
		{name: "removal of an LSI sort key: delete",
			setup: []map[string]types.AttributeValue{item("p", "s", "l1", "1")},
			act:   func(ctx context.Context) error { return e.update(ctx, key("p", "s"), "REMOVE l1", "") },
			want:  want{total: 2, table: 1, indexes: map[string]int64{ixAll: 1}, keys: map[ddbsim.PartitionKey]int64{tbl("p"): 2}}},
		{name: "sparse GSI: key absent before and after",
			setup: []map[string]types.AttributeValue{item("q", "s", "y", "old")},
			act:   func(ctx context.Context) error { return e.update(ctx, key("q", "s"), "SET y = :v", "", ":v", "new") },
			want:  want{total: 1, table: 1, keys: map[ddbsim.PartitionKey]int64{tbl("q"): 1}}},
		{name: "sparse GSI: key appearing",
			setup: []map[string]types.AttributeValue{item("r", "s")},
			act: func(ctx context.Context) error {
				return e.update(ctx, key("r", "s"), "SET gpk = :g, gsk = :s", "", ":g", "G1", ":s", "1")
			},
			want: want{total: 2, table: 1, indexes: map[string]int64{ixG: 1}, keys: map[ddbsim.PartitionKey]int64{tbl("r"): 1, gsi("G1"): 1}}},
		{name: "sparse GSI: key changing, delete on the old key, put on the new",
			setup: []map[string]types.AttributeValue{item("t", "s", "gpk", "G1", "gsk", "1")},
			act:   func(ctx context.Context) error { return e.update(ctx, key("t", "s"), "SET gpk = :g", "", ":g", "G2") },
			want:  want{total: 3, table: 1, indexes: map[string]int64{ixG: 2}, keys: map[ddbsim.PartitionKey]int64{tbl("t"): 1, gsi("G1"): 1, gsi("G2"): 1}}},
		{name: "sparse GSI: key removed",
			setup: []map[string]types.AttributeValue{item("u", "s", "gpk", "G1", "gsk", "1")},
			act:   func(ctx context.Context) error { return e.update(ctx, key("u", "s"), "REMOVE gsk", "") },
			want:  want{total: 2, table: 1, indexes: map[string]int64{ixG: 1}, keys: map[ddbsim.PartitionKey]int64{tbl("u"): 1, gsi("G1"): 1}}},
		{name: "1.5 KB item in ALL and KEYS_ONLY indexes: 2 and 1",
			act: func(ctx context.Context) error {
				return e.put(ctx, e.c, sized(1536, "v", "s", "l1", "1", "l2", "1"), "")
			},
			want: want{total: 5, table: 2, indexes: map[string]int64{ixAll: 2, ixKeys: 1}, keys: map[ddbsim.PartitionKey]int64{tbl("v"): 5}}},
		{name: "BatchWriteItem: each item rounded up on its own",
			act: func(ctx context.Context) error {
				_, err := e.c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{e.table: {
					{PutRequest: &types.PutRequest{Item: sized(500, "w1", "s")}},
					{PutRequest: &types.PutRequest{Item: sized(3584, "w2", "s")}},
					{DeleteRequest: &types.DeleteRequest{Key: key("w3", "s")}},
				}}})
				return err
			},
			// AWS's example: 500 bytes and 3.5 KB bill 1 KB + 4 KB; the
			// delete of a missing item 1.
			want: want{total: 6, table: 6, keys: map[ddbsim.PartitionKey]int64{tbl("w1"): 1, tbl("w2"): 4, tbl("w3"): 1}}},
		{name: "failed conditional put on a 1.5 KB item: billed apart",
			setup: []map[string]types.AttributeValue{sized(1536, "x", "s")},
			act: func(ctx context.Context) error {
				return e.put(ctx, e.c, sized(500, "x", "s"), "attribute_not_exists(pk)")
			},
			wantErr: ccf,
			want:    want{rejected: 1, rejectedWRU: 2}},
		{name: "failed conditional update of a missing item: 1",
			act: func(ctx context.Context) error {
				return e.update(ctx, key("y", "s"), "SET y = :v", "attribute_exists(pk)", ":v", "1")
			},
			wantErr: ccf,
			want:    want{rejected: 1, rejectedWRU: 1}},
		{name: "cancelled transaction: the prepare of each item, billed apart",
			setup: []map[string]types.AttributeValue{sized(1536, "z1", "s")},
			act: func(ctx context.Context) error {
				_, err := e.c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
					e.txPut(sized(500, "z1", "s"), "attribute_not_exists(pk)"), e.txPut(sized(500, "z2", "s"), ""),
				}})
				return err
			},
			wantErr: cancelled,
			want:    want{rejected: 1, rejectedWRU: 2 + 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			for _, it := range tc.setup {
				if err := e.put(ctx, e.raw, it, ""); err != nil {
					t.Fatal(err)
				}
			}
			e.m.Reset()
			err := tc.act(ctx)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("write: %v", err)
			case tc.wantErr != nil && !tc.wantErr(err):
				t.Fatalf("write: err = %v, want a failed condition", err)
			}
			tc.want.check(t, e.m.Report())
			if err := e.m.Err(); err != nil {
				t.Fatalf("meter: %v", err)
			}
		})
	}
}

// The histogram names the keys that received the writes, per key space, and
// Hottest the one that received the most.
func TestMeterHistogram(t *testing.T) {
	e := newMetered(t, indexedTable)
	ctx := t.Context()
	// hot: 3 puts of 1.5 KB (6) and a small item in the GSI under G-hot (1);
	// warm: 2.5 KB (3), in the ALL LSI (3 more, in the table's key space)
	// and in the GSI under G-hot (1); cold: small, in the GSI under G-cold.
	for _, it := range []map[string]types.AttributeValue{
		sized(1536, "hot", "s"), sized(1536, "hot", "s"), sized(1536, "hot", "s"),
		item("hot", "s2", "gpk", "G-hot", "gsk", "2"),
		sized(2500, "warm", "s", "l1", "1", "gpk", "G-hot", "gsk", "1"),
		item("cold", "s", "gpk", "G-cold", "gsk", "1"),
	} {
		if err := e.put(ctx, e.c, it, ""); err != nil {
			t.Fatal(err)
		}
	}
	r := e.m.Report()
	cases := []struct {
		name  string
		got   func() (ddbsim.PartitionKey, int64)
		key   ddbsim.PartitionKey
		units int64
	}{
		{"hottest of all", r.Hottest, tbl("hot"), 7},
		{"hottest of the table", func() (ddbsim.PartitionKey, int64) { return r.HottestKey("") }, tbl("hot"), 7},
		{"hottest of the GSI", func() (ddbsim.PartitionKey, int64) { return r.HottestKey(ixG) }, gsi("G-hot"), 2},
		{"an LSI is not a key space of its own", func() (ddbsim.PartitionKey, int64) { return r.HottestKey(ixAll) }, ddbsim.PartitionKey{Index: ixAll}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if k, n := tc.got(); k != tc.key || n != tc.units {
				t.Fatalf("got %+v with %d WRU, want %+v with %d", k, n, tc.key, tc.units)
			}
		})
	}
	if got := r.WRU(tbl("warm")); got != 3+3 {
		t.Errorf("WRU(warm) = %d, want 6 (table 3 + ALL LSI 3)", got)
	}
	// cold and G-cold tie at 1: the table's key space first, a fixed order.
	want := []ddbsim.KeyWRU{{tbl("hot"), 7}, {tbl("warm"), 6}, {gsi("G-hot"), 2}, {tbl("cold"), 1}, {gsi("G-cold"), 1}}
	if rk := r.Ranked(); !slices.Equal(rk, want) {
		t.Fatalf("Ranked = %+v, want %+v", rk, want)
	}
	if e.m.Reset(); e.m.Report().TotalWRU != 0 || len(e.m.Report().Partitions) != 0 {
		t.Fatalf("Reset left %+v", e.m.Report())
	}
}

// Reads bill half read units by AWS's rules.
func TestMeterReads(t *testing.T) {
	e := newMetered(t, indexedTable)
	ctx := t.Context()
	setup := []map[string]types.AttributeValue{
		sized(1536, "r1", "s"), sized(5000, "r5", "s"), sized(6656, "r6", "s"),
		// a partition of 3 items of 1.7 KB: 5.1 KB, two 4 KB blocks; in the
		// KEYS_ONLY LSI they are a few bytes each.
		sized(1700, "q", "1", "l2", "1"), sized(1700, "q", "2", "l2", "2"), sized(1700, "q", "3", "l2", "3"),
	}
	for _, it := range setup {
		if err := e.put(ctx, e.raw, it, ""); err != nil {
			t.Fatal(err)
		}
	}
	get := func(pk string, consistent bool, proj string) func(context.Context) error {
		return func(ctx context.Context) error {
			in := &dynamodb.GetItemInput{TableName: aws.String(e.table), Key: key(pk, "s"), ConsistentRead: aws.Bool(consistent)}
			if proj != "" {
				in.ProjectionExpression = aws.String(proj)
			}
			_, err := e.c.GetItem(ctx, in)
			return err
		}
	}
	query := func(index string, consistent bool, filter string) func(context.Context) error {
		return func(ctx context.Context) error {
			in := &dynamodb.QueryInput{TableName: aws.String(e.table), KeyConditionExpression: aws.String("pk = :pk"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("q")}, ConsistentRead: aws.Bool(consistent)}
			if index != "" {
				in.IndexName = aws.String(index)
			}
			if filter != "" {
				in.FilterExpression = aws.String(filter)
				in.ExpressionAttributeValues[":none"] = s("none")
			}
			_, err := e.c.Query(ctx, in)
			return err
		}
	}
	cases := []struct {
		name string
		act  func(context.Context) error
		half int64
	}{
		{"strongly consistent GetItem of 1.5 KB: 1", get("r1", true, ""), 2},
		{"eventually consistent GetItem of 1.5 KB: 0.5", get("r1", false, ""), 1},
		{"GetItem of a missing item: 1", get("none", true, ""), 2},
		{"GetItem of 5 KB: 2", get("r5", true, ""), 4},
		{"projected GetItem bills the whole item", get("r5", false, "pk"), 2},
		{"BatchGetItem: 1.5 KB + 6.5 KB + a missing item, each rounded: 4 KB + 8 KB + 4 KB", func(ctx context.Context) error {
			_, err := e.c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				e.table: {Keys: []map[string]types.AttributeValue{key("r1", "s"), key("r6", "s"), key("none", "s")}, ConsistentRead: aws.Bool(true)},
			}})
			return err
		}, 2 * (1 + 2 + 1)},
		{"TransactGetItems of 1.5 KB and 5 KB: 2 per 4 KB", func(ctx context.Context) error {
			_, err := e.c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
				{Get: &types.Get{TableName: aws.String(e.table), Key: key("r1", "s")}},
				{Get: &types.Get{TableName: aws.String(e.table), Key: key("r5", "s"), ProjectionExpression: aws.String("sk")}},
			}})
			return err
		}, 4 * (1 + 2)},
		{"strongly consistent Query of 5.1 KB: summed, then rounded", query("", true, ""), 2 * 2},
		{"eventually consistent Query of 5.1 KB", query("", false, ""), 2},
		{"a filter that drops every item does not lower the bill", query("", true, "p = :none"), 2 * 2},
		{"Query of a KEYS_ONLY index bills its index items", query(ixKeys, true, ""), 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.m.Reset()
			if err := tc.act(t.Context()); err != nil {
				t.Fatal(err)
			}
			r := e.m.Report()
			if r.HalfRRU != tc.half || r.TotalWRU != 0 {
				t.Fatalf("HalfRRU %d (WRU %d), want %d", r.HalfRRU, r.TotalWRU, tc.half)
			}
			if err := e.m.Err(); err != nil {
				t.Fatalf("meter: %v", err)
			}
		})
	}
}

// A table the Meter has no definition of is reported, and the call goes on
// unchanged; through a Conflicts, the call fails; bad definitions are
// refused.
func TestUnknownTablesAndBadDefinitions(t *testing.T) {
	e := newMetered(t, indexedTable)
	other := awstest.NewTable(t, e.raw, indexedTable)
	ctx := t.Context()
	if _, err := e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(other), Item: item("a", "s")}); err != nil {
		t.Fatalf("a write to an unknown table failed: %v", err)
	}
	if err := e.m.Err(); !errors.Is(err, ddbsim.ErrUnknownTable) {
		t.Fatalf("Err() = %v, want ErrUnknownTable", err)
	}
	cf, err := ddbsim.NewConflicts(indexedTable(e.table))
	if err != nil {
		t.Fatal(err)
	}
	c := dynamodb.New(e.raw.Options(), cf.Option)
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(other), Item: item("a", "s")}); !errors.Is(err, ddbsim.ErrUnknownTable) {
		t.Fatalf("a write through Conflicts to an unknown table: err = %v, want ErrUnknownTable", err)
	}
	for _, def := range []*dynamodb.CreateTableInput{nil, {}, {TableName: aws.String("t")}} {
		if _, err := ddbsim.NewMeter(e.raw, def); err == nil {
			t.Errorf("NewMeter(%+v) accepted", def)
		}
		if _, err := ddbsim.NewConflicts(def); err == nil {
			t.Errorf("NewConflicts(%+v) accepted", def)
		}
	}
	if _, err := ddbsim.NewMeter(nil, indexedTable("t")); err == nil {
		t.Error("NewMeter without a Reader accepted")
	}
}
