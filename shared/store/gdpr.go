package store

// GDPR export and erasure of a member (spec §4: GET / DELETE
// /v1/members/{id}/data: "personal data removed, ledger kept anonymised").
//
// What "anonymised" means here. The member id is the partner's own customer id:
// personal. So are the tags, the rules state (streaks are keyed by subscription
// id; recent events, frequency windows and campaign use describe behaviour), the
// payment, event and subscription ids a ledger entry remembers, and the free
// text of adjustment and rejection reasons. Erase moves the member to a new
// partition P#{partner}#M#{anonID}, anonID = "erased-" + 80 random bits, and
// keeps there:
//
//   - the member item: balances, seq, created / last activity dates, with status
//     "erased", tags, rules state (tier included) and activity counts emptied;
//   - every ledger entry, re-keyed E#{seq} (a payment's entry key holds its
//     payment id): kind, time, points, deltas, breakdown, lot, and of the payment
//     only amount, currency, category and time. Payment, event, refund-of and
//     subscription ids, reasons and the rule lines naming them are removed;
//   - the redemptions (ids are ours, random), their lot references re-keyed;
//   - the member's pending review items (re-keyed to the anonymous member: an
//     admin can still approve or reject them) and audit records (member id
//     replaced, reason redacted: actor, action, points and time stay), in the
//     partner's trail and in every member's copy of them (audit.go).
//
// A member merge links the survivor with the ids it absorbed: one person.
// Erasing either id erases the person: the survivor (an absorbed id
// resolves to it) is marked first, so that payments on any of its ids stop
// (member_inactive), then each absorbed id is erased as a member of its own
// (its partition, its alias item — the absorbed id is personal data — and an
// erasure mark of its id, so that none of its old payments comes back), then
// the survivor. Merge entries name the other member like transfers do and
// are redacted the same way, and an absorbed lot's MovedTo is dropped; the
// export of a survivor includes each absorbed member's (Merged).
//
// Point transfers link two members. The erased member's own transfer entries
// lose the other member's id and their reason (free text); the other
// member's entries of those transfers name the erased one no more
// (ledger.ErasedCounterpart) and lose their reason too. Those are updates of
// items outside the member's partition, each conditional on still naming the
// member (so running them again changes nothing), made before the move (the
// erased member's entries are what finds them).
//
// The invariants of spec §2 hold on the anonymous member (Audit passes), so
// liability reporting and expiry keep working on its points. Nothing in the
// store links anonID to the original id once erasure finishes; the id is
// returned to the caller once.
//
// Not covered: Idempotency-Key records (their stored responses may name the
// member; they expire within IdempotencyTTL), rejected events (raw bodies kept
// for operators), and events already published to EventBridge. After erasure
// the original id is unknown: a later payment for it auto-enrolls a fresh
// member (when the program auto-enrolls), and a redelivered old payment is no
// longer recognised as a duplicate (its deduplication key was personal and is
// gone); a refund of an old payment waits for a payment that never comes and
// ends in the DLQ.
//
// How. Copying many items cannot be one transaction, so Erase is idempotent and
// resumable: calling it again after a crash completes the job.
//
//  1. Mark: one transaction sets the member's status to "erasing" (accruals,
//     redemptions and activities stop) and writes a marker item ERASE holding the
//     anonID. The marker exists exactly while the member is erasing.
//  2. Move, at the member's version V: redact what other items say of the
//     member (the other side of its transfers, audit records and their
//     copies: conditional updates in place), list the member's partition
//     (and its review items and audit records), copy them transformed to their anonymous
//     keys, then delete the originals. Copies and deletes are transactions of
//     up to 98 items fenced by two condition checks: the member is still at
//     version V, and the marker still names this anonID. Every change to a
//     member's entries, redemptions or review items also writes the member (its
//     version), so a concurrent writer (a refund, a hold cancelled, an
//     adjustment) either commits before a chunk — which then fails, and the move
//     starts again from a fresh listing — or fails on an entry already moved.
//     The marker check stops a slow concurrent Erase call from writing stale
//     copies over the anonymous member once the erasure has finished (the
//     marker is gone), even if a member re-enrolled under the same id happens
//     to reach version V. Redemptions and review items are deleted before any
//     entry, so the entries they reference are in every listing that copies
//     them. (Hence transactions rather than BatchWriteItem: a batch cannot be
//     fenced, and erasure is rare enough for the double write cost.)
//  3. Finish: one transaction writes the anonymous member item, deletes the
//     original member item (conditional on version V) and the marker
//     (conditional on naming anonID), and writes the "member.erase" audit
//     record (naming only the anonID).
//
// Concurrent Erase calls for one member share the marker's anonID; when one
// finishes, the others find the anonymous member and return its id too.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/rules"
)

