package store

import (
	"context"
	"fmt"

	"github.com/accrue/accrue/shared/ledger"
)

// TransferResult is what a transfer wrote: both members after it and their
// entries of the transfer.
type TransferResult struct {
	From, To ledger.Member
	Out, In  ledger.Entry
}

// transferFixedItems are the items of a transfer's transaction besides the
// sender's lots and the releases booked first: the two members, their two
// entries, the audit record and its two copies, the Idempotency-Key record.
const transferFixedItems = 8

// Transfer moves points from one member of partner to another (ledger.Transfer
// decides) in ONE TransactWriteItems (UpdateLedgers): both members, each
// conditional on its version; both entries; the sender's lots it took from,
// each conditional on its version; the releases of either member's pending
// points that were due, booked first; the audit record (and its copy in each
// member's partition); and, under an Idempotency-Key claim, the response. A
// concurrent change of either member makes it read both again and decide
// again. The receiver missing is ErrOtherMemberNotFound; the decision's
// errors (package ledger) come back as they are, with nothing written.
//
// Partition keys written: the two members' (member items, entries, lots,
// audit copies), the partner's audit partition (one item) and the
// Idempotency-Key's own.
func (s *Store) Transfer(ctx context.Context, partner, from, to string, req ledger.TransferRequest) (TransferResult, error) {
	if from == to {
		return TransferResult{}, fmt.Errorf("%s/%s: %w", partner, from, ledger.ErrSameMember)
	}
	p, err := s.Program(ctx, partner)
	if err != nil {
		return TransferResult{}, err
	}
	var res TransferResult
	a, b, err := s.UpdateLedgers(ctx, partner, from, to, func(ta, tb *LedgerTx) error {
		lots, err := ta.AvailableLots()
		if err != nil {
			return err
		}
		r := req
		r.MaxLots = maxTxItems - transferFixedItems - (ta.items() - 1) - (tb.items() - 1)
		if r.MaxLots < 1 {
			// Both members' releases due fill the transaction (each write of
			// one member books up to jobs.MaxChanges of them): rare, and over
			// after either member's next write.
			return fmt.Errorf("%w: the members' pending points due for release fill the transaction; transfer after their next activity",
				ledger.ErrTransferLimit)
		}
		x, err := ledger.Transfer(&ta.Member, &tb.Member, lots, p, r, ta.Now, ta.LotKey)
		if err != nil {
			return err
		}
		ta.changedTakes(lots, x.Takes)
		res.Out, res.In = *ta.booked(x.Out), *tb.booked(x.In)
		return ta.t.audit(partner, AuditRecord{At: ta.Now, Actor: req.Actor, Action: AuditTransfer,
			MemberID: ta.Member.ID, OtherMemberID: tb.Member.ID, Points: req.Points, Reason: req.Reason, Entry: x.Out.Seq, OtherEntry: x.In.Seq})
	})
	res.From, res.To = a, b
	return res, err
}
