package ddbsim_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/ddbsim"
)

// plainTable: keys pk, sk and no index.
func plainTable(name string) *dynamodb.CreateTableInput { return keyTable(name) }

// conflicting is a table on DynamoDB Local and a client through Conflicts
// (and whatever else opts add, in that order after it).
type conflicting struct {
	table string
	c     *dynamodb.Client
	cf    *ddbsim.Conflicts
}

func newConflicting(t *testing.T, before []func(*dynamodb.Options), after ...func(*dynamodb.Options)) *conflicting {
	t.Helper()
	raw := awstest.Client(t)
	table := awstest.NewTable(t, raw, plainTable)
	cf, err := ddbsim.NewConflicts(plainTable(table))
	if err != nil {
		t.Fatal(err)
	}
	opts := append(append(before, cf.Option), after...)
	return &conflicting{table: table, c: dynamodb.New(raw.Options(), opts...), cf: cf}
}

// tx writes the items named (an ADD of 1 to each: n counts the commits).
func (e *conflicting) tx(ctx context.Context, items ...string) error {
	var tis []types.TransactWriteItem
	for _, it := range items {
		tis = append(tis, types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(e.table), Key: key(it, "s"), UpdateExpression: aws.String("ADD n :one"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
		}})
	}
	_, err := e.c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tis})
	return err
}

func (e *conflicting) putItem(ctx context.Context, it string) error {
	_, err := e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.table), Item: item(it, "s")})
	return err
}

func (e *conflicting) count(t *testing.T, it string) int {
	t.Helper()
	out, err := e.c.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(e.table), Key: key(it, "s"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	nv, ok := out.Item["n"].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(nv.Value)
	return n
}

// inFlight starts call with its items held until the returned release is
// called, and returns once they are held. done receives the call's error.
func inFlight(t *testing.T, call func(ctx context.Context) error) (release func(), done <-chan error) {
	t.Helper()
	rel := make(chan struct{})
	ctx, held := ddbsim.Pause(t.Context(), rel)
	errc := make(chan error, 1)
	go func() { errc <- call(ctx) }()
	select {
	case <-held:
	case err := <-errc:
		t.Fatalf("the call meant to be in flight ended first: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the call never held its items")
	}
	var once sync.Once
	release = func() { once.Do(func() { close(rel) }) }
	t.Cleanup(release)
	return release, errc
}

// reasons returns the cancellation reason codes of a cancelled transaction
// (nil when err is not one).
func reasons(err error) []string {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil
	}
	codes := []string{}
	for _, r := range tce.CancellationReasons {
		codes = append(codes, aws.ToString(r.Code))
	}
	return codes
}

// A transaction in flight holds its items: another transaction touching one
// of them is cancelled with TransactionConflict at that item's position and
// None elsewhere (DynamoDB's shape); one on other items goes through. Once
// the first is done, the second succeeds.
func TestTransactionsConflict(t *testing.T) {
	cases := []struct {
		name   string
		second []string
		want   []string // cancellation reasons; nil: the second succeeds
	}{
		{"one item in common", []string{"z", "y", "w"}, []string{"None", "TransactionConflict", "None"}},
		{"two items in common", []string{"y", "z", "x"}, []string{"TransactionConflict", "None", "TransactionConflict"}},
		{"disjoint items", []string{"z", "w"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newConflicting(t, nil)
			release, first := inFlight(t, func(ctx context.Context) error { return e.tx(ctx, "x", "y") })
			err := e.tx(t.Context(), tc.second...)
			if got := reasons(err); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("second transaction: reasons %v (err %v), want %v", got, err, tc.want)
			}
			if tc.want != nil {
				var tce *types.TransactionCanceledException
				errors.As(err, &tce)
				if msg := "[" + strings.Join(tc.want, ", ") + "]"; !strings.Contains(aws.ToString(tce.Message), msg) {
					t.Errorf("message %q does not list %s", aws.ToString(tce.Message), msg)
				}
			}
			release()
			if err := <-first; err != nil {
				t.Fatalf("first transaction: %v", err)
			}
			if tc.want != nil {
				if err := e.tx(t.Context(), tc.second...); err != nil {
					t.Fatalf("second transaction after the first finished: %v", err)
				}
			}
			if n := e.count(t, "y"); n != 1+boolInt(slices.Contains(tc.second, "y")) {
				t.Errorf("y was committed %d times", n)
			}
			st := e.cf.Stats()
			if wantConflicts := int64(boolInt(tc.want != nil)); st.TransactionConflicts != wantConflicts || st.Transactions != 2+wantConflicts {
				t.Errorf("stats %+v, want %d conflicts of %d transactions", st, wantConflicts, 2+wantConflicts)
			}
		})
	}
}

