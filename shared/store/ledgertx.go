package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
)

// LedgerTx is one change of a member's points, committed as one
// TransactWriteItems (see tx.go): the member (conditional on its version),
// the new ledger entries, the lots it changed (each conditional on its
// version) and the other items the operation writes (a redemption, a stock
// counter, an audit record, a review item's removal). It loads what the
// operation needs (lots, holds, entries) consistently, at most once. A change
// of two members (a transfer) is two LedgerTx committed in one transaction
// (UpdateLedgers).
type LedgerTx struct {
	s      *Store
	ctx    context.Context
	Now    time.Time
	Member ledger.Member

	prevVersion int64
	lotKeys     map[*ledger.Entry]string
	lots        []*ledger.Entry // allLots, once loaded
	loaded      bool
	changed     map[*ledger.Entry]bool
	entries     []*ledger.Entry
	t           *txn
	// due: the member's exact next due time set by SetDue (the member jobs);
	// nil: build lowers Due for what the transaction wrote.
	due *time.Time
	// redemption: the redemption this transaction writes, if any (for the
	// response stored with it, see idempotency.go).
	redemption *ledger.Redemption
}

// ErrNotFound: the addressed item does not exist.
var ErrNotFound = errors.New("not found")

// ErrOtherMemberNotFound: the second member of a two-member change (a
// transfer's receiver) does not exist. It is also an ErrMemberNotFound.
var ErrOtherMemberNotFound = errors.New("the other member (a transfer's receiver) was not found")

// UpdateLedger runs fn on the member and commits what it booked in one
// transaction; on a concurrent change it runs fn again on fresh data. fn must
// be free of side effects other than on tx. A business error from fn is
// returned as is, with nothing written. An absorbed id is its survivor's
// ledger (see Member): tx.Member is the survivor.
func (s *Store) UpdateLedger(ctx context.Context, partner, member string, fn func(*LedgerTx) error) (ledger.Member, error) {
	var out ledger.Member
	err := s.retry(ctx, "update ledger of "+partner+"/"+member, func() error {
		tx, m, err := s.beginLedger(ctx, partner, member, s.now(), true)
		out = m
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			out = m
			return tx.refusal(err)
		}
		t := s.newTxn()
		wrote, err := tx.build(t)
		if err != nil {
			return err
		}
		if wrote {
			if err := t.commit(ctx, tx.written()); err != nil {
				return err
			}
		}
		out = tx.Member
		return nil
	})
	return out, err
}

// UpdateLedgers is UpdateLedger of two members of partner at once (a
// transfer): fn books on both, and what it booked commits in ONE
// transaction, each member conditional on the version read (one that fn
// left unchanged is checked all the same: fn's decision read it). The
// second member missing is ErrOtherMemberNotFound; two ids of one member
// (after following merges) are ledger.ErrSameMember. It returns both members
// as written (as read, on error).
func (s *Store) UpdateLedgers(ctx context.Context, partner, a, b string, fn func(ta, tb *LedgerTx) error) (ledger.Member, ledger.Member, error) {
	return s.updateLedgers(ctx, partner, a, b, true, fn)
}

// updateLedgers is UpdateLedgers; with followB false, b is read as it is
// (an absorbed member itself, not its survivor: a merge's absorbed member).
func (s *Store) updateLedgers(ctx context.Context, partner, a, b string, followB bool, fn func(ta, tb *LedgerTx) error) (ledger.Member, ledger.Member, error) {
	if a == b {
		return ledger.Member{}, ledger.Member{}, fmt.Errorf("update ledgers of %s/%s: %w", partner, a, ledger.ErrSameMember)
	}
	var outA, outB ledger.Member
	err := s.retry(ctx, "update ledgers of "+partner+"/"+a+" and "+b, func() error {
		now := s.now()
		ta, ma, err := s.beginLedger(ctx, partner, a, now, true)
		outA = ma
		if err != nil {
			return err
		}
		tb, mb, err := s.beginLedger(ctx, partner, b, now, followB)
		outB = mb
		if errors.Is(err, ErrMemberNotFound) {
			return fmt.Errorf("%w: %w", ErrOtherMemberNotFound, err)
		}
		if err != nil {
			return err
		}
		if ma.ID == mb.ID {
			return fmt.Errorf("update ledgers of %s/%s and %s: one member: %w", partner, a, b, ledger.ErrSameMember)
		}
		if err := fn(ta, tb); err != nil {
			// A refusal is final only if neither member changed since read.
			if rerr := ta.refusal(err); errors.Is(rerr, errConflict) {
				return rerr
			}
			return tb.refusal(err)
		}
		t := s.newTxn()
		wroteA, err := ta.build(t)
		if err != nil {
			return err
		}
		wroteB, err := tb.build(t)
		if err != nil {
			return err
		}
		if wroteA || wroteB {
			if !wroteA {
				ta.fence(t)
			}
			if !wroteB {
				tb.fence(t)
			}
			w, wb := ta.written(), tb.written()
			w.Other, w.OtherEntry = wb.Member, wb.Entry
			if err := t.commit(ctx, w); err != nil {
				return err
			}
		}
		outA, outB = ta.Member, tb.Member
		return nil
	})
	return outA, outB, err
}

