package store

// Program-wide budgets — the program's monthly points budget and each
// campaign's budget — are drawn on by the accruals of every member of a
// partner. One counter item would be the one key all of a partner's
// accruals meet on: 1,000 WCU/s for its partition, and every transaction
// that writes it conflicts with every other one in flight. So a budget is
// split over BudgetShards counter items, each under its own partition key
// (off the partner's item collection) with an equal share of the limit
// (shardCap), and an accrual reserves its points with single-item
// conditional updates (ADD spent, on condition that spent stays within the
// share) before its transaction, not inside it (evaluate):
//
//   - never overspent: every point an accrual credits from a budget was first
//     added to a shard whose condition kept it within its share, and the
//     shares sum to the limit;
//   - no conflicts: the accrual's transaction writes only the member and its
//     entries; updates of one shard by several accruals are serialised by
//     DynamoDB without cancelling each other;
//   - spread: a payment takes its points from the shard its id hashes to;
//     only when that shard has too few does it read all shards and draw
//     from several, so a budget is spent to its limit;
//   - exact holds: an accrual holds exactly what it will credit, and gives
//     it back (ADD −n) when it does not commit (a duplicate, a conflict, an
//     error) before it retries or returns.
//
// What can stay unspent: points given back after other accruals found the
// budget spent and credited less — the reservations of accruals that did not
// commit, or of a fast path that took one budget's points and found the next
// budget's shard short — and, for a process, for spentFor after it found a
// budget spent (it does not read it again meanwhile). Later accruals take
// them. What never comes back: the reservation of an accrual whose process
// died between reserving and committing (or whose give-back failed): at most
// the budget points of the accruals in flight at such a failure.
// TestBudgetExhaustedExactly and TestBudgetLeakIsBounded pin both.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// BudgetShards is the number of counter items (partition keys) a budget is
// split over. One partition takes 1,000 WCU/s and a reservation is 1 WRU, so
// a budget takes up to BudgetShards × 1,000 reservations a second.
const BudgetShards = 16

// budget is one program-wide budget: its name (for the process's cache of
// spent budgets), its limit and the partition key of its shard i.
type budget struct {
	name     string
	campaign string // the campaign's id; "" for the program's monthly budget
	limit    int64
	pk       func(shard int) string
}

// shardCap is shard i's share of limit: limit/BudgetShards, plus one for the
// first limit%BudgetShards shards, so the shares sum to limit exactly.
func shardCap(limit int64, shard int) int64 {
	c := limit / BudgetShards
	if int64(shard) < limit%BudgetShards {
		c++
	}
	return c
}

// reserved is what one accrual holds of the budgets: points per shard.
type reserved struct {
	parts []reservedPart
}

type reservedPart struct {
	budget string
	pk     string
	n      int64
}

// covers reports whether r holds exactly what res wants of every budget.
func (r *reserved) covers(budgets []*budget, res rules.Result) bool {
	if r == nil {
		return false
	}
	for _, b := range budgets {
		var n int64
		for _, p := range r.parts {
			if p.budget == b.name {
				n += p.n
			}
		}
		if n != max(b.wants(res), 0) {
			return false
		}
	}
	return true
}

// spentBudgets remembers, per process, the budgets found spent (at a limit),
// for spentFor: a month whose budget ran out on its 3rd costs the accruals
// of the other days no writes. Real time, not the store's clock: it is a
// cache of what DynamoDB said, and points given back by accruals that did
// not commit become reachable again after it.
type spentBudgets struct {
	mu     sync.Mutex
	window time.Duration
	spent  map[string]spentMark
}

type spentMark struct {
	limit int64
	at    time.Time
}

// defaultSpentFor is how long a budget found spent stays known as spent
// (WithBudgetCacheWindow).
const defaultSpentFor = 10 * time.Second

func (x *spentBudgets) isSpent(name string, limit int64) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	m, ok := x.spent[name]
	return ok && m.limit == limit && time.Since(m.at) < x.window
}

func (x *spentBudgets) markSpent(name string, limit int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.spent == nil {
		x.spent = map[string]spentMark{}
	}
	x.spent[name] = spentMark{limit: limit, at: time.Now()}
}

