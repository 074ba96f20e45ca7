package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// Errors of member operations.
var (
	ErrMemberExists    = errors.New("member already enrolled")
	ErrActivityDone    = errors.New("activity already rewarded")
	ErrUnknownActivity = errors.New("activity not in the program")
)

// Enroll creates a member.
func (s *Store) Enroll(ctx context.Context, partner, member string, tags []string) (ledger.Member, error) {
	if _, err := s.Program(ctx, partner); err != nil {
		return ledger.Member{}, err
	}
	m := ledger.NewMember(partner, member, tags, s.now())
	put, err := s.putMember(&m, 0, true)
	if err != nil {
		return m, err
	}
	// The member put (only if absent) and the check that the id was never
	// erased, in one transaction.
	items, roles, claim, resp, err := s.withIdem(ctx, []types.TransactWriteItem{put, s.notErased(partner, member)},
		map[int]txRole{0: roleDedup, 1: roleErased}, Written{Member: m})
	if err != nil {
		return m, err
	}
	err = s.transact(ctx, items, roles)
	switch {
	case errors.Is(err, errDuplicate):
		return m, fmt.Errorf("%s/%s: %w", partner, member, ErrMemberExists)
	case errors.Is(err, ErrMemberErased):
		return m, fmt.Errorf("%s/%s: %w", partner, member, ErrMemberErased)
	case err != nil:
		return m, fmt.Errorf("enroll %s/%s: %w", partner, member, err)
	}
	stored(claim, resp)
	return m, nil
}

// Page is a page of a list and the cursor of the next one ("" on the last).
type Page[T any] struct {
	Items []T
	Next  string
}

// Ledger lists a member's entries newest first.
func (s *Store) Ledger(ctx context.Context, partner, member string, limit int32, cursor string) (Page[ledger.Entry], error) {
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.table), IndexName: aws.String(IndexLedger), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: memberPK(partner, member)}},
		ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(limit),
	}
	var page Page[ledger.Entry]
	if cursor != "" {
		k, err := decodeCursor(cursor, memberPK(partner, member), curPK, curSK, curLSK)
		if err != nil {
			return page, err
		}
		in.ExclusiveStartKey = k
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return page, fmt.Errorf("query ledger of %s/%s: %w", partner, member, err)
	}
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &page.Items); err != nil {
		return page, fmt.Errorf("unmarshal ledger: %w", err)
	}
	page.Next = encodeCursor(out.LastEvaluatedKey, curPK, curSK, curLSK)
	return page, nil
}

// creditLot books points earned outside payments (activities, admin credits)
// as an available lot with the program's expiry.
func creditLot(tx *LedgerTx, p *program.Program, kind ledger.Kind, points int64, lines []ledgerLine) *ledger.Entry {
	d, lot := tx.Member.Credit(points, ledger.LotAvailable)
	if lot.State != ledger.LotNone {
		if exp, ok := p.LotExpiry(tx.Now); ok {
			exp = exp.UTC()
			lot.ExpiresAt = &exp
		}
	}
	e := &ledger.Entry{Kind: kind, Points: points, Delta: d, Lot: lot, Breakdown: lines}
	tx.Member.LastActivity = tx.Now.UTC()
	tx.Book(e)
	return e
}

// Activity credits the fixed points of a named non-payment action.
func (s *Store) Activity(ctx context.Context, partner, member, name string) (ledger.Member, ledger.Entry, error) {
	p, err := s.Program(ctx, partner)
	if err != nil {
		return ledger.Member{}, ledger.Entry{}, err
	}
	var act *program.Activity
	for i := range p.Activities {
		if p.Activities[i].Name == name {
			act = &p.Activities[i]
		}
	}
	if act == nil {
		return ledger.Member{}, ledger.Entry{}, fmt.Errorf("%q: %w", name, ErrUnknownActivity)
	}
	var booked ledger.Entry
	m, err := s.UpdateLedger(ctx, partner, member, func(tx *LedgerTx) error {
		if err := activeMember(&tx.Member); err != nil {
			return err
		}
		if act.Once && tx.Member.Activities[name] > 0 {
			return fmt.Errorf("%q: %w", name, ErrActivityDone)
		}
		if tx.Member.Activities == nil {
			tx.Member.Activities = map[string]int64{}
		}
		tx.Member.Activities[name]++
		e := creditLot(tx, p, ledger.KindBonus, act.Points, []ledgerLine{{Kind: rules.KindActivity, Rule: name, Points: act.Points}})
		booked = *e
		return nil
	})
	return m, booked, err
}