// AnonPrefix starts every anonymised member id.
const AnonPrefix = "erased-"

const (
	// RedactedReason replaces the free-text reason of an erased member's audit records.
	RedactedReason = "[redacted: member erased]"
	redactedID     = "[erased]"
	// eraseChunk: copies or deletes per transaction (plus the two fence checks).
	eraseChunk = 98
)

type eraseMarker struct {
	AnonID  string    `dynamodbav:"anon"`
	Started time.Time `dynamodbav:"started"`
	Actor   string    `dynamodbav:"actor"`
}

// Export is all the store keeps about one member (GDPR access): JSON-ready.
type Export struct {
	PartnerID  string          `json:"partner_id"`
	MemberID   string          `json:"member_id"`
	Status     ledger.Status   `json:"status"`
	Tags       []string        `json:"tags"`
	Tier       string          `json:"tier,omitempty"`
	Balances   ledger.Balances `json:"balances"`
	Qualifying int64           `json:"qualifying"`
	// Rules is the whole rules state (streaks, frequency windows, campaign use,
	// day / month counters, recent event times).
	Rules        rules.State         `json:"rules_state"`
	Activities   map[string]int64    `json:"activities,omitempty"`
	CreatedAt    time.Time           `json:"created_at"`
	LastActivity time.Time           `json:"last_activity_at"`
	Entries      []ledger.Entry      `json:"entries"`
	Redemptions  []ledger.Redemption `json:"redemptions"`
	Review       []ReviewItem        `json:"review"`
	ExportedAt   time.Time           `json:"exported_at"`
	// Merged: the export of each id merged into this member (a member
	// merge: the same person), absorbed member by absorbed member.
	Merged []Export `json:"merged,omitempty"`
}

// Export returns everything kept about a member: the member, all of its ledger
// entries (oldest first), its redemptions and its pending review items, and
// the same of every id merged into it. An absorbed id exports its survivor
// (the person). The reads are consistent but not one snapshot.
func (s *Store) Export(ctx context.Context, partner, member string) (Export, error) {
	m, err := s.Member(ctx, partner, member)
	if err != nil {
		return Export{}, err
	}
	x, err := s.exportMember(ctx, m)
	if err != nil {
		return Export{}, err
	}
	for _, id := range m.Absorbed {
		am, err := s.rawMember(ctx, partner, id)
		if errors.Is(err, ErrMemberNotFound) {
			continue
		}
		if err != nil {
			return Export{}, err
		}
		ax, err := s.exportMember(ctx, am)
		if err != nil {
			return Export{}, err
		}
		x.Merged = append(x.Merged, ax)
	}
	return x, nil
}

// exportMember is the export of one member item's partition.
func (s *Store) exportMember(ctx context.Context, m ledger.Member) (Export, error) {
	partner, member := m.PartnerID, m.ID
	es, err := s.Entries(ctx, partner, member)
	if err != nil {
		return Export{}, err
	}
	reds, err := s.memberRedemptions(ctx, partner, member)
	if err != nil {
		return Export{}, err
	}
	rvs, err := s.memberReviews(ctx, partner, member)
	if err != nil {
		return Export{}, err
	}
	x := Export{
		PartnerID: partner, MemberID: m.ID, Status: m.Status, Tags: m.Rules.Tags, Tier: m.Rules.Tier,
		Balances: m.Balances, Qualifying: m.Rules.Qualifying, Rules: m.Rules, Activities: m.Activities,
		CreatedAt: m.CreatedAt, LastActivity: m.LastActivity,
		Entries: es, Redemptions: reds, Review: rvs, ExportedAt: s.now().UTC(),
	}
	if x.Tags == nil {
		x.Tags = []string{}
	}
	if x.Entries == nil {
		x.Entries = []ledger.Entry{}
	}
	return x, nil
}

