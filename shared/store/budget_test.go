package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/store"
)

// A program with a budget in every form: 10 points per payment of 1000
// (1 per 100), a campaign bonus of 5 on every payment.
func budgetProgram(programMonthly, campaignBudget int64) string {
	caps, camp := "", ""
	if programMonthly > 0 {
		caps = fmt.Sprintf(`, "caps": {"program_monthly": %d}`, programMonthly)
	}
	if campaignBudget > 0 {
		camp = fmt.Sprintf(`, "campaigns": [{"id": "launch", "starts_at": "2026-11-01T00:00:00Z", "ends_at": "2026-12-01T00:00:00Z", "bonus": 5, "budget": %d}]`, campaignBudget)
	}
	return `{"name": "Budgeted", "auto_enroll": true,
	  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 100}}],
	  "point_value": {"minor": "1", "currency": "RUB"}` + caps + camp + `}`
}

// Many concurrent accruals, each payment delivered twice at once (the
// duplicate gives its reservation back), exhaust a budget spread over all
// its shards and never spend more than it; accruals that come after take
// what the burst gave back, so the budget ends spent exactly, every shard at
// its share, and the counters equal what the entries credited.
func TestBudgetExhaustedExactly(t *testing.T) {
	tests := []struct {
		name            string
		program, launch int64 // limits: program monthly budget, campaign budget
	}{
		{"program budget", 1000, 0},
		{"campaign budget", 0, 203},
		{"both", 1203, 197},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, map[string]string{"telco": budgetProgram(tc.program, tc.launch)}, store.WithBudgetCacheWindow(0))
			ctx := context.Background()
			const burst = 64
			var wg sync.WaitGroup
			for i := range burst {
				for range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := e.st.Apply(ctx, pay("telco", fmt.Sprintf("m%03d", i), fmt.Sprintf("p%03d", i), 1000)); err != nil {
							t.Errorf("apply: %v", err)
						}
					}()
				}
			}
			wg.Wait()
			total, campaign := creditedBy(t, e, burst)
			if (tc.program > 0 && total > tc.program) || (tc.launch > 0 && campaign > tc.launch) {
				t.Fatalf("burst credited %d (campaign %d): over the budgets %d / %d", total, campaign, tc.program, tc.launch)
			}
			assertBudgets(t, e, tc.program, tc.launch, total, campaign)
			// Later accruals take whatever the burst left (given back by
			// the duplicates after others found the budget spent).
			n := burst
			for ; n < burst+40; n++ {
				mustApply(t, e.st, pay("telco", fmt.Sprintf("m%03d", n), fmt.Sprintf("p%03d", n), 1000))
			}
			total, campaign = creditedBy(t, e, n)
			if tc.program > 0 && total != tc.program {
				t.Fatalf("credited %d in all, want exactly the program budget %d", total, tc.program)
			}
			if tc.launch > 0 && campaign != tc.launch {
				t.Fatalf("campaign credited %d in all, want exactly its budget %d", campaign, tc.launch)
			}
			assertBudgets(t, e, tc.program, tc.launch, total, campaign)
			assertSharesFull(t, e, "2026-11", "", tc.program)
			assertSharesFull(t, e, "", "launch", tc.launch)
		})
	}
}

// creditedBy sums what members m000..m(n-1) were credited, all of it and of
// the campaign, after checking each member's invariants.
func creditedBy(t *testing.T, e *env, n int) (total, campaign int64) {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("m%03d", i)
		es, err := e.st.Entries(context.Background(), "telco", id)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range es {
			total += en.Points
			campaign += campaignCredited(en)
		}
		if len(es) > 0 {
			e.audit(t, "telco", id)
		}
	}
	return total, campaign
}

func assertBudgets(t *testing.T, e *env, program, launch, total, campaign int64) {
	t.Helper()
	if program > 0 {
		assertBudgetSpent(t, e, "2026-11", "", total)
	}
	if launch > 0 {
		assertBudgetSpent(t, e, "", "launch", campaign)
	}
}

// assertSharesFull checks that every shard of a spent budget is at exactly
// its share (limit/16, one more for the first limit%16).
func assertSharesFull(t *testing.T, e *env, month, campaign string, limit int64) {
	t.Helper()
	if limit == 0 {
		return
	}
	shards, err := e.st.BudgetSpent(context.Background(), "telco", month, campaign)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range shards {
		share := limit / store.BudgetShards
		if int64(i) < limit%store.BudgetShards {
			share++
		}
		if n != share {
			t.Fatalf("shard %d spent %d, want its share %d (all shards %v)", i, n, share, shards)
		}
	}
}

// dyingDB is the store's client in a process that dies between reserving an
// accrual's budget points and committing its transaction: the transaction of
// the doomed payment fails, and so does every write after it (the give-back
// of the reservation) until revived.
type dyingDB struct {
	store.DynamoDB
	doomed string // payment id whose transaction "crashes"
	dead   atomic.Bool
}

var errDied = errors.New("process died")

func (d *dyingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		if it.Put != nil {
			if pid, ok := it.Put.Item["pid"].(*types.AttributeValueMemberS); ok && pid.Value == d.doomed {
				d.dead.Store(true)
				return nil, errDied
			}
		}
	}
	return d.DynamoDB.TransactWriteItems(ctx, in, opts...)
}

func (d *dyingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if d.dead.Load() {
		return nil, errDied
	}
	return d.DynamoDB.UpdateItem(ctx, in, opts...)
}

// What a dying process leaves unspent is exactly the reservation of the
// accrual it was committing; the budget is still never overspent, and the
// redelivered payment reserves afresh.
func TestBudgetLeakIsBounded(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": budgetProgram(300, 0)}, store.WithBudgetCacheWindow(0))
	ctx := context.Background()
	for i := range 10 {
		mustApply(t, e.st, pay("telco", fmt.Sprintf("m%03d", i), fmt.Sprintf("p%03d", i), 1000))
	}
	d := &dyingDB{DynamoDB: e.client, doomed: "p-doomed"}
	dying := store.New(d, e.table, store.WithClock(func() time.Time { return t0 }), store.WithBudgetCacheWindow(0))
	if _, err := dying.Apply(ctx, pay("telco", "m-doomed", "p-doomed", 1000)); !errors.Is(err, errDied) {
		t.Fatalf("the dying accrual: %v", err)
	}
	for i := 10; i < 40; i++ {
		mustApply(t, e.st, pay("telco", fmt.Sprintf("m%03d", i), fmt.Sprintf("p%03d", i), 1000))
	}
	total, _ := creditedBy(t, e, 40)
	shards, err := e.st.BudgetSpent(ctx, "telco", "2026-11", "")
	if err != nil {
		t.Fatal(err)
	}
	var spent int64
	for _, n := range shards {
		spent += n
	}
	if spent != 300 || total != 290 {
		t.Fatalf("counters %d, credited %d: want the budget spent (300) and credited short by exactly the dead accrual's 10", spent, total)
	}
	// The payment comes back (SQS redelivers it): it reserves afresh, finds
	// the budget spent and credits nothing; nothing goes over.
	out := mustApply(t, e.st, pay("telco", "m-doomed", "p-doomed", 1000))
	if out.Entry.Points != 0 {
		t.Fatalf("redelivered after the budget ran out: %d points", out.Entry.Points)
	}
	if shards, _ := e.st.BudgetSpent(ctx, "telco", "2026-11", ""); sum(shards[:]) != 300 {
		t.Fatalf("counters %v after the redelivery", shards)
	}
}

func sum(xs []int64) int64 {
	var n int64
	for _, x := range xs {
		n += x
	}
	return n
}
