package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
)

// Idempotency-Key records (P#{partner}#IDEM | {key}) make a request with the
// same key run at most once (issue #9, item 3):
//
//   - A request claims the key (BeginIdempotent) with a random token and a
//     lease that ends at the request's own deadline. While the lease runs, a
//     retry is told the first request is in progress; once it has ended, a
//     retry with the same request takes the claim over (a new token) and runs.
//   - The change the request makes and its stored response commit in ONE
//     TransactWriteItems: every write path of the store that commits a change
//     (accrual, refund, LedgerTx, enrolment, a recorded rejection) adds the
//     record — done, with the response — conditional on the claim still being
//     this request's (token and not done). So a crash after the commit leaves
//     the response behind, and the retry replays it; a retry after an
//     ambiguous commit (a timeout, a 5xx) replays it too if the commit
//     happened, and runs if it did not; a request whose claim was taken over
//     (its lease ended) cannot commit any more (ErrIdempotencyLost).
//   - A request that changes nothing (a client error, a duplicate event)
//     stores its response afterwards (FinishIdempotent); a server failure
//     forgets the claim (AbandonIdempotent), unless the change committed.

// IdempotencyTTL is how long an Idempotency-Key is remembered.
const IdempotencyTTL = 24 * time.Hour

// ErrIdempotencyLost: the request's claim on its Idempotency-Key ended (its
// lease ran out and a retry took it over) before it could commit; nothing was
// written. The retry's answer is the one that counts.
var ErrIdempotencyLost = errors.New("the request's Idempotency-Key claim was taken over by a retry")

var errIdemLost = ErrIdempotencyLost

// IdemRecord is a remembered request: its fingerprint and, once done, the
// response; while in progress, the claim's lease.
type IdemRecord struct {
	RequestHash string `dynamodbav:"hash"`
	Done        bool   `dynamodbav:"done"`
	Token       string `dynamodbav:"tok,omitempty"`
	// LeaseUntil (unix milliseconds): an undone claim is the request's until
	// then; afterwards a retry of the same request may take it over.
	LeaseUntil  int64  `dynamodbav:"lease,omitempty"`
	Status      int    `dynamodbav:"status,omitempty"`
	ContentType string `dynamodbav:"ctype,omitempty"`
	Body        []byte `dynamodbav:"body,omitempty"`
	// Sealed: Body is encrypted (an answer that shows a secret; the API
	// opens it to replay it).
	Sealed bool  `dynamodbav:"sealed,omitempty"`
	TTL    int64 `dynamodbav:"ttl"`
}

// Lease is when an in-progress record's claim ends.
func (r *IdemRecord) Lease() time.Time { return time.UnixMilli(r.LeaseUntil) }

// IdemResponse is a stored response.
type IdemResponse struct {
	Status      int
	ContentType string
	Body        []byte
	// Sealed: Body is encrypted by the caller (the store stores it as is).
	Sealed bool
}

// Written is what a committed change produced, for the response stored with it.
type Written struct {
	Member     ledger.Member
	Entry      *ledger.Entry      // the (last) entry booked, if any
	Redemption *ledger.Redemption // the redemption written, if any
	Rejection  *Rejection         // the rejection recorded, if any
	// Other and OtherEntry: the second member of a two-member change (a
	// transfer's receiver) and its (last) entry.
	Other      ledger.Member
	OtherEntry *ledger.Entry
	// Result: what a change another package commits through the store
	// produced (package keys: a new key's metadata, never its secret).
	Result   any
	Webhook  *Webhook   // the webhook endpoint written, if any
	Delivery *Delivery  // the webhook delivery written, if any
	Import   *ImportJob // the import created, if any
}

// IdemClaim is an Idempotency-Key a request holds.
type IdemClaim struct {
	Partner, Key, Hash string
	Token              string
	LeaseUntil         time.Time
	// Respond renders the response of the change about to commit; the store
	// stores it in the same transaction. Nil: the request makes no change
	// through the store (its response is stored by FinishIdempotent).
	Respond func(Written) (IdemResponse, error)
	// Stored is set once a transaction committed the response; Response is
	// what it stored.
	Stored   bool
	Response IdemResponse
}

type idemCtxKey struct{}

// WithIdempotency makes the writes under ctx commit the claim's response
// with them.
func WithIdempotency(ctx context.Context, c *IdemClaim) context.Context {
	return context.WithValue(ctx, idemCtxKey{}, c)
}

func idemFrom(ctx context.Context) *IdemClaim {
	c, _ := ctx.Value(idemCtxKey{}).(*IdemClaim)
	if c == nil || c.Respond == nil || c.Stored {
		return nil
	}
	return c
}

