package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

func marshalProgram(p *program.Program) (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("marshal program: %w", err)
	}
	return string(b), nil
}

// Outcome of applying a payment event.
type Outcome struct {
	// Duplicate: the event was applied before; nothing changed now.
	Duplicate bool
	// Enrolled: the member was created by this payment (auto-enroll).
	Enrolled bool
	Member   ledger.Member
	Entry    ledger.Entry
}

// Apply applies a payment event: an accrual for payment.succeeded, a reversal
// for payment.refunded.
func (s *Store) Apply(ctx context.Context, pay payment.Payment) (Outcome, error) {
	return s.ApplyHinted(ctx, pay, nil)
}

// ApplyHinted is Apply with the members of a batch read ahead (see Prefetch).
func (s *Store) ApplyHinted(ctx context.Context, pay payment.Payment, h *Hints) (Outcome, error) {
	if pay.Type == payment.TypeRefunded {
		return s.Refund(ctx, pay)
	}
	return s.accrue(ctx, pay, h)
}

// Accrue credits the points of a successful payment. It is one TransactWriteItems
// of the member item (conditional on its version) and the payment's entry
// (conditional on its absence: the deduplication), plus one counter item per
// program-wide budget that applies (monthly program budget, campaign budgets).
// A concurrent change of the member re-reads and re-evaluates; a delivery of an
// already applied payment is a no-op.
func (s *Store) Accrue(ctx context.Context, pay payment.Payment) (Outcome, error) {
	return s.accrue(ctx, pay, nil)
}

func (s *Store) accrue(ctx context.Context, pay payment.Payment, h *Hints) (Outcome, error) {
	prog, err := s.Program(ctx, pay.PartnerID)
	if err != nil {
		return Outcome{}, err
	}
	pk := memberPK(pay.PartnerID, pay.MemberID)
	for attempt := 0; ; attempt++ {
		out, err := s.accrueOnce(ctx, prog, pay, h)
		switch {
		case err == nil && !out.Duplicate:
			h.set(pk, &out.Member)
		case err == nil:
			h.forget(pk)
		}
		if !errors.Is(err, errConflict) {
			return out, err
		}
		h.forget(pk)
		if err := s.backoff(ctx, attempt); err != nil {
			return Outcome{}, fmt.Errorf("accrue %s: %w", pay.PaymentID, err)
		}
	}
}

func (s *Store) accrueOnce(ctx context.Context, prog *program.Program, pay payment.Payment, h *Hints) (Outcome, error) {
	now := s.now()
	m, err := s.hintedMember(ctx, pay.PartnerID, pay.MemberID, h)
	enrolled := false
	switch {
	case errors.Is(err, ErrMemberNotFound) && prog.AutoEnroll:
		m, enrolled = ledger.NewMember(pay.PartnerID, pay.MemberID, nil, now), true
	case err != nil:
		return Outcome{}, err
	}
	if m.Status != ledger.StatusActive {
		return Outcome{}, fmt.Errorf("%s/%s is %s: %w", m.PartnerID, m.ID, m.Status, ErrMemberInactive)
	}
	budgets, err := s.budgets(ctx, prog, pay, now)
	if err != nil {
		return Outcome{}, err
	}
	res := rules.Evaluate(prog, m.Rules, budgets, pay, now)
	prevVersion := m.Version
	entry := ledger.Accrue(&m, prog, pay, res, now)
	lowerDue(&m, prog, &entry)
	m.Version++

	items := make([]types.TransactWriteItem, 0, 2+len(res.CampaignSpend))
	mput, err := s.putMember(&m, prevVersion, enrolled)
	if err != nil {
		return Outcome{}, err
	}
	eput, err := s.putNewEntry(&entry, paymentSK(pay.PaymentID, pay.Type))
	if err != nil {
		return Outcome{}, err
	}
	items = append(items, mput, eput)
	if res.Held {
		rv := ReviewItem{MemberID: m.ID, PaymentID: pay.PaymentID, EventID: pay.EventID, Points: entry.Points,
			Reasons: res.HoldReasons, HeldAt: now.UTC(), AmountMinor: pay.AmountMinor, Currency: pay.Currency}
		it, err := item(rv, reviewPK(pay.PartnerID), reviewSK(now, m.ID, pay.PaymentID))
		if err != nil {
			return Outcome{}, err
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: it}})
	}
	if res.ProgramSpend > 0 {
		items = append(items, s.spend(partnerPK(pay.PartnerID), budgetSK(budgets.ProgramMonth), res.ProgramSpend, prog.Caps.ProgramMonthly))
	}
	for _, c := range prog.Campaigns {
		if n := res.CampaignSpend[c.ID]; n > 0 && c.Budget > 0 {
			items = append(items, s.spend(partnerPK(pay.PartnerID), campaignSK(c.ID), n, c.Budget))
		}
	}
	roles := map[int]txRole{1: roleDedup}
	if enrolled {
		// A new member: its id must never have been erased (an erased id
		// never comes back to life by itself).
		roles[len(items)] = roleErased
		items = append(items, s.notErased(pay.PartnerID, pay.MemberID))
	}
	items, roles, claim, resp, err := s.withIdem(ctx, items, roles, Written{Member: m, Entry: &entry})
	if err != nil {
		return Outcome{}, err
	}
	if err := s.transact(ctx, items, roles); err != nil {
		if errors.Is(err, errDuplicate) {
			return Outcome{Duplicate: true}, nil
		}
		return Outcome{}, err
	}
	stored(claim, resp)
	return Outcome{Member: m, Entry: entry, Enrolled: enrolled}, nil
}

