package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/accrue/accrue/shared/ledger"
)

// Member merge (POST /v1/members/{id}/merge): two external ids of one person
// become one member (ledger.Merge decides; its doc has the rules). What it
// writes, in ONE TransactWriteItems (UpdateLedgers' two-member transaction):
//
//   - the survivor's member item, conditional on its version, with the
//     balances and rules state summed and the absorbed ids (Absorbed);
//   - the absorbed member's item, conditional on its version, emptied and
//     turned into an alias: status merged, MergedInto the survivor. Every
//     path reads a member item anyway (Member): an absorbed id finds the
//     alias there and reads the survivor next — one more read, for absorbed
//     ids only. Payments (the queue, POST /v1/events), refunds and every API
//     route on the absorbed id act on the survivor;
//   - each open lot of the absorbed member, emptied, conditional on its
//     version, naming the survivor's entry that carries it now (MovedTo), and
//     that entry (a "merge" entry per lot, with the lot's dates);
//   - the survivor's lots that repay the absorbed member's debt;
//   - the two closing "merge" entries, each naming the other;
//   - the releases due on either member, booked first (as every write does);
//   - the audit record (member.merge) and its copies in both partitions, and
//     the Idempotency-Key's response.
//
// The absorbed partition then takes no new entry: its items stay as the
// absorbed member's history (its ledger ends with the merge), and they are
// where deduplication looks for payments applied to it before the merge —
// every accrual and refund of a member that absorbed others checks, in its
// transaction, that the payment's key is absent from each absorbed partition
// (txn.absorbedDedup; a survivor holds at most ledger.MaxAbsorbed), and a
// refund finds the payment's entry there and its points where MovedTo says.
//
// A member with more open lots than one transaction moves (about 45) is
// refused with ledger.ErrMergeLimit, nothing written (see the README for why
// not several transactions).
//
// Partition keys written: the two members' and, once, the partner's audit
// partition and the Idempotency-Key's own.

// MergeResult is what a merge wrote: both members after it, their closing
// merge entries, and how many lots moved.
type MergeResult struct {
	Survivor, Absorbed ledger.Member
	In, Out            ledger.Entry
	Lots               int
}

// mergeFixedItems are the items of a merge's transaction besides the lots
// and the releases booked first: the two members, their closing entries, the
// audit record and its two copies, the Idempotency-Key record.
const mergeFixedItems = 8

// Merge merges member absorbed of partner into member survivor (an absorbed
// id as survivor resolves to its own survivor; the absorbed id is taken as
// it is: one merged before is ledger.ErrAlreadyMerged). The absorbed member
// missing is ErrOtherMemberNotFound; two ids of one member are
// ledger.ErrMergeSame; the decision's errors (package ledger) come back as
// they are, with nothing written.
func (s *Store) Merge(ctx context.Context, partner, survivor, absorbed string, req ledger.MergeRequest) (MergeResult, error) {
	if survivor == absorbed {
		return MergeResult{}, fmt.Errorf("%s/%s: %w", partner, survivor, ledger.ErrMergeSame)
	}
	p, err := s.Program(ctx, partner)
	if err != nil {
		return MergeResult{}, err
	}
	var res MergeResult
	sm, am, err := s.updateLedgers(ctx, partner, survivor, absorbed, false, func(ts, ta *LedgerTx) error {
		aLots, err := ta.Lots()
		if err != nil {
			return err
		}
		holds, err := ta.Holds()
		if err != nil {
			return err
		}
		var sLots []*ledger.Entry
		if ta.Member.Debt > 0 {
			if sLots, err = ts.AvailableLots(); err != nil {
				return err
			}
		}
		r := req
		r.MaxItems = maxTxItems - mergeFixedItems - (ts.items() - 1) - (ta.items() - 1)
		if r.MaxItems < 2 {
			return fmt.Errorf("%w: the members' pending points due for release fill the transaction; merge after their next activity",
				ledger.ErrMergeLimit)
		}
		before := ts.Member
		x, err := ledger.Merge(&ts.Member, &ta.Member, aLots, sLots, len(holds), p, r, ts.Now)
		if err != nil {
			return err
		}
		for _, l := range x.Moved {
			ta.Changed(l)
		}
		for _, l := range x.Repaid {
			ts.Changed(l)
		}
		for _, e := range x.Lots {
			ts.booked(e)
		}
		res.In, res.Out, res.Lots = *ts.booked(x.In), *ta.booked(x.Out), len(x.Lots)
		ta.SetDue(time.Time{}) // nothing is ever due on an absorbed member
		changes, err := mergeChanges(before, ts.Member)
		if err != nil {
			return err
		}
		return ts.t.audit(partner, AuditRecord{At: ts.Now, Actor: req.Actor, Action: AuditMerge,
			MemberID: ts.Member.ID, OtherMemberID: ta.Member.ID, Points: -x.Out.Points, Reason: req.Reason,
			Entry: x.In.Seq, OtherEntry: x.Out.Seq, Changes: changes})
	})
	if errors.Is(err, ledger.ErrSameMember) {
		err = fmt.Errorf("%s/%s is %s: %w", partner, survivor, absorbed, ledger.ErrMergeSame)
	}
	res.Survivor, res.Absorbed = sm, am
	return res, err
}

// mergeChanges lists what the merge changed of the survivor, for the audit
// record: its balances, qualifying points and tier, before and after.
func mergeChanges(before, after ledger.Member) ([]AuditChange, error) {
	fields := []struct {
		name          string
		before, after any
	}{
		{"balances", before.Balances, after.Balances},
		{"qualifying", before.Rules.Qualifying, after.Rules.Qualifying},
		{"tier", before.Rules.Tier, after.Rules.Tier},
	}
	var out []AuditChange
	for _, f := range fields {
		if f.before == f.after {
			continue
		}
		c, err := ChangeOf(f.name, f.before, f.after)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