// budgetsOf lists the budgets a payment may draw on under prog: the program's
// monthly budget for month and every budgeted campaign.
// Campaigns come first: their budgets are the smaller ones, spent first, and
// a fast path that fails on its first budget has held nothing.
func budgetsOf(partner string, prog *program.Program, month string) []*budget {
	var out []*budget
	for _, c := range prog.Campaigns {
		if c.Budget > 0 {
			id := c.ID
			out = append(out, &budget{name: "campaign/" + partner + "/" + id, campaign: id, limit: c.Budget,
				pk: func(i int) string { return campaignShardPK(partner, id, i) }})
		}
	}
	if prog.Caps.ProgramMonthly > 0 {
		out = append(out, &budget{name: "program/" + partner + "/" + month, limit: prog.Caps.ProgramMonthly,
			pk: func(i int) string { return budgetShardPK(partner, month, i) }})
	}
	return out
}

// wants is how many points of b res draws.
func (b *budget) wants(res rules.Result) int64 {
	if b.campaign != "" {
		return res.CampaignSpend[b.campaign]
	}
	return res.ProgramSpend
}

// evaluate runs the rules engine on the payment and reserves, exactly, the
// budget points its result draws on (or keeps prev, an earlier attempt's
// reservation, when it holds just that). The first evaluation assumes every
// budget open and takes each budget's points from the one shard the payment
// hashes to: one conditional write per budget, the usual case. When a shard
// has less, the payment is evaluated again with what every budget has left
// (all shards read) and its points drawn shard by shard; a draw that finds
// less than it read (another accrual took it) gives back what it took and
// starts over. It never holds more than the result credits, so no accrual
// sees a budget spent by points another is about to give back.
func (s *Store) evaluate(ctx context.Context, prog *program.Program, m *ledger.Member, pay payment.Payment, now time.Time, prev *reserved) (rules.Result, *reserved, error) {
	_, month := rules.PeriodKeys(prog, now)
	budgets := budgetsOf(pay.PartnerID, prog, month)
	first := int(shardOf(pay.PaymentID))
	res := rules.Evaluate(prog, m.Rules, rules.Budgets{ProgramMonth: month}, pay, now)
	if prev.covers(budgets, res) {
		return res, prev, nil // an earlier attempt's reservation: the same points
	}
	s.releaseBudgets(ctx, prev)
	held, ok, err := s.reserveAt(ctx, budgets, res, first)
	if err != nil || ok {
		return res, held, err
	}
	for attempt := 0; ; attempt++ {
		left, err := s.budgetsLeft(ctx, budgets)
		if err != nil {
			return res, nil, err
		}
		b := rules.Budgets{ProgramMonth: month, CampaignSpent: map[string]int64{}}
		for i, bg := range budgets {
			var sum int64
			for _, l := range left[i] {
				sum += l
			}
			if bg.campaign != "" {
				b.CampaignSpent[bg.campaign] = bg.limit - sum
			} else {
				b.ProgramSpent = bg.limit - sum
			}
		}
		res = rules.Evaluate(prog, m.Rules, b, pay, now)
		held, ok, err := s.reserveFrom(ctx, budgets, res, left, first)
		if err != nil || ok {
			return res, held, err
		}
		if err := s.backoff(ctx, attempt); err != nil {
			return res, nil, fmt.Errorf("reserve budgets of %s: %w", pay.PaymentID, err)
		}
	}
}

// reserveAt takes what res wants of each budget from its shard first; ok is
// false (nothing held) when a shard has less.
func (s *Store) reserveAt(ctx context.Context, budgets []*budget, res rules.Result, first int) (*reserved, bool, error) {
	r := &reserved{}
	for _, b := range budgets {
		want := b.wants(res)
		if want <= 0 {
			continue
		}
		if s.spent.isSpent(b.name, b.limit) {
			s.releaseBudgets(ctx, r)
			return nil, false, nil
		}
		ok, err := s.addSpent(ctx, b.pk(first), want, shardCap(b.limit, first))
		if err != nil || !ok {
			s.releaseBudgets(ctx, r)
			return nil, false, err
		}
		r.parts = append(r.parts, reservedPart{budget: b.name, pk: b.pk(first), n: want})
	}
	return r, true, nil
}

// reserveFrom draws what res wants of each budget from the shards with
// points left (as read: left[budget][shard]), starting at first; ok is false
// (nothing held) when a shard turned out to have less than read.
func (s *Store) reserveFrom(ctx context.Context, budgets []*budget, res rules.Result, left [][BudgetShards]int64, first int) (*reserved, bool, error) {
	r := &reserved{}
	for bi, b := range budgets {
		want := b.wants(res)
		for k := 0; k < BudgetShards && want > 0; k++ {
			i := (first + k) % BudgetShards
			n := min(left[bi][i], want)
			if n <= 0 {
				continue
			}
			ok, err := s.addSpent(ctx, b.pk(i), n, shardCap(b.limit, i))
			if err != nil || !ok {
				s.releaseBudgets(ctx, r)
				return nil, false, err
			}
			r.parts = append(r.parts, reservedPart{budget: b.name, pk: b.pk(i), n: n})
			want -= n
		}
		if want > 0 {
			// The evaluation was given what was left: it cannot want more.
			s.releaseBudgets(ctx, r)
			return nil, false, fmt.Errorf("budget %s: evaluation wants %d points more than it has left", b.name, want)
		}
	}
	return r, true, nil
}

