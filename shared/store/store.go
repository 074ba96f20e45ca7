package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
)

// DynamoDB is the part of the DynamoDB client the store uses.
type DynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store reads and writes Accrue's items in one table.
type Store struct {
	db    DynamoDB
	table string
	now   func() time.Time
	// ProgramTTL: how long a program read stays cached in this process.
	programTTL time.Duration
	mu         sync.Mutex
	programs   map[string]cachedProgram
	// capacity, when set, receives the consumed capacity of every transaction.
	capacity func([]types.ConsumedCapacity)
	// spent: the budgets this process found spent (budget.go).
	spent spentBudgets
}

type cachedProgram struct {
	p  *program.Program
	at time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock (tests use a fixed or stepping clock).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithProgramCacheTTL sets how long programs stay cached (default 30s; 0 disables).
func WithProgramCacheTTL(d time.Duration) Option { return func(s *Store) { s.programTTL = d } }

// WithCapacityReport asks DynamoDB for the consumed capacity of every write
// transaction and passes it to f (used by the benchmarks).
func WithCapacityReport(f func([]types.ConsumedCapacity)) Option {
	return func(s *Store) { s.capacity = f }
}

// WithBudgetCacheWindow sets how long this process remembers a budget it
// found spent without reading it again (default 10 s; 0: never remembers).
func WithBudgetCacheWindow(d time.Duration) Option { return func(s *Store) { s.spent.window = d } }

// New returns a Store on table.
func New(db DynamoDB, table string, opts ...Option) *Store {
	s := &Store{db: db, table: table, now: time.Now, programTTL: 30 * time.Second, programs: map[string]cachedProgram{}}
	s.spent.window = defaultSpentFor
	for _, o := range opts {
		o(s)
	}
	return s
}

// Errors a caller can act on.
var (
	ErrUnknownPartner = errors.New("unknown partner")
	ErrMemberNotFound = errors.New("member not found")
	// ErrOriginalNotFound: a refund whose payment has not been seen (yet). Transient:
	// the payment may still arrive.
	ErrOriginalNotFound = errors.New("refunded payment not found yet")
	// ErrContention: the write kept conflicting with concurrent writes until the
	// retry budget ran out. Transient.
	ErrContention = errors.New("too much write contention, retry later")
)

// item marshals v and adds its keys.
func item(v any, pk, sk string) (map[string]types.AttributeValue, error) {
	m, err := attributevalue.MarshalMap(v)
	if err != nil {
		return nil, fmt.Errorf("marshal %s|%s: %w", pk, sk, err)
	}
	m[AttrPK] = &types.AttributeValueMemberS{Value: pk}
	m[AttrSK] = &types.AttributeValueMemberS{Value: sk}
	return m, nil
}

func memberItem(m *ledger.Member) (map[string]types.AttributeValue, error) {
	pk := memberPK(m.PartnerID, m.ID)
	it, err := item(m, pk, skMember)
	if err != nil {
		return nil, err
	}
	if m.Due > 0 {
		it[AttrDueShard] = &types.AttributeValueMemberS{Value: DueShard(pk)}
	}
	return it, nil
}

func entryItem(e *ledger.Entry, sk string) (map[string]types.AttributeValue, error) {
	return item(e, memberPK(e.PartnerID, e.MemberID), sk)
}

// getItem reads one item consistently into out; found is false when absent.
func (s *Store) getItem(ctx context.Context, pk, sk string, out any) (found bool, err error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, fmt.Errorf("get %s|%s: %w", pk, sk, err)
	}
	if res.Item == nil {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return false, fmt.Errorf("unmarshal %s|%s: %w", pk, sk, err)
	}
	return true, nil
}

// Member returns a member. An id that was merged into another member
// (ledger.StatusMerged) resolves to that member, the survivor: the member
// returned then has another ID than the one asked for, which tells the
// caller. One more read per merge followed, only for absorbed ids.
func (s *Store) Member(ctx context.Context, partner, member string) (ledger.Member, error) {
	m, err := s.rawMember(ctx, partner, member)
	for hops := 0; err == nil && m.Status == ledger.StatusMerged && m.MergedInto != ""; hops++ {
		if hops >= ledger.MaxAbsorbed {
			return m, fmt.Errorf("%s/%s: more than %d merges to follow", partner, member, ledger.MaxAbsorbed)
		}
		m, err = s.rawMember(ctx, partner, m.MergedInto)
	}
	return m, err
}

// rawMember reads the member item of id as it is: an absorbed member is
// returned itself (status merged), not followed.
func (s *Store) rawMember(ctx context.Context, partner, member string) (ledger.Member, error) {
	var m ledger.Member
	found, err := s.getItem(ctx, memberPK(partner, member), skMember, &m)
	if err != nil {
		return m, err
	}
	if !found {
		return m, fmt.Errorf("%s/%s: %w", partner, member, ErrMemberNotFound)
	}
	return m, nil
}

// UpdateMember changes a member's own fields (status, tags) inside an
// optimistic-concurrency loop: update sees the current member and may change
// anything but its balances, which only ledger entries change (invariant 4).
// An absorbed id changes its survivor (see Member).
func (s *Store) UpdateMember(ctx context.Context, partner, member string, update func(*ledger.Member) error) (ledger.Member, error) {
	var out ledger.Member
	err := s.retry(ctx, "update member "+partner+"/"+member, func() error {
		m, err := s.Member(ctx, partner, member)
		out = m
		if err != nil {
			return err
		}
		before, prev, id := m.Balances, m.Version, m.ID
		if err := update(&m); err != nil {
			return err
		}
		if m.Balances != before || m.PartnerID != partner || m.ID != id {
			return errors.New("UpdateMember may not change balances or identity")
		}
		m.Version = prev + 1
		t := s.newTxn()
		if err := t.putMember(&m, prev, false); err != nil {
			return err
		}
		if err := t.commit(ctx, Written{Member: m}); err != nil {
			return err
		}
		out = m
		return nil
	})
	return out, err
}
