package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// Errors of redemptions and rewards.
var (
	ErrRewardNotFound     = errors.New("reward not found")
	ErrOutOfStock         = errors.New("reward out of stock")
	ErrTierTooLow         = errors.New("member's tier is below the reward's")
	ErrNotHeld            = errors.New("redemption is not an open hold")
	ErrHoldExpired        = errors.New("hold has expired")
	ErrTooManyRewards     = errors.New("too many rewards in one catalog")
	ErrRedemptionNotFound = errors.New("redemption not found")
)

// Reward is an item of a partner's catalog.
type Reward struct {
	ID   string `dynamodbav:"id" json:"id"`
	Name string `dynamodbav:"name" json:"name"`
	Cost int64  `dynamodbav:"cost" json:"cost"`
	// Stock left; nil = unlimited. Redemptions never take it below zero.
	Stock *int64 `dynamodbav:"stock,omitempty" json:"stock,omitempty"`
	// MinTier: members below this tier cannot redeem it ("" = everyone).
	MinTier string `dynamodbav:"min_tier,omitempty" json:"min_tier,omitempty"`
}

// MaxRewards in one catalog (the catalog is replaced in one transaction).
const MaxRewards = 90

// Rewards returns the catalog, ordered by id.
func (s *Store) Rewards(ctx context.Context, partner string) ([]Reward, error) {
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
	rs := []Reward{}
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &rs); err != nil {
		return nil, fmt.Errorf("unmarshal rewards: %w", err)
	}
	return rs, nil
}

// PutRewards replaces the catalog in one transaction: rewards not listed are
// removed; a listed reward's stock is set to the given value.
func (s *Store) PutRewards(ctx context.Context, partner string, rewards []Reward) ([]Reward, error) {
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
	var items []types.TransactWriteItem
	for _, r := range rewards {
		keep[r.ID] = true
		it, err := item(r, partnerPK(partner), rewardSK(r.ID))
		if err != nil {
			return nil, err
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: it}})
	}
	for _, r := range old {
		if !keep[r.ID] && len(items) < 100 {
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.table), Key: key(partnerPK(partner), rewardSK(r.ID))}})
		}
	}
	if len(items) > 0 {
		if _, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
			return nil, fmt.Errorf("replace rewards of %s: %w", partner, err)
		}
	}
	return s.Rewards(ctx, partner)
}

// RedeemRequest asks for a redemption: Points, or RewardID (its cost), with As
// "bill_credit" for points paid toward the member's next bill.
type RedeemRequest struct {
	Points   int64
	RewardID string
	As       string
	Capture  bool          // settle at once instead of holding
	HoldFor  time.Duration // how long a hold stays open (default 30 minutes)
}

// DefaultHold is how long a redemption hold stays open unless asked otherwise.
const DefaultHold = 30 * time.Minute

func newID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Redeem holds (or, with Capture, redeems at once) points of a member, taking
// available lots earliest-expiry first. Available never goes below zero and a
// limited reward's stock never below zero, under any concurrency: both are
// checked inside the same transaction that takes them.
func (s *Store) Redeem(ctx context.Context, partner, member string, req RedeemRequest) (ledger.Redemption, ledger.Member, error) {
	p, err := s.Program(ctx, partner)
	if err != nil {
		return ledger.Redemption{}, ledger.Member{}, err
	}
	hold := req.HoldFor
	if hold <= 0 {
		hold = DefaultHold
	}
	rid := newID("rdm_")
	var red ledger.Redemption
	m, err := s.UpdateLedger(ctx, partner, member, func(tx *LedgerTx) error {
		if err := activeMember(&tx.Member); err != nil {
			return err
		}
		points := req.Points
		if req.RewardID != "" {
			r, err := s.reward(ctx, partner, req.RewardID)
			if err != nil {
				return err
			}
			if r.MinTier != "" && p.TierIndex(tx.Member.Rules.Tier) < p.TierIndex(r.MinTier) {
				return fmt.Errorf("%w: %s needs %s", ErrTierTooLow, r.ID, r.MinTier)
			}
			if r.Stock != nil && *r.Stock < 1 {
				return fmt.Errorf("%w: %s", ErrOutOfStock, r.ID)
			}
			points = r.Cost
			tx.Raw(stockUpdate(s.table, partner, r, -1))
		}
		lots, err := tx.AvailableLots()
		if err != nil {
			return err
		}
		takes, d, err := ledger.Spend(&tx.Member, lots, points, tx.LotKey)
		if err != nil {
			return err
		}
		markTaken(tx, lots, takes)
		now := tx.Now.UTC()
		tx.Member.LastActivity = now // a redemption is member activity (inactivity expiry counts from it)
		red = ledger.Redemption{
			ID: rid, PartnerID: partner, MemberID: member, Points: points, RewardID: req.RewardID, As: req.As,
			Lots: takes, CreatedAt: now, Status: ledger.RedemptionHeld,
		}
		if req.As == "bill_credit" {
			red.Value = pointValue(p, points)
		}
		step := "hold"
		if req.Capture {
			red.Status, red.SettledAt, step = ledger.RedemptionCaptured, &now, "capture"
		} else {
			d.Held += points
			exp := now.Add(hold)
			red.ExpiresAt = &exp
			tx.Member.LowerDue(exp)
		}
		tx.Book(&ledger.Entry{Kind: ledger.KindRedeem, Points: -points, Delta: d, RedemptionID: rid,
			Breakdown: []ledgerLine{{Kind: rules.KindRedeem, Rule: step, Points: -points, Detail: redemptionDetail(req)}}})
		return tx.Put(red, memberPK(partner, member), redemptionSK(rid))
	})
	return red, m, err
}