// beginLedger reads member (following merges, with follow) and starts its
// transaction at now, with the releases of its pending points that are due
// booked first. It returns the member as read (also on a later error).
func (s *Store) beginLedger(ctx context.Context, partner, member string, now time.Time, follow bool) (*LedgerTx, ledger.Member, error) {
	read := s.rawMember
	if follow {
		read = s.Member
	}
	m, err := read(ctx, partner, member)
	if err != nil {
		return nil, m, err
	}
	tx := &LedgerTx{
		s: s, ctx: ctx, Now: now, Member: m, prevVersion: m.Version,
		lotKeys: map[*ledger.Entry]string{}, changed: map[*ledger.Entry]bool{}, t: s.newTxn(),
	}
	if err := tx.bookReleases(); err != nil {
		return nil, m, err
	}
	return tx, m, nil
}

// build adds to t what the transaction booked: the member (conditional on
// its version), the new entries, the changed lots and the other items. It
// adds nothing, and reports false, when nothing changed.
func (tx *LedgerTx) build(t *txn) (bool, error) {
	dueBefore := tx.Member.Due
	if err := tx.scheduleDue(); err != nil {
		return false, err
	}
	if len(tx.entries) == 0 && tx.t.empty() && len(tx.changed) == 0 && tx.Member.Due == dueBefore {
		return false, nil
	}
	if err := tx.markActive(); err != nil {
		return false, err
	}
	tx.Member.Version = tx.prevVersion + 1
	if err := t.putMember(&tx.Member, tx.prevVersion, false); err != nil {
		return false, err
	}
	for _, e := range tx.entries {
		if err := t.entry(e); err != nil {
			return false, err
		}
	}
	for l := range tx.changed {
		if err := t.lot(l, tx.lotKeys[l]); err != nil {
			return false, err
		}
	}
	for i, it := range tx.t.items {
		t.add(tx.t.roles[i], it)
	}
	return true, nil
}

// fence adds to t the check that the member is still at the version read.
func (tx *LedgerTx) fence(t *txn) {
	cond, vals := versionIs(tx.prevVersion)
	t.add(roleFenced, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String(tx.s.table), Key: key(memberPK(tx.Member.PartnerID, tx.Member.ID), skMember),
		ConditionExpression: cond, ExpressionAttributeValues: vals,
	}})
}

// written is what the transaction wrote, for the response stored with it.
func (tx *LedgerTx) written() Written {
	w := Written{Member: tx.Member, Redemption: tx.redemption}
	if n := len(tx.entries); n > 0 {
		e := *tx.entries[n-1]
		w.Entry = &e
	}
	return w
}

// items counts the items the transaction writes so far (its member, entries,
// changed lots and other items).
func (tx *LedgerTx) items() int { return 1 + len(tx.entries) + len(tx.changed) + len(tx.t.items) }

// bookReleases books, first in the transaction, the releases of the
// member's pending lots whose time has come (jobs.ReleasePending, the plan
// every read applies: see ledger.Member.ReleaseAt), and sets the member's
// next release time. Nothing is read when none is due.
func (tx *LedgerTx) bookReleases() error {
	if !tx.Member.ReleaseDue(tx.Now) {
		return nil
	}
	p, err := tx.s.Program(tx.ctx, tx.Member.PartnerID)
	if err != nil {
		return err
	}
	lots, err := tx.allLots()
	if err != nil {
		return err
	}
	pl := jobs.ReleasePending(&tx.Member, lots, p, tx.Now)
	pl.Apply(&tx.Member, tx.Book, tx.Changed)
	nextRelease(&tx.Member, pl, lots, tx.Now)
	return nil
}

// refusal returns fn's error, unless the member changed since it was read:
// the member and its lots are read one after the other, so a decision that
// refuses (not enough points, say) may have seen lots a concurrent write
// already changed beside a member from before it; a commit is fenced by the
// member's version, a refusal only by this re-read (errConflict: decide
// again on fresh data).
func (tx *LedgerTx) refusal(err error) error {
	if errors.Is(err, errConflict) {
		return err
	}
	now, rerr := tx.s.rawMember(tx.ctx, tx.Member.PartnerID, tx.Member.ID)
	if rerr == nil && now.Version != tx.prevVersion {
		return errConflict
	}
	return err
}