// Single-item writes and transactions: a write of an item a transaction
// holds fails with TransactionConflictException, which the SDK does not
// retry; a transaction or a TransactGetItems of an item a write holds is
// cancelled; writes of other items, or two single writes of one item, go
// through.
func TestSingleWritesConflict(t *testing.T) {
	isConflictException := func(err error) bool {
		var x *types.TransactionConflictException
		return errors.As(err, &x)
	}
	cases := []struct {
		name      string
		inFlight  func(e *conflicting, ctx context.Context) error
		second    func(e *conflicting, ctx context.Context) error
		conflicts func(error) bool // nil: the second succeeds
	}{
		{"PutItem of an item a transaction holds",
			func(e *conflicting, ctx context.Context) error { return e.tx(ctx, "x", "y") },
			func(e *conflicting, ctx context.Context) error { return e.putItem(ctx, "y") },
			isConflictException},
		{"UpdateItem of an item a transaction holds",
			func(e *conflicting, ctx context.Context) error { return e.tx(ctx, "x", "y") },
			func(e *conflicting, ctx context.Context) error {
				_, err := e.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(e.table), Key: key("x", "s"), UpdateExpression: aws.String("SET v = :v"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":v": s("1")}})
				return err
			},
			isConflictException},
		{"DeleteItem of an item a transaction holds",
			func(e *conflicting, ctx context.Context) error { return e.tx(ctx, "x", "y") },
			func(e *conflicting, ctx context.Context) error {
				_, err := e.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(e.table), Key: key("x", "s")})
				return err
			},
			isConflictException},
		{"PutItem of another item",
			func(e *conflicting, ctx context.Context) error { return e.tx(ctx, "x", "y") },
			func(e *conflicting, ctx context.Context) error { return e.putItem(ctx, "z") },
			nil},
		{"transaction of an item a PutItem holds",
			func(e *conflicting, ctx context.Context) error { return e.putItem(ctx, "y") },
			func(e *conflicting, ctx context.Context) error { return e.tx(ctx, "x", "y") },
			func(err error) bool { return fmt.Sprint(reasons(err)) == "[None TransactionConflict]" }},
		{"TransactGetItems of an item a transaction holds",
			func(e *conflicting, ctx context.Context) error { return e.tx(ctx, "x", "y") },
			func(e *conflicting, ctx context.Context) error {
				_, err := e.c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
					{Get: &types.Get{TableName: aws.String(e.table), Key: key("y", "s")}},
				}})
				return err
			},
			func(err error) bool { return fmt.Sprint(reasons(err)) == "[TransactionConflict]" }},
		{"two PutItems of one item",
			func(e *conflicting, ctx context.Context) error { return e.putItem(ctx, "y") },
			func(e *conflicting, ctx context.Context) error { return e.putItem(ctx, "y") },
			nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newConflicting(t, nil)
			release, first := inFlight(t, func(ctx context.Context) error { return tc.inFlight(e, ctx) })
			err := tc.second(e, t.Context())
			switch {
			case tc.conflicts == nil && err != nil:
				t.Fatalf("second call: %v", err)
			case tc.conflicts != nil && !tc.conflicts(err):
				t.Fatalf("second call: err = %v, want a conflict", err)
			}
			// One attempt each: the SDK's retryer passed the conflict on
			// at once, as it does DynamoDB's.
			if st := e.cf.Stats(); st.Transactions+st.Writes+st.TransactGets != 2 {
				t.Errorf("stats %+v: %d attempts, want 2", st, st.Transactions+st.Writes+st.TransactGets)
			}
			release()
			if err := <-first; err != nil {
				t.Fatalf("call in flight: %v", err)
			}
			if err := tc.second(e, t.Context()); err != nil {
				t.Fatalf("second call once the first is done: %v", err)
			}
		})
	}
}