func (s *Store) memberRedemptions(ctx context.Context, partner, member string) ([]ledger.Redemption, error) {
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :red)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":  &types.AttributeValueMemberS{Value: memberPK(partner, member)},
			":red": &types.AttributeValueMemberS{Value: redemptionSK("")},
		},
	})
	out := []ledger.Redemption{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query redemptions of %s/%s: %w", partner, member, err)
		}
		var rs []ledger.Redemption
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &rs); err != nil {
			return nil, fmt.Errorf("unmarshal redemptions: %w", err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// Erase removes a member's personal data and keeps its ledger under a new,
// anonymous member id, which it returns (see the top of this file for what is
// kept and how). It is idempotent and resumable: after a crash or an error,
// calling it again completes the erasure with the same anonymous id. Erasing
// an already anonymised member returns its own id; an unknown member (or one
// erased before: its id is gone) is ErrMemberNotFound. An absorbed id erases
// its survivor, and every id merged into it (the person).
func (s *Store) Erase(ctx context.Context, partner, member, actor string) (string, error) {
	if m, err := s.Member(ctx, partner, member); err == nil {
		member = m.ID
	}
	return s.eraseMember(ctx, partner, member, actor)
}

// eraseMember erases one member item's partition, and first, once the
// member is marked, those of the ids it absorbed.
func (s *Store) eraseMember(ctx context.Context, partner, member, actor string) (string, error) {
	var out string
	err := s.retry(ctx, "erase "+partner+"/"+member, func() error {
		m, anon, err := s.markErasing(ctx, partner, member, actor)
		if err == nil && anon == "" {
			out = m.ID // already anonymised
			return nil
		}
		if err == nil {
			err = s.eraseAbsorbed(ctx, m, actor)
		}
		if err == nil {
			err = s.moveErased(ctx, m, anon)
		}
		if err == nil {
			err = s.finishErase(ctx, m, anon, actor)
		}
		if errors.Is(err, errDuplicate) {
			err = errConflict // a fence of the move failed: a concurrent change
		}
		if errors.Is(err, errConflict) && anon != "" {
			// A concurrent Erase call may have finished this erasure.
			if _, merr := s.Member(ctx, partner, anon); merr == nil {
				err = nil
			} else if !errors.Is(merr, ErrMemberNotFound) {
				err = merr
			}
		}
		out = anon
		return err
	})
	if err != nil {
		return "", err
	}
	return out, nil
}

// eraseAbsorbed erases each id merged into m (m is marked erasing: none of
// its ids takes payments meanwhile); one erased before is gone already.
func (s *Store) eraseAbsorbed(ctx context.Context, m ledger.Member, actor string) error {
	for _, id := range m.Absorbed {
		if _, err := s.eraseMember(ctx, m.PartnerID, id, actor); err != nil && !errors.Is(err, ErrMemberNotFound) {
			return fmt.Errorf("erase %s/%s, merged into %s: %w", m.PartnerID, id, m.ID, err)
		}
	}
	return nil
}

// markErasing returns the member in state erasing and its anonymous id,
// marking it first when needed (step 1). An anonymised member comes back with
// anon "".
func (s *Store) markErasing(ctx context.Context, partner, member, actor string) (ledger.Member, string, error) {
	m, err := s.rawMember(ctx, partner, member)
	if err != nil {
		return m, "", err
	}
	var mk eraseMarker
	found, err := s.getItem(ctx, memberPK(partner, member), skErase, &mk)
	if err != nil {
		return m, "", err
	}
	if !found && m.Status == ledger.StatusErased {
		return m, "", nil
	}
	if found && m.Status == ledger.StatusErasing {
		return m, mk.AnonID, nil
	}
	// Not marked yet, or its status was changed (PATCH) while erasing.
	prev := m.Version
	m.Status = ledger.StatusErasing
	m.Version++
	t := s.newTxn()
	if err := t.putMember(&m, prev, false); err != nil {
		return m, "", err
	}
	if !found {
		mk = eraseMarker{AnonID: newID(AnonPrefix), Started: s.now().UTC(), Actor: actor}
		if err := t.putNew(mk, memberPK(partner, member), skErase); err != nil {
			return m, "", err
		}
	}
	if err := t.commit(ctx, Written{Member: m}); err != nil {
		return m, "", err
	}
	return m, mk.AnonID, nil
}

// move is one item to re-key: its anonymous copy and the original's key (nil
// when the copy overwrites the original in place).
type move struct {
	put   map[string]types.AttributeValue
	del   map[string]types.AttributeValue
	order int // deletion order: references before what they reference
}

// Deletion order of moved items.
const (
	orderRefs    = iota // review items, audit records, redemptions
	orderPayment        // a payment's earn entry: before its refunds' entries
	orderEntry          // other entries
	orderOther          // any other item of the member's partition
)

// moveErased copies the items of an erasing member to the anonymous keys and
// deletes the originals, fenced on the member's version and the marker (step
// 2). It returns errConflict or errDuplicate when the fence failed.
func (s *Store) moveErased(ctx context.Context, m ledger.Member, anon string) error {
	moves, refs, err := s.planMoves(ctx, m, anon)
	if err != nil {
		return err
	}
	if err := s.redactRefs(ctx, refs); err != nil {
		return err
	}
	if len(moves) == 0 {
		return nil
	}
	fence := eraseFence(s.table, m, anon)
	var chunk []types.TransactWriteItem
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		err := s.transact(ctx, append(append([]types.TransactWriteItem(nil), fence...), chunk...), nil)
		chunk = chunk[:0]
		return err
	}
	add := func(it types.TransactWriteItem) error {
		chunk = append(chunk, it)
		if len(chunk) == eraseChunk {
			return flush()
		}
		return nil
	}
	for _, mv := range moves {
		if err := add(types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: mv.put}}); err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	for order := orderRefs; order <= orderOther; order++ {
		for _, mv := range moves {
			if mv.order != order || mv.del == nil {
				continue
			}
			if err := add(types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.table), Key: mv.del}}); err != nil {
				return err
			}
		}
		// Finish each group before the next: an interrupted move never leaves
		// a redemption or review item whose entries are already gone.
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
}