// budgetsLeft reads what each shard of each budget has left of its share
// (consistently, one BatchGetItem per budget). A budget known spent (see
// spentBudgets) is not read; one found spent is remembered.
func (s *Store) budgetsLeft(ctx context.Context, budgets []*budget) ([][BudgetShards]int64, error) {
	out := make([][BudgetShards]int64, len(budgets))
	for bi, b := range budgets {
		if s.spent.isSpent(b.name, b.limit) {
			continue
		}
		left, err := s.shardsLeft(ctx, b)
		if err != nil {
			return nil, err
		}
		var sum int64
		for _, l := range left {
			sum += max(l, 0)
		}
		if sum == 0 {
			s.spent.markSpent(b.name, b.limit)
		}
		out[bi] = left
	}
	return out, nil
}

// shardsLeft reads every shard of b (consistently, one BatchGetItem) and
// returns what each has left of its share (never below 0: a lowered limit).
func (s *Store) shardsLeft(ctx context.Context, b *budget) ([BudgetShards]int64, error) {
	var left [BudgetShards]int64
	keys := make([]map[string]types.AttributeValue, BudgetShards)
	index := map[string]int{}
	for i := range BudgetShards {
		keys[i] = key(b.pk(i), skBudgetShard)
		index[b.pk(i)] = i
		left[i] = shardCap(b.limit, i)
	}
	req := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	for attempt := 0; len(req) > 0; attempt++ {
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return left, fmt.Errorf("read budget %s: %w", b.name, err)
		}
		for _, it := range out.Responses[s.table] {
			var c counter
			if err := attributevalue.UnmarshalMap(it, &c); err != nil {
				return left, fmt.Errorf("unmarshal budget shard: %w", err)
			}
			if pk, ok := it[AttrPK].(*types.AttributeValueMemberS); ok {
				i := index[pk.Value]
				left[i] = max(left[i]-c.Spent, 0)
			}
		}
		req = out.UnprocessedKeys
		if len(req) > 0 {
			if err := s.backoff(ctx, attempt); err != nil {
				return left, err
			}
		}
	}
	return left, nil
}

// addSpent adds n to a shard's spent on condition that it stays within
// share; ok is false when it would not.
func (s *Store) addSpent(ctx context.Context, pk string, n, share int64) (bool, error) {
	if n > share {
		return false, nil // the condition below passes for a shard never written
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 key(pk, skBudgetShard),
		UpdateExpression:    aws.String("ADD spent :n"),
		ConditionExpression: aws.String("attribute_not_exists(spent) OR spent <= :max"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n":   num(n),
			":max": num(share - n),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reserve budget %s: %w", pk, err)
	}
	return true, nil
}

// releaseBudgets gives back what r holds. It runs even when ctx is done (an
// accrual cancelled after reserving), within a few seconds; a release that
// fails leaves those points unspent (logged by the caller's error path; see
// the top of the file for the bound).
func (s *Store) releaseBudgets(ctx context.Context, r *reserved) {
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, p := range r.parts {
		if p.n == 0 {
			continue
		}
		_, _ = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.table), Key: key(p.pk, skBudgetShard),
			UpdateExpression:          aws.String("ADD spent :n"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(-p.n)},
		})
	}
	r.parts = nil
}

// shardOf spreads payments over the shards.
func shardOf(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32() % BudgetShards
}

type counter struct {
	Spent int64 `dynamodbav:"spent"`
}

// BudgetSpent reads a budget's shards: the program's monthly budget of month
// (campaign "") or a campaign's budget (month ignored); what each shard has
// spent, in shard order. Read consistently; for tests, operators and
// reports, not for accruals.
func (s *Store) BudgetSpent(ctx context.Context, partner, month, campaign string) ([BudgetShards]int64, error) {
	var spent [BudgetShards]int64
	for i := range BudgetShards {
		pk := budgetShardPK(partner, month, i)
		if campaign != "" {
			pk = campaignShardPK(partner, campaign, i)
		}
		var c counter
		if _, err := s.getItem(ctx, pk, skBudgetShard, &c); err != nil {
			return spent, err
		}
		spent[i] = c.Spent
	}
	return spent, nil
}
