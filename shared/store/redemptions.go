package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/shared/ledger"
)

// Errors of redemptions and rewards (those of the decisions are package
// ledger's).
var (
	ErrRewardNotFound     = errors.New("reward not found")
	ErrTooManyRewards     = errors.New("too many rewards in one catalog")
	ErrRedemptionNotFound = errors.New("redemption not found")
)

// MaxRewards in one catalog (the catalog is replaced in one transaction).
const MaxRewards = 90

// Rewards returns the catalog, ordered by id.
func (s *Store) Rewards(ctx context.Context, partner string) ([]ledger.Reward, error) {
	kc := expression.Key(AttrPK).Equal(expression.Value(partnerPK(partner))).And(expression.Key(AttrSK).BeginsWith(pfxReward))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fmt.Errorf("build rewards query: %w", err)
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return nil, fmt.Errorf("query rewards of %s: %w", partner, err)
	}
	rs := []ledger.Reward{}
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &rs); err != nil {
		return nil, fmt.Errorf("unmarshal rewards: %w", err)
	}
	return rs, nil
}

// PutRewards replaces the catalog in one transaction: rewards not listed are
// removed; a listed reward's stock is set to the given value. The audit
// record of the change (rewards.update: each reward added, changed or
// removed, before and after) names the actor of ctx (WithActor).
func (s *Store) PutRewards(ctx context.Context, partner string, rewards []ledger.Reward) ([]ledger.Reward, error) {
	if len(rewards) > MaxRewards {
		return nil, fmt.Errorf("%w: %d, at most %d", ErrTooManyRewards, len(rewards), MaxRewards)
	}
	if _, err := s.Program(ctx, partner); err != nil {
		return nil, err
	}
	old, err := s.Rewards(ctx, partner)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	t := s.newTxn()
	for _, r := range rewards {
		keep[r.ID] = true
		if err := t.put(r, partnerPK(partner), rewardSK(r.ID)); err != nil {
			return nil, err
		}
	}
	for _, r := range old {
		if !keep[r.ID] {
			t.delete(partnerPK(partner), rewardSK(r.ID))
		}
	}
	rec, err := rewardsAudit(ctx, s.now(), old, rewards)
	if err != nil {
		return nil, err
	}
	if err := t.audit(partner, rec); err != nil {
		return nil, err
	}
	if len(t.items) > maxTxItems {
		return nil, fmt.Errorf("%w: replacing %d rewards and removing %d in one change is more than a transaction holds; remove some first",
			ErrTooManyRewards, len(rewards), len(t.items)-len(rewards)-1)
	}
	if err := t.commit(ctx, Written{}); err != nil {
		return nil, fmt.Errorf("replace rewards of %s: %w", partner, err)
	}
	return s.Rewards(ctx, partner)
}

// rewardsAudit is the audit record of a catalog change from before to
// after: a change "rewards.{id}" per reward added, changed or removed.
func rewardsAudit(ctx context.Context, at time.Time, before, after []ledger.Reward) (AuditRecord, error) {
	rec := AuditRecord{At: at, Actor: ActorFrom(ctx), Action: AuditRewardsUpdate, Target: "rewards"}
	byID := func(rs []ledger.Reward) (map[string]json.RawMessage, error) {
		out := make(map[string]json.RawMessage, len(rs))
		for _, r := range rs {
			b, err := json.Marshal(r)
			if err != nil {
				return nil, fmt.Errorf("audit record of the catalog: %w", err)
			}
			out[r.ID] = b
		}
		return out, nil
	}
	b, err := byID(before)
	if err != nil {
		return rec, err
	}
	a, err := byID(after)
	if err != nil {
		return rec, err
	}
	ob, _ := json.Marshal(b) // maps of raw JSON: cannot fail
	oa, _ := json.Marshal(a)
	rec.Changes, err = objectChanges("rewards.", ob, oa)
	return rec, err
}