// eraseFence is the condition of every write of a move: the member is still
// at its version and the marker still names anon.
func eraseFence(table string, m ledger.Member, anon string) []types.TransactWriteItem {
	pk := memberPK(m.PartnerID, m.ID)
	return []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String(table), Key: key(pk, skMember),
			ConditionExpression:       aws.String("ver = :v"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(m.Version)},
		}},
		{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String(table), Key: key(pk, skErase),
			ConditionExpression:       aws.String("anon = :a"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":a": &types.AttributeValueMemberS{Value: anon}},
		}},
	}
}

// planMoves lists what belongs to the member and builds its anonymous
// copies, and the updates of what other items say of the member (refs).
func (s *Store) planMoves(ctx context.Context, m ledger.Member, anon string) ([]move, []*dynamodb.UpdateItemInput, error) {
	partner, member := m.PartnerID, m.ID
	own, err := s.queryAll(ctx, memberPK(partner, member), "")
	if err != nil {
		return nil, nil, err
	}
	reviews, err := s.queryAll(ctx, reviewPK(partner), member)
	if err != nil {
		return nil, nil, err
	}
	audits, err := s.queryAll(ctx, auditPK(partner), member, attrAuditOther)
	if err != nil {
		return nil, nil, err
	}
	var refs []*dynamodb.UpdateItemInput
	apk := memberPK(partner, anon)
	// Entries first: their new keys are what redemptions and reviews refer to.
	lotKeys := map[string]string{}
	var moves []move
	var rest []map[string]types.AttributeValue
	mpk := memberPK(partner, member)
	for _, it := range own {
		sk := skOf(it)
		k := ParseKey(mpk, sk)
		switch {
		case k.Kind == ItemMember || k.Kind == ItemEraseMarker:
		case k.IsEntry():
			var e ledger.Entry
			if err := attributevalue.UnmarshalMap(it, &e); err != nil {
				return nil, nil, fmt.Errorf("unmarshal entry %s: %w", sk, err)
			}
			refs = append(refs, s.counterpartRedaction(partner, member, &e)...)
			nsk := entrySK(e.Seq)
			lotKeys[sk] = nsk
			scrubEntry(&e, anon)
			put, err := entryItem(&e, nsk)
			if err != nil {
				return nil, nil, err
			}
			put[AttrMoved] = &types.AttributeValueMemberBOOL{Value: true} // not a new entry: the stats roll-up skips it
			order := orderEntry
			if k.IsEarn() {
				order = orderPayment
			}
			moves = append(moves, move{put: put, del: key(memberPK(partner, member), sk), order: order})
		case k.Kind == ItemAuditCopy:
			put := maps.Clone(it)
			put[AttrPK] = &types.AttributeValueMemberS{Value: memberPK(partner, anon)}
			scrubAudit(put, member, anon)
			moves = append(moves, move{put: put, del: key(memberPK(partner, member), sk), order: orderRefs})
		default:
			rest = append(rest, it)
		}
	}
	for _, it := range rest {
		sk := skOf(it)
		if ParseKey(mpk, sk).Kind == ItemRedemption {
			var r ledger.Redemption
			if err := attributevalue.UnmarshalMap(it, &r); err != nil {
				return nil, nil, fmt.Errorf("unmarshal redemption %s: %w", sk, err)
			}
			lots := make([]ledger.LotTake, 0, len(r.Lots))
			for _, t := range r.Lots {
				nk, ok := lotKeys[t.Lot]
				switch {
				case ok:
					lots = append(lots, ledger.LotTake{Lot: nk, Points: t.Points})
				case r.Status == ledger.RedemptionHeld:
					return nil, nil, fmt.Errorf("erase %s/%s: lot %s of open hold %s not found", partner, member, t.Lot, r.ID)
				}
				// A settled redemption never uses its lots again: an unknown one is dropped.
			}
			r.Lots, r.MemberID = lots, anon
			put, err := item(r, apk, sk)
			if err != nil {
				return nil, nil, err
			}
			moves = append(moves, move{put: put, del: key(memberPK(partner, member), sk), order: orderRefs})
			continue
		}
		// An item kind this code does not know: moved as is, its member named anew.
		put := maps.Clone(it)
		put[AttrPK] = &types.AttributeValueMemberS{Value: apk}
		renameMember(put, member, anon)
		moves = append(moves, move{put: put, del: key(memberPK(partner, member), sk), order: orderOther})
	}
	for _, it := range reviews {
		rv, err := unmarshalReview(it)
		if err != nil {
			return nil, nil, err
		}
		old := rv.lotKey()
		nk, ok := lotKeys[old]
		if !ok {
			return nil, nil, fmt.Errorf("erase %s/%s: held entry %s of a review item not found", partner, member, old)
		}
		rv.MemberID, rv.PaymentID, rv.EventID, rv.LotSK = anon, "", "", nk
		put, err := item(rv, reviewPK(partner), reviewSK(rv.HeldAt, anon, nk))
		if err != nil {
			return nil, nil, err
		}
		moves = append(moves, move{put: put, del: key(reviewPK(partner), skOf(it)), order: orderRefs})
	}
	for _, it := range audits {
		sk := skOf(it)
		if _, ok := it["id"]; ok {
			// A record with an id: its key names no member; it and its copies
			// in other members' partitions are redacted in place.
			more, err := s.auditRedactions(partner, member, anon, it)
			if err != nil {
				return nil, nil, err
			}
			refs = append(refs, more...)
			continue
		}
		put := maps.Clone(it)
		scrubAudit(put, member, anon)
		mv := move{put: put, order: orderRefs}
		if nsk := renameInSK(sk, member, anon); nsk != sk {
			put[AttrSK] = &types.AttributeValueMemberS{Value: nsk}
			mv.del = key(auditPK(partner), sk)
		}
		moves = append(moves, mv)
	}
	return moves, refs, nil
}

