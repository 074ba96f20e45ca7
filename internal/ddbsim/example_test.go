package ddbsim_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/ddbsim"
)

// How a benchmark gets wru_per_accrual, partner_ceiling_accruals_per_s and
// conflict_rate_64 (issue 11). A benchmark has a testing.B and would use
// awstest.Client(b) and awstest.NewTable(b, raw, store.CreateTableInput)
// and the store's accruals; an example has no testing.TB, so it makes its
// own small ledger-like table and writes an accrual's shape itself: the
// member item, a new entry (in the ledger LSI), the partner's budget counter.
func Example() {
	ctx := context.Background()
	endpoint := os.Getenv(awstest.DynamoDBEndpointEnv) // make test sets it
	if endpoint == "" {
		fmt.Println("DynamoDB Local is not running: run make test")
		return
	}
	raw := dynamodb.NewFromConfig(awstest.AWSConfig(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
	def := exampleTable(fmt.Sprintf("ddbsim-example-%d", time.Now().UnixNano()))
	if err := createTable(ctx, raw, def); err != nil {
		fmt.Println(err)
		return
	}
	defer raw.DeleteTable(context.WithoutCancel(ctx), &dynamodb.DeleteTableInput{TableName: def.TableName})

	// The Meter and Conflicts read the definition the table was made from.
	meter, err := ddbsim.NewMeter(raw, def)
	if err != nil {
		fmt.Println(err)
		return
	}
	conflicts, err := ddbsim.NewConflicts(def)
	if err != nil {
		fmt.Println(err)
		return
	}
	metered := dynamodb.New(raw.Options(), meter.Option)       // for WRU figures
	contended := dynamodb.New(raw.Options(), conflicts.Option) // for the conflict rate
	accrue := func(c *dynamodb.Client, i int) error {
		_, err := c.TransactWriteItems(ctx, exampleAccrual(aws.ToString(def.TableName), i))
		return err
	}

	// Warm up (members exist, as in steady state), then measure from zero.
	for i := range 10 {
		if err := accrue(metered, i); err != nil {
			fmt.Println(err)
			return
		}
	}
	meter.Reset()
	const accruals = 40
	for i := 10; i < 10+accruals; i++ {
		if err := accrue(metered, i); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := meter.Err(); err != nil { // a call the Meter could not bill
		fmt.Println(err)
		return
	}
	r := meter.Report()
	hot, hotWRU := r.Hottest()
	fmt.Printf("wru_per_accrual: %.1f (table %d, ledger LSI %d of %d)\n",
		float64(r.TotalWRU)/accruals, r.TableWRU, r.Indexes["ledger"].WRU, r.TotalWRU)
	fmt.Printf("hottest key: %q in the table's key space (%q), %.1f WRU per accrual\n", hot.Value, hot.Index, float64(hotWRU)/accruals)
	fmt.Printf("partner_ceiling_accruals_per_s: %d\n", ddbsim.PartitionWriteLimit*accruals/hotWRU)

	// 64 accruals at once, each retried on a conflict as the store does.
	conflicts.Delay = 5 * time.Millisecond // widen the windows a little
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			for a := 0; accrue(contended, 100+i) != nil; a++ {
				backoff(a)
			}
		})
	}
	wg.Wait()
	st := conflicts.Stats()
	rate := float64(st.TransactionConflicts) / float64(st.Transactions) // conflict_rate_64
	fmt.Println("64 accruals committed; conflict_rate_64 > 0:", rate > 0)
	// Output:
	// wru_per_accrual: 7.0 (table 240, ledger LSI 40 of 280)
	// hottest key: "P#acme" in the table's key space (""), 2.0 WRU per accrual
	// partner_ceiling_accruals_per_s: 500
	// 64 accruals committed; conflict_rate_64 > 0: true
}

// exampleTable: pk, sk and a ledger LSI (pk, lsk) projecting everything.
func exampleTable(name string) *dynamodb.CreateTableInput {
	in := keyTable(name, "lsk")
	in.LocalSecondaryIndexes = []types.LocalSecondaryIndex{{IndexName: aws.String("ledger"), KeySchema: ks("pk", "lsk"),
		Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}}
	return in
}

// exampleAccrual is accrual i of member i%10 of partner acme: 2 items of the
// member (its item, a new entry) and the partner's counter.
func exampleAccrual(table string, i int) *dynamodb.TransactWriteItemsInput {
	member := fmt.Sprintf("P#acme#M#m%d", i%10)
	pts := &types.AttributeValueMemberN{Value: "10"}
	return &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String(table), Key: key(member, "MEMBER"),
			UpdateExpression: aws.String("ADD available :p, seq :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":p": pts, ":one": n("1")}}},
		{Put: &types.Put{TableName: aws.String(table), Item: item(member, fmt.Sprintf("E#%06d", i), "lsk", fmt.Sprintf("L#%06d", i), "kind", "earn"),
			ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Update: &types.Update{TableName: aws.String(table), Key: key("P#acme", "BUDGET#2026-11"),
			UpdateExpression: aws.String("ADD spent :p"), ExpressionAttributeValues: map[string]types.AttributeValue{":p": pts}}},
	}}
}

// backoff sleeps before retry number a: full jitter, exponential, capped at
// 64 ms (the store's own retry does the same).
func backoff(a int) {
	time.Sleep(time.Duration(rand.Int64N(int64(time.Millisecond<<min(a, 6)))) + time.Millisecond)
}

func createTable(ctx context.Context, c *dynamodb.Client, def *dynamodb.CreateTableInput) error {
	if _, err := c.CreateTable(ctx, def); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 20 * time.Millisecond })
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: def.TableName}, time.Minute); err != nil {
		return fmt.Errorf("wait for table: %w", err)
	}
	return nil
}