// hintedMember returns the member from the hints when they know it (or know
// it is absent), and reads it otherwise.
func (s *Store) hintedMember(ctx context.Context, partner, member string, h *Hints) (ledger.Member, error) {
	if hm, known := h.get(memberPK(partner, member)); known {
		if hm == nil {
			return ledger.Member{}, fmt.Errorf("%s/%s: %w", partner, member, ErrMemberNotFound)
		}
		return *hm, nil // a copy: the rules engine never mutates the state it is given
	}
	return s.Member(ctx, partner, member)
}

// budgets reads the program-wide counters the payment may draw on. Nothing is
// read when the program has no monthly budget and no budgeted campaign is open.
func (s *Store) budgets(ctx context.Context, prog *program.Program, pay payment.Payment, now time.Time) (rules.Budgets, error) {
	_, month := rules.PeriodKeys(prog, now)
	b := rules.Budgets{ProgramMonth: month}
	var c counter
	if prog.Caps.ProgramMonthly > 0 {
		if _, err := s.getItem(ctx, partnerPK(pay.PartnerID), budgetSK(b.ProgramMonth), &c); err != nil {
			return b, err
		}
		b.ProgramSpent = c.Spent
	}
	for _, camp := range prog.Campaigns {
		if camp.Budget <= 0 || pay.Time.Before(camp.StartsAt) || !pay.Time.Before(camp.EndsAt) {
			continue
		}
		c = counter{}
		if _, err := s.getItem(ctx, partnerPK(pay.PartnerID), campaignSK(camp.ID), &c); err != nil {
			return b, err
		}
		if b.CampaignSpent == nil {
			b.CampaignSpent = map[string]int64{}
		}
		b.CampaignSpent[camp.ID] = c.Spent
	}
	return b, nil
}

type counter struct {
	Spent int64 `dynamodbav:"spent"`
}

// spend adds n to a budget counter, on condition that it stays within limit.
// It does not need the counter's exact previous value, so concurrent accruals
// only conflict when the budget is really about to run out.
func (s *Store) spend(pk, sk string, n, limit int64) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:           aws.String(s.table),
		Key:                 key(pk, sk),
		UpdateExpression:    aws.String("ADD spent :n"),
		ConditionExpression: aws.String("attribute_not_exists(spent) OR spent <= :max"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n":   num(n),
			":max": num(limit - n),
		},
	}}
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// putMember writes the member on condition that nobody changed it since it was
// read at prevVersion (or that it still does not exist, for a new member).
func (s *Store) putMember(m *ledger.Member, prevVersion int64, isNew bool) (types.TransactWriteItem, error) {
	it, err := memberItem(m)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	p := &types.Put{TableName: aws.String(s.table), Item: it}
	if isNew {
		p.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		p.ConditionExpression = aws.String("ver = :v")
		p.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(prevVersion)}
	}
	return types.TransactWriteItem{Put: p}, nil
}

// putNewEntry writes a new ledger entry on condition that its key is new: for a
// payment's entry this is the deduplication.
func (s *Store) putNewEntry(e *ledger.Entry, sk string) (types.TransactWriteItem, error) {
	it, err := entryItem(e, sk)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(s.table), Item: it,
		ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureNone,
	}}, nil
}

// putEntryUpdate rewrites an existing entry (its lot or refund totals changed) on
// condition that its version is still e.Version−1.
func (s *Store) putEntryUpdate(e *ledger.Entry, sk string) (types.TransactWriteItem, error) {
	it, err := entryItem(e, sk)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(s.table), Item: it,
		ConditionExpression:       aws.String("ver = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(e.Version - 1)},
	}}, nil
}

var errDuplicate = errors.New("entry exists")

// txRole says what a failed condition on one item of a transaction means.
type txRole int

const (
	// roleFenced (the default): a version or existence check; its failure is
	// a concurrent change (errConflict): re-read and retry.
	roleFenced txRole = iota
	// roleDedup: the deduplication record of an event; its failure means the
	// event was applied before (errDuplicate).
	roleDedup
	// roleErased: the check that a new member's id was never erased; its
	// failure is ErrMemberErased.
	roleErased
	// roleIdem: the Idempotency-Key claim this request holds; its failure
	// means the claim was taken over (errIdemLost).
	roleIdem
)

// transact runs a write transaction. roles names the items whose failed
// condition means something other than a concurrent change (by index). A
// failed condition or a transaction conflict otherwise is errConflict.
// Throttling is retried by the SDK's retryer.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem, roles map[int]txRole) error {
	in := &dynamodb.TransactWriteItemsInput{TransactItems: items}
	if s.capacity != nil {
		in.ReturnConsumedCapacity = types.ReturnConsumedCapacityIndexes
	}
	out, err := s.db.TransactWriteItems(ctx, in)
	if err == nil {
		if s.capacity != nil {
			s.capacity(out.ConsumedCapacity)
		}
		return nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return cancelled(tce, roles, err)
	}
	var tip *types.TransactionInProgressException
	if errors.As(err, &tip) {
		return errConflict
	}
	return fmt.Errorf("transact write: %w", err)
}

// cancelled turns a cancelled transaction's reasons into the error of the
// most telling failed item: a duplicate first (nothing else matters then),
// then an erased id, a lost claim, and any other failed condition or
// conflict as errConflict.
func cancelled(tce *types.TransactionCanceledException, roles map[int]txRole, err error) error {
	var dup, erased, lost, conflict bool
	for i, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed":
			switch roles[i] {
			case roleDedup:
				dup = true
			case roleErased:
				erased = true
			case roleIdem:
				lost = true
			default:
				conflict = true
			}
		case "TransactionConflict":
			conflict = true
		}
	}
	switch {
	case dup:
		return errDuplicate
	case erased:
		return ErrMemberErased
	case lost:
		return errIdemLost
	case conflict:
		return errConflict
	}
	return fmt.Errorf("transaction cancelled: %w", err)
}