// attrAuditOther is the attribute of an audit record naming its other member.
const attrAuditOther = "other"

// scrubAudit renames member to anon in an audit item (member and other
// member) and redacts its reason.
func scrubAudit(it map[string]types.AttributeValue, member, anon string) {
	renameMember(it, member, anon)
	if v, ok := it[attrAuditOther].(*types.AttributeValueMemberS); ok && v.Value == member {
		it[attrAuditOther] = &types.AttributeValueMemberS{Value: anon}
	}
	if _, ok := it["reason"]; ok {
		it["reason"] = &types.AttributeValueMemberS{Value: RedactedReason}
	}
}

// auditRedactions are the updates that rename member to anon (and redact the
// reason) in an audit record of the partner's trail (it) and in its copies in
// the partitions of the other members it names. Each is conditional on the
// attribute still naming member: done once, and a copy that is gone (its
// member erased since: the copy moved) or differs is left alone.
func (s *Store) auditRedactions(partner, member, anon string, it map[string]types.AttributeValue) ([]*dynamodb.UpdateItemInput, error) {
	var rec AuditRecord
	if err := attributevalue.UnmarshalMap(it, &rec); err != nil {
		return nil, fmt.Errorf("unmarshal audit record %s: %w", skOf(it), err)
	}
	names := map[string]string{}
	vals := map[string]types.AttributeValue{
		":m": &types.AttributeValueMemberS{Value: member},
		":a": &types.AttributeValueMemberS{Value: anon},
	}
	var sets, conds []string
	for _, attr := range []string{"member", attrAuditOther} {
		if v, ok := it[attr].(*types.AttributeValueMemberS); ok && v.Value == member {
			names["#"+attr] = attr
			sets = append(sets, "#"+attr+" = :a")
			conds = append(conds, "#"+attr+" = :m")
		}
	}
	if len(sets) == 0 {
		return nil, nil
	}
	if _, ok := it["reason"]; ok {
		names["#r"] = "reason"
		vals[":r"] = &types.AttributeValueMemberS{Value: RedactedReason}
		sets = append(sets, "#r = :r")
	}
	update := func(k map[string]types.AttributeValue) *dynamodb.UpdateItemInput {
		return &dynamodb.UpdateItemInput{
			TableName: aws.String(s.table), Key: k,
			UpdateExpression:         aws.String("SET " + strings.Join(sets, ", ")),
			ConditionExpression:      aws.String(strings.Join(conds, " AND ")),
			ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
		}
	}
	out := []*dynamodb.UpdateItemInput{update(key(auditPK(partner), skOf(it)))}
	for _, other := range []string{rec.MemberID, rec.OtherMemberID} {
		if other != "" && other != member {
			out = append(out, update(key(memberPK(partner, other), auditMemberSK(rec.At, rec.ID))))
		}
	}
	return out, nil
}