// Many goroutines, one shared item: each transaction either commits or is
// cancelled with TransactionConflict at the shared item; every commit is
// counted once; retried until done, all commit. Run with -race.
func TestConflictsManyGoroutines(t *testing.T) {
	e := newConflicting(t, nil)
	e.cf.Delay = 2 * time.Millisecond
	const n = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for attempt := 0; ; attempt++ {
				err := e.tx(t.Context(), fmt.Sprintf("own-%d", i), "shared")
				if err == nil {
					return
				}
				if got := fmt.Sprint(reasons(err)); got != "[None TransactionConflict]" || attempt > 1000 {
					t.Errorf("goroutine %d: %v (reasons %s)", i, err, got)
					return
				}
				mu.Lock()
				conflicts++
				mu.Unlock()
				backoff(attempt)
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := e.count(t, "shared"); got != n {
		t.Fatalf("shared item committed %d times, want %d", got, n)
	}
	st := e.cf.Stats()
	if st.Transactions != int64(n+conflicts) || st.TransactionConflicts != int64(conflicts) {
		t.Fatalf("stats %+v, want %d transactions with %d conflicts", st, n+conflicts, conflicts)
	}
	if conflicts == 0 {
		t.Fatalf("%d concurrent transactions on one item never conflicted", n)
	}
	t.Logf("%d transactions, %d cancelled by a conflict", st.Transactions, st.TransactionConflicts)
	if e.cf.Reset(); e.cf.Stats() != (ddbsim.ConflictStats{}) {
		t.Fatalf("Reset left %+v", e.cf.Stats())
	}
}

// Conflicts composes with awstest.Faults and the SDK's retryer: a throttled
// attempt is retried by the SDK and only the attempt that gets through holds
// the items; a Meter on the same client bills the one write, and bills a
// transaction Conflicts cancels apart, as rejected.
func TestConflictsComposeWithFaultsAndMeter(t *testing.T) {
	raw := awstest.Client(t)
	table := awstest.NewTable(t, raw, plainTable)
	cf, err := ddbsim.NewConflicts(plainTable(table))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ddbsim.NewMeter(raw, plainTable(table))
	if err != nil {
		t.Fatal(err)
	}
	faults := &awstest.Faults{Make: awstest.Throttled}
	faults.Remaining.Store(2)
	e := &conflicting{table: table, cf: cf, c: dynamodb.New(raw.Options(), faults.Option, cf.Option, m.Option)}

	if err := e.tx(t.Context(), "x", "y"); err != nil {
		t.Fatalf("transaction after two throttles: %v", err)
	}
	if faults.Calls.Load() != 3 || cf.Stats().Transactions != 1 {
		t.Fatalf("faults saw %d attempts, conflicts %d; want 3 and 1", faults.Calls.Load(), cf.Stats().Transactions)
	}
	r := m.Report()
	if op := r.Ops["TransactWriteItems"]; op.Calls != 1 || op.WRU != 4 || r.TotalWRU != 4 {
		t.Fatalf("meter: %+v, total %d; want one call of 4 WRU", op, r.TotalWRU)
	}

	m.Reset()
	release, first := inFlight(t, func(ctx context.Context) error { return e.tx(ctx, "x", "y") })
	if got := reasons(e.tx(t.Context(), "y", "z")); fmt.Sprint(got) != "[TransactionConflict None]" {
		t.Fatalf("reasons %v", got)
	}
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	r = m.Report()
	// The cancelled one: a prepare of y (there, small) and of z (absent),
	// 1 each; the other committed: 2 × 2.
	if r.Rejected != 1 || r.RejectedWRU != 2 || r.TotalWRU != 4 {
		t.Fatalf("meter: rejected %d (%d WRU), total %d; want 1 (2), 4", r.Rejected, r.RejectedWRU, r.TotalWRU)
	}
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