// withIdem adds to the transaction the claim's record with the response of
// w, when ctx carries a claim (roleIdem). It returns the claim (nil without
// one) and the response, to mark stored once the transaction committed.
func (t *txn) withIdem(ctx context.Context, w Written) (*IdemClaim, IdemResponse, error) {
	c := idemFrom(ctx)
	if c == nil {
		return nil, IdemResponse{}, nil
	}
	resp, err := c.Respond(w)
	if err != nil {
		return nil, IdemResponse{}, fmt.Errorf("render idempotent response: %w", err)
	}
	it, err := t.s.idemDone(c, resp)
	if err != nil {
		return nil, IdemResponse{}, err
	}
	t.add(roleIdem, it)
	return c, resp, nil
}

// stored marks a claim's response as committed.
func stored(c *IdemClaim, resp IdemResponse) {
	if c != nil {
		c.Stored, c.Response = true, resp
	}
}

// idemDone is the put of a claim's done record, conditional on the claim.
func (s *Store) idemDone(c *IdemClaim, resp IdemResponse) (types.TransactWriteItem, error) {
	rec := IdemRecord{RequestHash: c.Hash, Done: true, Status: resp.Status, ContentType: resp.ContentType, Body: resp.Body,
		Sealed: resp.Sealed, TTL: s.now().Add(IdempotencyTTL).Unix()}
	pk, sk := idemKey(c.Partner, c.Key)
	it, err := item(rec, pk, sk)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	p := &types.Put{TableName: aws.String(s.table), Item: it}
	p.ConditionExpression, p.ExpressionAttributeValues = claimHeld(c)
	return types.TransactWriteItem{Put: p}, nil
}

// claimHeld is the condition that c is still the claim of its key.
func claimHeld(c *IdemClaim) (*string, map[string]types.AttributeValue) {
	return aws.String("tok = :tok AND done = :f"), map[string]types.AttributeValue{
		":tok": &types.AttributeValueMemberS{Value: c.Token},
		":f":   &types.AttributeValueMemberBOOL{Value: false},
	}
}

// BeginIdempotent claims key for a request with fingerprint hash until
// leaseUntil. When the key is free (new, expired, or an abandoned claim of
// the same request whose lease ended) it returns the claim and a nil record;
// otherwise the stored record, done or in progress, for the caller to answer
// from.
func (s *Store) BeginIdempotent(ctx context.Context, partner, key, hash string, leaseUntil time.Time) (*IdemClaim, *IdemRecord, error) {
	for attempt := 0; ; attempt++ {
		now := s.now()
		c := &IdemClaim{Partner: partner, Key: key, Hash: hash, Token: newToken(), LeaseUntil: leaseUntil}
		rec := IdemRecord{RequestHash: hash, Token: c.Token, LeaseUntil: leaseUntil.UnixMilli(), TTL: now.Add(IdempotencyTTL).Unix()}
		pk, sk := idemKey(partner, key)
		it, err := item(rec, pk, sk)
		if err != nil {
			return nil, nil, err
		}
		// A record past its TTL may not be deleted yet: treat it as absent.
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(s.table), Item: it,
			ConditionExpression:      aws.String("attribute_not_exists(pk) OR #ttl < :now OR (done = :f AND lease < :nowms AND #h = :h)"),
			ExpressionAttributeNames: map[string]string{"#ttl": AttrTTL, "#h": "hash"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":now":   num(now.Unix()),
				":nowms": num(now.UnixMilli()),
				":f":     &types.AttributeValueMemberBOOL{Value: false},
				":h":     &types.AttributeValueMemberS{Value: hash},
			},
		})
		var ccf *types.ConditionalCheckFailedException
		if err == nil {
			return c, nil, nil
		}
		if !errors.As(err, &ccf) {
			return nil, nil, fmt.Errorf("claim idempotency key: %w", err)
		}
		var old IdemRecord
		if found, err := s.getItem(ctx, pk, sk, &old); err != nil {
			return nil, nil, err
		} else if found {
			return nil, &old, nil
		}
		// Deleted in between (abandoned): claim again.
		if err := s.backoff(ctx, attempt); err != nil {
			return nil, nil, err
		}
	}
}

// FinishIdempotent stores the response of a request that changed nothing
// through the store (a client error, a duplicate): conditional on the claim,
// so it never overwrites what a retry that took the claim over stored.
func (s *Store) FinishIdempotent(ctx context.Context, c *IdemClaim, resp IdemResponse) error {
	it, err := s.idemDone(c, resp)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: it.Put.TableName, Item: it.Put.Item,
		ConditionExpression: it.Put.ConditionExpression, ExpressionAttributeValues: it.Put.ExpressionAttributeValues,
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	return nil
}

// AbandonIdempotent forgets a claim (the request failed and may be retried
// with the same key) — unless its change committed meanwhile (done) or a
// retry took it over: then the record stays.
func (s *Store) AbandonIdempotent(ctx context.Context, c *IdemClaim) error {
	cond, vals := claimHeld(c)
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table), Key: key(idemKey(c.Partner, c.Key)),
		ConditionExpression: cond, ExpressionAttributeValues: vals,
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("abandon idempotency key: %w", err)
	}
	return nil
}

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