// counterpartRedaction is the update of the other member's entry of a
// transfer or a merge of member (e): it names member no more
// (ledger.ErasedCounterpart) and loses its reason, the free text both
// entries carry. Conditional on still naming member (nothing happens to an
// entry already redacted, or moved by the other member's own erasure, which
// cleared its counterpart); the entry's version is incremented, so that a
// concurrent rewrite of its lot re-reads it. A lot a merge moved names the
// survivor's entry carrying it (MovedTo), which names member likewise.
func (s *Store) counterpartRedaction(partner, member string, e *ledger.Entry) []*dynamodb.UpdateItemInput {
	type ref struct {
		member string
		seq    int64
	}
	var refs []ref
	if e.Kind == ledger.KindTransfer || e.Kind == ledger.KindMerge {
		refs = append(refs, ref{e.Counterpart, e.CounterpartSeq})
	}
	if e.MovedTo != nil {
		refs = append(refs, ref{e.MovedTo.MemberID, e.MovedTo.EntrySeq})
	}
	var out []*dynamodb.UpdateItemInput
	for _, r := range refs {
		if r.member == "" || r.member == ledger.ErasedCounterpart || r.seq <= 0 {
			continue
		}
		out = append(out, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.table), Key: key(memberPK(partner, r.member), entrySK(r.seq)),
			UpdateExpression:         aws.String("SET #cp = :e, #ver = #ver + :one REMOVE #reason, #bd[0].#d"),
			ConditionExpression:      aws.String("#cp = :m"),
			ExpressionAttributeNames: map[string]string{"#cp": "cp", "#ver": "ver", "#reason": "reason", "#bd": "bd", "#d": "d"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":e": &types.AttributeValueMemberS{Value: ledger.ErasedCounterpart}, ":m": &types.AttributeValueMemberS{Value: member},
				":one": num(1),
			},
		})
	}
	return out
}