// Released is how many points the transaction released before its
// function ran (bookReleases).
func (tx *LedgerTx) Released() int64 {
	var n int64
	for _, e := range tx.entries {
		if e.Kind == ledger.KindRelease && e.Delta.Review == 0 {
			n += e.Delta.Available
		}
	}
	return n
}

// releasesDue loads m's pending lots and plans the releases due at now
// (jobs.ReleasePending): the plan, the lots and their keys.
func (s *Store) releasesDue(ctx context.Context, m *ledger.Member, p *program.Program, now time.Time) (jobs.Plan, []*ledger.Entry, map[*ledger.Entry]string, error) {
	lots, keys, err := s.lots(ctx, m.PartnerID, m.ID, "ls", string(ledger.LotPending))
	if err != nil {
		return jobs.Plan{}, nil, nil, err
	}
	return jobs.ReleasePending(m, lots, p, now), lots, keys, nil
}

// nextRelease sets m.ReleaseAt once the releases of pl (planned on lots at
// now) are booked: the next pending lot's release time, or now when the
// plan was cut (the rest goes with the next write).
func nextRelease(m *ledger.Member, pl jobs.Plan, lots []*ledger.Entry, now time.Time) {
	m.ReleaseAt = 0
	if pl.More {
		m.LowerRelease(now)
	}
	m.LowerRelease(jobs.NextRelease(lots, now))
}

// Book appends a new ledger entry (its Delta already set) to the member.
func (tx *LedgerTx) Book(e *ledger.Entry) {
	e.At = tx.Now.UTC()
	tx.Member.Apply(e)
	tx.entries = append(tx.entries, e)
}

// booked records an entry a domain function already applied to tx.Member.
func (tx *LedgerTx) booked(e ledger.Entry) *ledger.Entry {
	tx.entries = append(tx.entries, &e)
	return &e
}

// Changed marks a lot as changed: it is written back, conditional on its version.
func (tx *LedgerTx) Changed(l *ledger.Entry) { tx.changed[l] = true }

// changedTakes marks as changed the lots that takes drew on.
func (tx *LedgerTx) changedTakes(lots []*ledger.Entry, takes []ledger.LotTake) {
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

// newRedemption writes a new redemption in the transaction.
func (tx *LedgerTx) newRedemption(r ledger.Redemption) error {
	tx.redemption = &r
	return tx.t.newRedemption(r)
}

// settled writes back a redemption read at r.Version.
func (tx *LedgerTx) settled(r *ledger.Redemption) error {
	if err := tx.t.redemption(r); err != nil {
		return err
	}
	tx.redemption = r
	return nil
}

// AvailableLots returns the member's lots with available points, in key
// order: those of the lots this transaction loaded (allLots), which include
// the lots it released itself (still pending in the table).
func (tx *LedgerTx) AvailableLots() ([]*ledger.Entry, error) {
	all, err := tx.allLots()
	if err != nil {
		return nil, err
	}
	var out []*ledger.Entry
	for _, l := range all {
		if l.State == ledger.LotAvailable && l.Remaining > 0 {
			out = append(out, l)
		}
	}
	return out, nil
}

// allLots loads the member's lots with points left, in any state, once per
// transaction (read consistently, in key order): one query of the member's
// partition, whatever the transaction asks of its lots afterwards.
func (tx *LedgerTx) allLots() ([]*ledger.Entry, error) {
	if tx.loaded {
		return tx.lots, nil
	}
	lots, keys, err := tx.s.lots(tx.ctx, tx.Member.PartnerID, tx.Member.ID, "", "")
	if err != nil {
		return nil, err
	}
	tx.lots, tx.loaded = tx.known(lots, keys), true
	return tx.lots, nil
}

// known replaces lots already loaded in the transaction (by key) by the
// loaded ones, and remembers the keys of the others.
func (tx *LedgerTx) known(lots []*ledger.Entry, keys map[*ledger.Entry]string) []*ledger.Entry {
	loaded := make(map[string]*ledger.Entry, len(tx.lotKeys))
	for l, k := range tx.lotKeys {
		loaded[k] = l
	}
	out := make([]*ledger.Entry, 0, len(lots))
	for _, l := range lots {
		k := keys[l]
		if have := loaded[k]; have != nil {
			l = have
		} else {
			tx.lotKeys[l] = k
		}
		out = append(out, l)
	}
	return out
}

// LotKey is the key of a lot returned by AvailableLots, Lots or Lot.
func (tx *LedgerTx) LotKey(l *ledger.Entry) string { return tx.lotKeys[l] }

// Lot loads one lot by key (a hold's lots, a held entry).
func (tx *LedgerTx) Lot(sk string) (*ledger.Entry, error) {
	for l, k := range tx.lotKeys {
		if k == sk {
			return l, nil
		}
	}
	var e ledger.Entry
	found, err := tx.s.getItem(tx.ctx, memberPK(tx.Member.PartnerID, tx.Member.ID), sk, &e)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("lot %s of %s/%s: %w", sk, tx.Member.PartnerID, tx.Member.ID, ErrNotFound)
	}
	tx.lotKeys[&e] = sk
	return &e, nil
}