func redemptionDetail(req RedeemRequest) string {
	switch {
	case req.RewardID != "":
		return "reward " + req.RewardID
	case req.As != "":
		return strings.ReplaceAll(req.As, "_", " ")
	}
	return "points"
}

// stockUpdate changes a reward's redeemed count (and its stock when limited) on
// condition that the reward still exists and its stock stays >= 0.
func stockUpdate(table, partner string, r Reward, delta int64) types.TransactWriteItem {
	u := &types.Update{
		TableName: aws.String(table), Key: key(partnerPK(partner), rewardSK(r.ID)),
		UpdateExpression:          aws.String("ADD redeemed :d"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": num(-delta)},
	}
	if r.Stock != nil {
		u.UpdateExpression = aws.String("ADD redeemed :d, stock :s")
		u.ConditionExpression = aws.String("attribute_exists(pk) AND stock >= :min")
		u.ExpressionAttributeValues[":s"] = num(delta)
		u.ExpressionAttributeValues[":min"] = num(max(-delta, 0))
	}
	return types.TransactWriteItem{Update: u}
}

func (s *Store) reward(ctx context.Context, partner, id string) (Reward, error) {
	var r Reward
	found, err := s.getItem(ctx, partnerPK(partner), rewardSK(id), &r)
	if err != nil {
		return r, err
	}
	if !found {
		return r, fmt.Errorf("%q: %w", id, ErrRewardNotFound)
	}
	return r, nil
}

// pointValue is the money value of points: points × the program's point value.
func pointValue(p *program.Program, points int64) *ledger.Money {
	v := p.PointValue.Minor.Rat()
	v.Mul(v, new(big.Rat).SetInt64(points))
	return &ledger.Money{AmountMinor: program.RatString(v), Currency: p.PointValue.Currency}
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

func (s *Store) settle(ctx context.Context, partner, member, rid string, capture bool) (ledger.Redemption, ledger.Member, error) {
	var red ledger.Redemption
	m, err := s.UpdateLedger(ctx, partner, member, func(tx *LedgerTx) error {
		r, err := s.Redemption(ctx, partner, member, rid)
		if err != nil {
			return err
		}
		if r.Status != ledger.RedemptionHeld {
			return fmt.Errorf("%s is %s: %w", rid, r.Status, ErrNotHeld)
		}
		now := tx.Now.UTC()
		prev := r.Version
		r.Version++
		r.SettledAt = &now
		d := ledger.Balances{Held: -r.Points}
		step := "capture"
		if capture {
			if r.ExpiresAt != nil && !now.Before(*r.ExpiresAt) {
				return fmt.Errorf("%s expired at %s: %w", rid, r.ExpiresAt.Format(time.RFC3339), ErrHoldExpired)
			}
			r.Status = ledger.RedemptionCaptured
		} else {
			step = "cancel"
			r.Status = ledger.RedemptionCancelled
			back, err := restoreLots(tx, r.Lots)
			if err != nil {
				return err
			}
			d.Available, d.Debt = back.Available, back.Debt
			if r.RewardID != "" {
				if rw, err := s.reward(ctx, partner, r.RewardID); err == nil {
					tx.Raw(stockUpdate(s.table, partner, rw, +1))
				} else if !errors.Is(err, ErrRewardNotFound) {
					return err
				}
			}
		}
		points := int64(0)
		if !capture {
			points = r.Points
		}
		tx.Book(&ledger.Entry{Kind: ledger.KindRedeem, Points: points, Delta: d, RedemptionID: rid,
			Breakdown: []ledgerLine{{Kind: rules.KindRedeem, Rule: step, Points: points}}})
		red = r
		return tx.Replace(r, memberPK(partner, member), redemptionSK(rid), prev)
	})
	return red, m, err
}

// restoreLots gives a cancelled hold's points back to their lots; debt, if any
// arose meanwhile, is repaid from them first (so no available lot sits beside
// debt).
func restoreLots(tx *LedgerTx, takes []ledger.LotTake) (ledger.Balances, error) {
	var d ledger.Balances
	var restored []*ledger.Entry
	for _, t := range takes {
		l, err := tx.Lot(t.Lot)
		if err != nil {
			return d, err
		}
		d.Available += l.Restore(t.Points).Available
		tx.Changed(l)
		restored = append(restored, l)
	}
	if owed := tx.Member.Debt; owed > 0 {
		repay := min(owed, d.Available)
		if _, dd, err := ledger.Spend(&ledger.Member{Balances: ledger.Balances{Available: repay}}, restored, repay, tx.LotKey); err == nil {
			_ = dd // the lots shrink by repay; available is unchanged by a repayment
			d.Debt = -repay
		}
	}
	return d, nil
}