// redactRefs runs the updates of planMoves' refs; one whose condition fails
// was done before (or has nothing left to do).
func (s *Store) redactRefs(ctx context.Context, refs []*dynamodb.UpdateItemInput) error {
	for _, in := range refs {
		_, err := s.db.UpdateItem(ctx, in)
		var ccf *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &ccf) {
			return fmt.Errorf("erase: redact a reference: %w", err)
		}
	}
	return nil
}

// finishErase replaces the original member item by the anonymous one (step
// 3), and leaves the erasure mark of the id (see erased.go), in one
// transaction fenced on the member's version and the marker.
func (s *Store) finishErase(ctx context.Context, m ledger.Member, anon, actor string) error {
	am := m
	am.ID, am.Status, am.Rules, am.Activities = anon, ledger.StatusErased, rules.State{}, nil
	am.MergedInto, am.Absorbed = "", nil // other ids of the person
	am.Version = m.Version + 1
	now := s.now().UTC()
	t := s.newTxn()
	if err := t.putMember(&am, 0, true); err != nil {
		return err
	}
	if err := t.put(erasedMark{ErasedAt: now}, erasedPK(m.PartnerID, m.ID), skErased); err != nil {
		return err
	}
	t.deleteMember(m.PartnerID, m.ID, m.Version)
	t.deleteEraseMarker(m.PartnerID, m.ID, anon)
	if err := t.audit(m.PartnerID, AuditRecord{At: now, Actor: actor, Action: AuditMemberErase, MemberID: anon,
		Reason: "personal data erased, ledger kept anonymised"}); err != nil {
		return err
	}
	return t.commit(ctx, Written{Member: am})
}

// scrubEntry removes the personal data of an entry (see the top of the file)
// and gives it to the anonymous member.
func scrubEntry(e *ledger.Entry, anon string) {
	sub := ""
	if e.Recurring != nil {
		sub = e.Recurring.SubscriptionID
	}
	for i := range e.Breakdown {
		l := &e.Breakdown[i]
		switch {
		case l.Kind == rules.KindAdjust, l.Kind == rules.KindTransfer, l.Kind == rules.KindReview && l.Rule == "reject":
			l.Detail = "" // free text
		case l.Kind == rules.KindStreak && sub != "":
			l.Detail = strings.ReplaceAll(l.Detail, sub, redactedID)
		}
		if l.Rule != "" && (l.Rule == e.PaymentID || l.Rule == e.RefundOf) {
			l.Rule = "payment"
		}
	}
	e.MemberID = anon
	e.EventID, e.PaymentID, e.RefundOf, e.Recurring, e.Reason = "", "", "", nil, ""
	e.MovedTo = nil // where a merge moved the lot: the survivor
	// A transfer's other member: a link from the anonymous ledger to a
	// living member (who would tell who the erased one was).
	e.Counterpart, e.CounterpartSeq = "", 0
}

func skOf(it map[string]types.AttributeValue) string {
	if v, ok := it[AttrSK].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// renameMember sets the "member" attribute to anon where it names member.
func renameMember(it map[string]types.AttributeValue, member, anon string) {
	if v, ok := it["member"].(*types.AttributeValueMemberS); ok && v.Value == member {
		it["member"] = &types.AttributeValueMemberS{Value: anon}
	}
}

// renameInSK replaces member as a whole #-separated part of a sort key.
func renameInSK(sk, member, anon string) string {
	if strings.HasSuffix(sk, "#"+member) {
		sk = strings.TrimSuffix(sk, "#"+member) + "#" + anon
	}
	return strings.ReplaceAll(sk, "#"+member+"#", "#"+anon+"#")
}