func newID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Redeem holds (or, with Capture, redeems at once) points of a member
// (ledger.Redeem decides). Available never goes below zero and a limited
// reward's stock never below zero, under any concurrency: the lots are written
// conditional on their versions and the stock conditional on staying >= 0, in
// the same transaction.
func (s *Store) Redeem(ctx context.Context, partner, member string, req ledger.RedeemRequest) (ledger.Redemption, ledger.Member, error) {
	p, err := s.Program(ctx, partner)
	if err != nil {
		return ledger.Redemption{}, ledger.Member{}, err
	}
	rid := newID("rdm_")
	var red ledger.Redemption
	m, err := s.UpdateLedger(ctx, partner, member, func(tx *LedgerTx) error {
		var reward *ledger.Reward
		if req.RewardID != "" {
			r, err := s.reward(ctx, partner, req.RewardID)
			if err != nil {
				return err
			}
			reward = &r
		}
		lots, err := tx.AvailableLots()
		if err != nil {
			return err
		}
		r, e, err := ledger.Redeem(&tx.Member, lots, reward, p, req, rid, tx.Now, tx.LotKey)
		if err != nil {
			return err
		}
		tx.changedTakes(lots, r.Lots)
		tx.booked(e)
		if reward != nil {
			tx.t.stock(partner, *reward, -1)
		}
		red = r
		return tx.newRedemption(r)
	})
	return red, m, err
}

func (s *Store) reward(ctx context.Context, partner, id string) (ledger.Reward, error) {
	var r ledger.Reward
	found, err := s.getItem(ctx, partnerPK(partner), rewardSK(id), &r)
	if err != nil {
		return r, err
	}
	if !found {
		return r, fmt.Errorf("%q: %w", id, ErrRewardNotFound)
	}
	return r, nil
}

// Redemption returns one redemption of a member.
func (s *Store) Redemption(ctx context.Context, partner, member, rid string) (ledger.Redemption, error) {
	var r ledger.Redemption
	found, err := s.getItem(ctx, memberPK(partner, member), redemptionSK(rid), &r)
	if err != nil {
		return r, err
	}
	if !found {
		return r, fmt.Errorf("%s: %w", rid, ErrRedemptionNotFound)
	}
	return r, nil
}

// Capture settles an open hold: the held points are spent.
func (s *Store) Capture(ctx context.Context, partner, member, rid string) (ledger.Redemption, ledger.Member, error) {
	return s.settle(ctx, partner, member, rid, true)
}

// Cancel releases an open hold (also after its expiry): the points go back to
// the lots they came from (repaying debt first), a reward's stock goes back up.
func (s *Store) Cancel(ctx context.Context, partner, member, rid string) (ledger.Redemption, ledger.Member, error) {
	return s.settle(ctx, partner, member, rid, false)
}

// settle captures or cancels an open hold (ledger.Capture / ledger.Cancel
// decide); a cancelled reward redemption gives its unit of stock back.
func (s *Store) settle(ctx context.Context, partner, member, rid string, capture bool) (ledger.Redemption, ledger.Member, error) {
	var red ledger.Redemption
	m, err := s.UpdateLedger(ctx, partner, member, func(tx *LedgerTx) error {
		r, err := s.Redemption(ctx, partner, tx.Member.ID, rid) // an absorbed id: its survivor's
		if err != nil {
			return err
		}
		var e ledger.Entry
		if capture {
			e, err = ledger.Capture(&tx.Member, &r, tx.Now)
		} else {
			var lots map[string]*ledger.Entry
			if lots, err = tx.lotsByKey(r.Lots); err == nil {
				e, err = ledger.Cancel(&tx.Member, &r, lots, tx.Now)
				for _, l := range lots {
					tx.Changed(l)
				}
			}
		}
		if err != nil {
			return err
		}
		tx.booked(e)
		if !capture {
			if err := tx.stockBack(r); err != nil {
				return err
			}
		}
		red = r
		return tx.settled(&red)
	})
	return red, m, err
}