// lotsByKey loads the lots a hold took points from.
func (tx *LedgerTx) lotsByKey(takes []ledger.LotTake) (map[string]*ledger.Entry, error) {
	out := make(map[string]*ledger.Entry, len(takes))
	for _, t := range takes {
		l, err := tx.Lot(t.Lot)
		if err != nil {
			return nil, err
		}
		out[t.Lot] = l
	}
	return out, nil
}

// Lots returns all the member's lots with points left, in any state (loaded
// on first use, read consistently). Together with AvailableLots it shares one
// set of loaded lots: a lot is one *ledger.Entry in a transaction, whichever
// call returned it.
func (tx *LedgerTx) Lots() ([]*ledger.Entry, error) { return tx.allLots() }

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

// EntriesSince returns the member's ledger entries made at or after since
// (read consistently from the table), which is what the tier window needs. A
// member that absorbed others (a merge) gets theirs too, after its own: their
// payments are its history (the qualifying window).
func (tx *LedgerTx) EntriesSince(since time.Time) ([]ledger.Entry, error) {
	var out []ledger.Entry
	for _, id := range append([]string{tx.Member.ID}, tx.Member.Absorbed...) {
		es, err := tx.s.memberEntries(tx.ctx, tx.Member.PartnerID, id)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if !e.At.Before(since) {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// ReleaseHold writes back a hold the stale-holds job released (r carries its
// new status, Version still the one read) and gives a reward's stock back.
func (tx *LedgerTx) ReleaseHold(r ledger.Redemption) error {
	if err := tx.stockBack(r); err != nil {
		return err
	}
	return tx.t.redemption(&r)
}

// stockBack gives a released hold's reward its unit of stock back (a reward
// removed from the catalog meanwhile gets nothing).
func (tx *LedgerTx) stockBack(r ledger.Redemption) error {
	if r.RewardID == "" {
		return nil
	}
	rw, err := tx.s.reward(tx.ctx, r.PartnerID, r.RewardID)
	switch {
	case err == nil:
		tx.t.stock(r.PartnerID, rw, +1)
		return nil
	case errors.Is(err, ErrRewardNotFound):
		return nil
	}
	return err
}

// SetDue sets the member's next due time exactly (zero: nothing is due; the
// member leaves the due index). The member jobs call it once they brought the
// member up to date; it is written even when nothing else changes.
func (tx *LedgerTx) SetDue(t time.Time) { tx.due = &t }

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

// lots returns the member's entries whose lot is in state (attr "ls"), or
// all with points left (attr ""), and their keys, in key order.
func (s *Store) lots(ctx context.Context, partner, member, attr, state string) ([]*ledger.Entry, map[*ledger.Entry]string, error) {
	keyCond := expression.Key(AttrPK).Equal(expression.Value(memberPK(partner, member)))
	filt := expression.Name("rem").GreaterThan(expression.Value(0))
	if attr != "" {
		filt = expression.Name(attr).Equal(expression.Value(state)).And(filt)
	}
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).WithFilter(filt).Build()
	if err != nil {
		return nil, nil, fmt.Errorf("build lots query: %w", err)
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var lots []*ledger.Entry
	keys := map[*ledger.Entry]string{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("query lots of %s/%s: %w", partner, member, err)
		}
		for _, it := range page.Items {
			var e ledger.Entry
			if err := attributevalue.UnmarshalMap(it, &e); err != nil {
				return nil, nil, fmt.Errorf("unmarshal lot: %w", err)
			}
			sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
			if sk == nil {
				continue
			}
			lots = append(lots, &e)
			keys[&e] = sk.Value
		}
	}
	// Key order: which lot goes first is the domain's decision (ledger.Spend,
	// ledger.Reverse and the jobs' planners order lots themselves).
	return lots, keys, nil
}