func activeMember(m *ledger.Member) error {
	if m.Status != ledger.StatusActive {
		return fmt.Errorf("%s/%s is %s: %w", m.PartnerID, m.ID, m.Status, ErrMemberInactive)
	}
	return nil
}

// Adjustment is a manual credit (Points > 0) or debit (< 0) by an admin.
type Adjustment struct {
	Points int64
	Reason string
	Actor  string // the API key id that made it
}

// AuditRecord is one admin action, kept per partner.
type AuditRecord struct {
	At       time.Time `dynamodbav:"at" json:"at"`
	Actor    string    `dynamodbav:"actor" json:"actor"`
	Action   string    `dynamodbav:"action" json:"action"`
	MemberID string    `dynamodbav:"member,omitempty" json:"member_id,omitempty"`
	Points   int64     `dynamodbav:"pts,omitempty" json:"points,omitempty"`
	Reason   string    `dynamodbav:"reason,omitempty" json:"reason,omitempty"`
	Entry    int64     `dynamodbav:"seq,omitempty" json:"entry_seq,omitempty"`
}

// Adjust books a manual adjustment with its audit record, in one transaction.
// A debit takes available points earliest-expiry first and never takes the
// balance below zero.
func (s *Store) Adjust(ctx context.Context, partner, member string, a Adjustment) (ledger.Member, ledger.Entry, error) {
	p, err := s.Program(ctx, partner)
	if err != nil {
		return ledger.Member{}, ledger.Entry{}, err
	}
	var booked ledger.Entry
	m, err := s.UpdateLedger(ctx, partner, member, func(tx *LedgerTx) error {
		line := []ledgerLine{{Kind: rules.KindAdjust, Rule: "manual", Points: a.Points, Detail: a.Reason}}
		var e *ledger.Entry
		if a.Points > 0 {
			e = creditLot(tx, p, ledger.KindAdjust, a.Points, line)
		} else {
			lots, err := tx.AvailableLots()
			if err != nil {
				return err
			}
			takes, d, err := ledger.Spend(&tx.Member, lots, -a.Points, tx.LotKey)
			if err != nil {
				return err
			}
			markTaken(tx, lots, takes)
			d.Lifetime = 0
			e = &ledger.Entry{Kind: ledger.KindAdjust, Points: a.Points, Delta: d, Breakdown: line}
			tx.Book(e)
		}
		e.Reason, e.Actor = a.Reason, a.Actor
		booked = *e
		rec := AuditRecord{At: tx.Now.UTC(), Actor: a.Actor, Action: "adjust", MemberID: member, Points: a.Points, Reason: a.Reason, Entry: e.Seq}
		return tx.Put(rec, auditPK(partner), auditSK(tx.Now, member, e.Seq))
	})
	return m, booked, err
}

// markTaken marks as changed the lots that takes drew on.
func markTaken(tx *LedgerTx, lots []*ledger.Entry, takes []ledger.LotTake) {
	taken := map[string]bool{}
	for _, t := range takes {
		taken[t.Lot] = true
	}
	for _, l := range lots {
		if taken[tx.LotKey(l)] {
			tx.Changed(l)
		}
	}
}

type ledgerLine = rules.Line

// Lots returns the member's lots with points left, in any state, in key
// order (read consistently). Which of them expire when is the domain's
// decision (jobs.ExpiringBy).
func (s *Store) Lots(ctx context.Context, partner, member string) ([]*ledger.Entry, error) {
	lots, _, err := s.lots(ctx, partner, member, "", "")
	return lots, err
}
