package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
)

// The due index (IndexDue) lists the members a scheduled job has work for
// some day, by when (ledger.Member.Due; see shared/jobs, due.go, for the
// rules). Every write of a lot, a hold or qualifying points lowers the
// member's Due in the same transaction; the member jobs set it exactly.

// lowerDue moves m's due time earlier for what entry e (new or changed) asks
// of the jobs: its lot's release, expiry or warning, and the instant its
// qualifying points leave the tier window.
func lowerDue(m *ledger.Member, p *program.Program, e *ledger.Entry) {
	m.LowerDue(jobs.LotDue(m, e, p))
	m.LowerDue(jobs.TierDue(m, e, p))
}

// scheduleDue sets the member's Due for the transaction: the exact value the
// member jobs gave (SetDue), or Due lowered for every entry booked or lot
// changed.
func (tx *LedgerTx) scheduleDue() error {
	if tx.due != nil {
		tx.Member.Due = 0
		tx.Member.LowerDue(*tx.due)
		return nil
	}
	if len(tx.entries) == 0 && len(tx.changed) == 0 {
		return nil
	}
	p, err := tx.s.Program(tx.ctx, tx.Member.PartnerID)
	if err != nil {
		return err
	}
	for _, e := range tx.entries {
		lowerDue(&tx.Member, p, e)
	}
	for l := range tx.changed {
		lowerDue(&tx.Member, p, l)
	}
	return nil
}

// SetDue sets the member's next due time exactly (zero: nothing is due; the
// member leaves the due index). The member jobs call it once they brought the
// member up to date; it is written even when nothing else changes.
func (tx *LedgerTx) SetDue(t time.Time) { tx.due = &t }

// Lots returns all the member's lots with points left, in any state (loaded
// on first use, read consistently), earliest expiry first. Together with
// AvailableLots it shares one set of loaded lots: a lot is one *ledger.Entry
// in a transaction, whichever call returned it.
func (tx *LedgerTx) Lots() ([]*ledger.Entry, error) {
	lots, keys, err := tx.s.lots(tx.ctx, tx.Member.PartnerID, tx.Member.ID, "", "")
	if err != nil {
		return nil, err
	}
	loaded := make(map[string]*ledger.Entry, len(tx.lotKeys))
	for l, k := range tx.lotKeys {
		loaded[k] = l
	}
	out := make([]*ledger.Entry, 0, len(lots))
	for _, l := range lots {
		k := keys[l]
		if known := loaded[k]; known != nil {
			l = known
		} else {
			tx.lotKeys[l] = k
		}
		out = append(out, l)
	}
	return out, nil
}

// Holds returns the member's open redemption holds, read consistently.
func (tx *LedgerTx) Holds() ([]ledger.Redemption, error) {
	all, err := tx.s.memberRedemptions(tx.ctx, tx.Member.PartnerID, tx.Member.ID)
	if err != nil {
		return nil, err
	}
	var held []ledger.Redemption
	for _, r := range all {
		if r.Status == ledger.RedemptionHeld {
			held = append(held, r)
		}
	}
	return held, nil
}

// EntriesSince returns the member's ledger entries made at or after since,
// newest first (read consistently through the ledger index, stopping at the
// first page that reaches older entries).
func (tx *LedgerTx) EntriesSince(since time.Time) ([]ledger.Entry, error) {
	// Entries are ordered by sequence; their times follow it up to the clock
	// skew of concurrent writers, so reading goes a day further back.
	stop := since.Add(-24 * time.Hour)
	p := dynamodb.NewQueryPaginator(tx.s.db, &dynamodb.QueryInput{
		TableName: aws.String(tx.s.table), IndexName: aws.String(IndexLedger), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(lsk, :l)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: memberPK(tx.Member.PartnerID, tx.Member.ID)},
			":l":  &types.AttributeValueMemberS{Value: pfxLedger},
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(100),
	})
	var out []ledger.Entry
	for p.HasMorePages() {
		page, err := p.NextPage(tx.ctx)
		if err != nil {
			return nil, fmt.Errorf("query ledger of %s/%s: %w", tx.Member.PartnerID, tx.Member.ID, err)
		}
		var es []ledger.Entry
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &es); err != nil {
			return nil, fmt.Errorf("unmarshal entries: %w", err)
		}
		older := false
		for _, e := range es {
			if !e.At.Before(since) {
				out = append(out, e)
			}
			older = older || e.At.Before(stop)
		}
		if older {
			break
		}
	}
	return out, nil
}

// ReleaseHold writes back a hold the stale-holds job released (r carries its
// new status, Version still the one read) and gives a reward's stock back.
func (tx *LedgerTx) ReleaseHold(r ledger.Redemption) error {
	prev := r.Version
	r.Version++
	if r.RewardID != "" {
		rw, err := tx.s.reward(tx.ctx, r.PartnerID, r.RewardID)
		switch {
		case err == nil:
			tx.Raw(stockUpdate(tx.s.table, r.PartnerID, rw, +1))
		case !errors.Is(err, ErrRewardNotFound):
			return err
		}
	}
	return tx.Replace(r, memberPK(r.PartnerID, r.MemberID), redemptionSK(r.ID), prev)
}

// DueMember names a member the due index lists.
type DueMember struct {
	PartnerID, MemberID string
	Due                 time.Time
}

// ForEachDue calls fn for every member of due-index shard (0..DueShards-1)
// whose due time is at or before now, earliest first, reading the index page
// by page (eventually consistent: a member just written may be seen with its
// previous due time; the jobs read the member itself consistently). fn
// returning an error stops the walk with that error.
func (s *Store) ForEachDue(ctx context.Context, shard int, now time.Time, fn func(DueMember) error) error {
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: aws.String(s.table), IndexName: aws.String(IndexDue),
		KeyConditionExpression:   aws.String("#s = :s AND #d <= :now"),
		ExpressionAttributeNames: map[string]string{"#s": AttrDueShard, "#d": AttrDue},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":s":   &types.AttributeValueMemberS{Value: dueShardKey(shard)},
			":now": num(now.Unix()),
		},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query due shard %d: %w", shard, err)
		}
		for _, it := range page.Items {
			dm, ok := dueMember(it)
			if !ok {
				continue
			}
			if err := fn(dm); err != nil {
				return err
			}
		}
	}
	return nil
}

// dueMember reads a due-index item (a member item's keys and due second).
func dueMember(it map[string]types.AttributeValue) (DueMember, bool) {
	pk, _ := it[AttrPK].(*types.AttributeValueMemberS)
	due, _ := it[AttrDue].(*types.AttributeValueMemberN)
	if pk == nil || due == nil {
		return DueMember{}, false
	}
	partner, member, ok := parseMemberPK(pk.Value)
	if !ok {
		return DueMember{}, false
	}
	sec, err := strconv.ParseInt(due.Value, 10, 64)
	if err != nil {
		return DueMember{}, false
	}
	return DueMember{PartnerID: partner, MemberID: member, Due: time.Unix(sec, 0).UTC()}, true
}
