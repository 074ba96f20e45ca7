package store

// The stats roll-up's partial figures: what the stats consumer (package
// rollup, Consumer) sums from the table's stream, and what the roll-up job
// closes days from (package rollup defines every figure; this file only
// reads and writes them):
//
//	P#{partner}#STATS#D#{day} | {shard}             Partial: the sums (Figures) of partner's stream records of
//	                                                one local day read from one stream shard, the sequence
//	                                                number of the last one, and what the roll-up took of them
//	                                                into closed days (Taken at TakenLast)
//	P#{partner}#STATS#S       | {shard}             how far the consumer applied partner's records of the shard
//	P#{partner}#STATS#L       | SEAL                the last day the roll-up sealed: began to close
//	P#{partner}#STATS#L       | LATE#{day}#{shard}  LateMark: partial (day, shard) was written after the seal
//
// One writer per partial: a stream shard is consumed by one invocation at a
// time (parallelization factor 1), and the shard is in the key. A chunk of a
// partner's records of one shard is applied in one transaction together with
// the shard's progress item, on condition that the progress is before the
// chunk's first record (ApplyStreamChunk): a re-delivered record is never
// added twice, whichever day it is summed into.
//
// Sealing (see package rollup for the argument): the roll-up writes the seal
// before it reads a day's partials; the consumer reads the seal after each
// write, and marks the partials it wrote at or before the sealed day as late
// (MarkLate). Whatever a partial received after the roll-up took it is then
// found through its late mark and folded into the next day closed, in the
// same transaction that closes it (CloseDay).

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
)

// Figures are sums over ledger entries of one partner and day (package
// rollup defines each; ActiveMembers counts members, Unbalanced entries whose
// flows do not account for their change of outstanding points).
type Figures struct {
	Issued   int64 `dynamodbav:"iss" json:"issued"`
	Reversed int64 `dynamodbav:"rvs" json:"reversed"`
	Redeemed int64 `dynamodbav:"red" json:"redeemed"`
	Expired  int64 `dynamodbav:"exp" json:"expired"`
	Debited  int64 `dynamodbav:"deb" json:"debited"`
	// Imported: opening balances brought in by bulk imports (points that
	// were issued before the partner came to Accrue).
	Imported int64 `dynamodbav:"imp" json:"imported"`
	// Net is Σ Δ(Available+Pending+Held): the change of outstanding points.
	Net int64 `dynamodbav:"net" json:"net"`
	// DebtChange is Σ Δ Debt.
	DebtChange int64 `dynamodbav:"dbt" json:"debt_change"`
	// Transferred is Σ Δ(Available+Pending+Held) of transfer entries:
	// outstanding points moved between members (the two entries of a
	// transfer cancel out within a day).
	Transferred int64 `dynamodbav:"xfr" json:"transferred"`
	// ActiveMembers: members whose first activity of the day this is.
	ActiveMembers int64 `dynamodbav:"act" json:"active_members"`
	// Unbalanced: entries whose flows do not account for their change of
	// outstanding points (a bug in what booked them; the day cannot close).
	Unbalanced int64 `dynamodbav:"unb" json:"unbalanced"`
}

// Add adds g to f.
func (f *Figures) Add(g Figures) {
	f.Issued += g.Issued
	f.Reversed += g.Reversed
	f.Redeemed += g.Redeemed
	f.Expired += g.Expired
	f.Debited += g.Debited
	f.Imported += g.Imported
	f.Net += g.Net
	f.DebtChange += g.DebtChange
	f.Transferred += g.Transferred
	f.ActiveMembers += g.ActiveMembers
	f.Unbalanced += g.Unbalanced
}

// Minus returns f − g.
func (f Figures) Minus(g Figures) Figures {
	return Figures{
		Issued: f.Issued - g.Issued, Reversed: f.Reversed - g.Reversed, Redeemed: f.Redeemed - g.Redeemed,
		Expired: f.Expired - g.Expired, Debited: f.Debited - g.Debited, Imported: f.Imported - g.Imported, Net: f.Net - g.Net,
		DebtChange: f.DebtChange - g.DebtChange, Transferred: f.Transferred - g.Transferred, ActiveMembers: f.ActiveMembers - g.ActiveMembers,
		Unbalanced: f.Unbalanced - g.Unbalanced,
	}
}

// Partial is one partner's figures of one local day from one stream shard.
type Partial struct {
	Day   string `dynamodbav:"day"`
	Shard string `dynamodbav:"shard"`
	// Figures: the sums of every record applied to the partial.
	Figures
	// Last: the (padded) sequence number of the last record applied; it
	// grows with every write, so it names the Figures it goes with.
	Last string `dynamodbav:"last"`
	// Taken: the figures the roll-up counted in closed days, as of the
	// record TakenLast; nil while the day is open. Figures − Taken is what
	// arrived after (see LateMark).
	Taken     *Figures `dynamodbav:"tk,omitempty"`
	TakenLast string   `dynamodbav:"tkl,omitempty"`
}

// Remainder is what the partial received that no closed day counts yet.
func (p Partial) Remainder() Figures {
	if p.Taken == nil {
		return p.Figures
	}
	return p.Figures.Minus(*p.Taken)
}

// PartialTTL: how long after its day a partial is kept. The consumer writes
// to a partial at most a day or so after the day (the stream keeps records
// 24 hours), and the roll-up closes a day minutes after it ends; a month
// leaves room for a roll-up that was down for weeks.
const PartialTTL = 35 * 24 * time.Hour

// progressTTL: how long a shard's progress item is kept after its last
// write: longer than the stream keeps the shard's records (24 hours), after
// which nothing of the shard can be delivered again.
const progressTTL = 3 * 24 * time.Hour

// SeqDigits: stream sequence numbers are decimal strings of up to 40 digits;
// stored zero-padded to this width, they compare as strings the way they
// compare as numbers (in conditions too).
const SeqDigits = 40

// PadSeq returns a stream sequence number zero-padded to SeqDigits.
func PadSeq(seq string) (string, error) {
	if seq == "" || len(seq) > SeqDigits || strings.Trim(seq, "0123456789") != "" {
		return "", fmt.Errorf("stream sequence number %q: want 1 to %d decimal digits", seq, SeqDigits)
	}
	return strings.Repeat("0", SeqDigits-len(seq)) + seq, nil
}

// DayDelta is what a chunk of stream records adds to one day's partial.
type DayDelta struct {
	Day string
	// Last: the padded sequence number of the chunk's last record of the day.
	Last    string
	Figures Figures
}

// StreamChunk is what a run of one partner's stream records of one shard
// adds, by day: First and Last are the padded sequence numbers of its first
// and last records. At most MaxChunkDays days.
type StreamChunk struct {
	Shard       string
	First, Last string
	Days        []DayDelta
}

// MaxChunkDays: the days of one chunk, with the progress item, fit one
// transaction.
const MaxChunkDays = maxTxItems - 1

// ErrChunkApplied: the shard's progress is at or after the chunk's first
// record: some of it was applied before (a re-delivery). Read the progress
// (StreamProgress) and apply what comes after it.
var ErrChunkApplied = errors.New("stream records applied before")

type shardProgress struct {
	Last string `dynamodbav:"last"`
}

// ApplyStreamChunk adds the chunk's figures to partner's partials of its
// shard and sets the shard's progress to the chunk's last record, in one
// transaction conditional on the progress being before the chunk's first
// record (ErrChunkApplied otherwise).
func (s *Store) ApplyStreamChunk(ctx context.Context, partner string, c StreamChunk) error {
	if len(c.Days) == 0 {
		return nil
	}
	if len(c.Days) > MaxChunkDays || c.Shard == "" || c.First > c.Last {
		return fmt.Errorf("stream chunk of %s: %d days (at most %d), shard %q, records %s..%s", partner, len(c.Days), MaxChunkDays, c.Shard, c.First, c.Last)
	}
	items := make([]types.TransactWriteItem, 0, len(c.Days)+1)
	ppk, psk := shardProgressKey(partner, c.Shard)
	ttl := num(s.now().Add(progressTTL).Unix())
	items = append(items, types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(s.table), Key: key(ppk, psk),
		UpdateExpression:         aws.String("SET #last = :last, #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_not_exists(#last) OR #last < :first"),
		ExpressionAttributeNames: map[string]string{"#last": "last", "#ttl": AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":last": &types.AttributeValueMemberS{Value: c.Last}, ":first": &types.AttributeValueMemberS{Value: c.First}, ":ttl": ttl,
		},
	}})
	for _, d := range c.Days {
		u, err := s.partialUpdate(partner, c.Shard, d)
		if err != nil {
			return err
		}
		items = append(items, types.TransactWriteItem{Update: u})
	}
	err := s.retry(ctx, "stream chunk of "+partner, func() error {
		return s.transact(ctx, items, map[int]txRole{0: roleDedup})
	})
	if errors.Is(err, errDuplicate) {
		return fmt.Errorf("stream chunk of %s from %s: %w", partner, c.First, ErrChunkApplied)
	}
	if err != nil {
		return fmt.Errorf("stream chunk of %s from %s: %w", partner, c.First, err)
	}
	return nil
}

// partialUpdate adds d's figures to its partial (every figure, zeros too, so
// that the item always has all of them) and records its last record.
func (s *Store) partialUpdate(partner, shard string, d DayDelta) (*types.Update, error) {
	day, err := time.Parse(time.DateOnly, d.Day)
	if err != nil {
		return nil, fmt.Errorf("partial of %s: day %q: %w", partner, d.Day, err)
	}
	figs, err := attributevalue.MarshalMap(d.Figures)
	if err != nil {
		return nil, fmt.Errorf("marshal figures: %w", err)
	}
	u := expression.Set(expression.Name("day"), expression.Value(d.Day)).
		Set(expression.Name("shard"), expression.Value(shard)).
		Set(expression.Name("last"), expression.Value(d.Last)).
		Set(expression.Name(AttrTTL), expression.Value(day.Add(PartialTTL).Unix()))
	for _, name := range slices.Sorted(maps.Keys(figs)) {
		u = u.Add(expression.Name(name), expression.Value(figs[name]))
	}
	expr, err := expression.NewBuilder().WithUpdate(u).Build()
	if err != nil {
		return nil, fmt.Errorf("build partial update: %w", err)
	}
	pk, sk := partialKey(partner, d.Day, shard)
	return &types.Update{
		TableName: aws.String(s.table), Key: key(pk, sk), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}, nil
}

// StreamProgress returns the padded sequence number of the last record of
// partner's applied from shard ("" when none), read consistently.
func (s *Store) StreamProgress(ctx context.Context, partner, shard string) (string, error) {
	var p shardProgress
	pk, sk := shardProgressKey(partner, shard)
	if _, err := s.getItem(ctx, pk, sk, &p); err != nil {
		return "", err
	}
	return p.Last, nil
}

type seal struct {
	Day string `dynamodbav:"day"`
}

// Sealed returns the last day the roll-up sealed for partner ("" when none),
// read consistently: every partial of that day or an earlier one written
// from now on must be marked late (MarkLate).
func (s *Store) Sealed(ctx context.Context, partner string) (string, error) {
	var sl seal
	pk, sk := sealKey(partner)
	if _, err := s.getItem(ctx, pk, sk, &sl); err != nil {
		return "", err
	}
	return sl.Day, nil
}

// SealDay records that the roll-up begins to close day (a no-op when a later
// or the same day is sealed already). The roll-up reads the day's partials
// only after this write.
func (s *Store) SealDay(ctx context.Context, partner, day string) error {
	pk, sk := sealKey(partner)
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(pk, sk),
		UpdateExpression:          aws.String("SET #day = :day"),
		ConditionExpression:       aws.String("attribute_not_exists(#day) OR #day < :day"),
		ExpressionAttributeNames:  map[string]string{"#day": "day"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":day": &types.AttributeValueMemberS{Value: day}},
	})
	if err != nil && !isConditionFailure(err) {
		return fmt.Errorf("seal %s of %s: %w", day, partner, err)
	}
	return nil
}

// LateMark says that partial (Day, Shard) was written after its day was
// sealed; Last is the partial's last record when the mark was written.
type LateMark struct {
	Day   string `dynamodbav:"day"`
	Shard string `dynamodbav:"shard"`
	Last  string `dynamodbav:"last"`
}

// MarkLate marks partner's partial of day from shard late: it reads the
// partial (after the write that made it late) and writes the mark with its
// last record. Writing it again is harmless.
func (s *Store) MarkLate(ctx context.Context, partner, day, shard string) error {
	var p Partial
	pk, sk := partialKey(partner, day, shard)
	found, err := s.getItem(ctx, pk, sk, &p)
	if err != nil || !found {
		return err
	}
	mpk, msk := lateKey(partner, day, shard)
	it, err := item(LateMark{Day: day, Shard: shard, Last: p.Last}, mpk, msk)
	if err != nil {
		return err
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it}); err != nil {
		return fmt.Errorf("mark partial %s/%s of %s late: %w", day, shard, partner, err)
	}
	return nil
}

// DayPartials returns partner's partials of day, read consistently.
func (s *Store) DayPartials(ctx context.Context, partner, day string) ([]Partial, error) {
	items, err := s.queryAll(ctx, partialsPK(partner, day), "")
	if err != nil {
		return nil, fmt.Errorf("partials of %s for %s: %w", partner, day, err)
	}
	var out []Partial
	if err := attributevalue.UnmarshalListOfMaps(items, &out); err != nil {
		return nil, fmt.Errorf("unmarshal partials: %w", err)
	}
	return out, nil
}

// TakePartial records that the roll-up takes p's figures into its closed day
// (Taken = Figures at Last), once: a partial taken before comes back as it
// was taken, so concurrent runs close the day from the same figures. Call it
// only after the day is sealed.
func (s *Store) TakePartial(ctx context.Context, partner string, p Partial) (Partial, error) {
	pk, sk := partialKey(partner, p.Day, p.Shard)
	err := s.retry(ctx, "take partial "+p.Day+"/"+p.Shard+" of "+partner, func() error {
		if p.Taken != nil {
			return nil
		}
		figs, err := attributevalue.Marshal(p.Figures)
		if err != nil {
			return fmt.Errorf("marshal figures: %w", err)
		}
		out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.table), Key: key(pk, sk),
			UpdateExpression: aws.String("SET tk = :f, tkl = :last"),
			// Nobody took it meanwhile, and the consumer did not add to it
			// since it was read (Last names the figures).
			ConditionExpression:       aws.String("attribute_not_exists(tkl) AND #last = :last"),
			ExpressionAttributeNames:  map[string]string{"#last": "last"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":f": figs, ":last": &types.AttributeValueMemberS{Value: p.Last}},
			ReturnValues:              types.ReturnValueAllNew,
		})
		if isConditionFailure(err) {
			// Read it again: taken by a concurrent run, or added to.
			var fresh Partial
			found, err := s.getItem(ctx, pk, sk, &fresh)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("take partial %s/%s of %s: %w", p.Day, p.Shard, partner, ErrNotFound)
			}
			p = fresh
			return errConflict
		}
		if err != nil {
			return fmt.Errorf("take partial %s/%s of %s: %w", p.Day, p.Shard, partner, err)
		}
		p = Partial{}
		if err := attributevalue.UnmarshalMap(out.Attributes, &p); err != nil {
			return fmt.Errorf("unmarshal partial: %w", err)
		}
		return nil
	})
	return p, err
}

// Late is a late mark and its partial as read now (Found false: the
// partial is gone, expired).
type Late struct {
	Mark    LateMark
	Partial Partial
	Found   bool
}

// LatePartials returns up to limit of partner's late marks, oldest day
// first, each with its partial, all read consistently.
func (s *Store) LatePartials(ctx context.Context, partner string, limit int) ([]Late, error) {
	pk, _ := sealKey(partner)
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true), Limit: aws.Int32(int32(max(limit, 1))),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :late)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk}, ":late": &types.AttributeValueMemberS{Value: lateSKPrefix},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("late partials of %s: %w", partner, err)
	}
	var marks []LateMark
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &marks); err != nil {
		return nil, fmt.Errorf("unmarshal late marks: %w", err)
	}
	lates := make([]Late, 0, len(marks))
	for _, m := range marks {
		l := Late{Mark: m}
		ppk, psk := partialKey(partner, m.Day, m.Shard)
		if l.Found, err = s.getItem(ctx, ppk, psk, &l.Partial); err != nil {
			return nil, err
		}
		lates = append(lates, l)
	}
	return lates, nil
}

// Fold takes what a late partial received after it was taken into the day
// being closed: in CloseDay's transaction, the partial's Taken becomes Take
// (its figures when read, at TakeLast) and its late mark is deleted, on
// condition that the mark was not written again since it was read (a write
// to the partial after the read re-writes it: the closing run then reads
// again). Drop: only delete the mark (a partial nothing counts).
type Fold struct {
	Mark     LateMark
	Take     Figures
	TakeLast string
	Drop     bool
}

// MaxFolds: late partials folded into one closed day (two items each, beside
// the state and the day's figures in one transaction); more wait for the
// next day closed.
const MaxFolds = (maxTxItems - 2) / 2

func (s *Store) foldItems(partner string, folds []Fold) ([]types.TransactWriteItem, error) {
	if len(folds) > MaxFolds {
		return nil, fmt.Errorf("%d late partials of %s in one close, at most %d", len(folds), partner, MaxFolds)
	}
	var items []types.TransactWriteItem
	for _, f := range folds {
		if !f.Drop {
			figs, err := attributevalue.Marshal(f.Take)
			if err != nil {
				return nil, fmt.Errorf("marshal figures: %w", err)
			}
			pk, sk := partialKey(partner, f.Mark.Day, f.Mark.Shard)
			items = append(items, types.TransactWriteItem{Update: &types.Update{
				TableName: aws.String(s.table), Key: key(pk, sk),
				UpdateExpression:          aws.String("SET tk = :f, tkl = :last"),
				ConditionExpression:       aws.String("attribute_exists(pk)"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":f": figs, ":last": &types.AttributeValueMemberS{Value: f.TakeLast}},
			}})
		}
		pk, sk := lateKey(partner, f.Mark.Day, f.Mark.Shard)
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{
			TableName: aws.String(s.table), Key: key(pk, sk),
			ConditionExpression:       aws.String("#last = :last"),
			ExpressionAttributeNames:  map[string]string{"#last": "last"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":last": &types.AttributeValueMemberS{Value: f.Mark.Last}},
		}})
	}
	return items, nil
}

// markActive records on the member the activity days of the entries the
// transaction books (ledger.MarkActive: the stats roll-up's active members).
func (tx *LedgerTx) markActive() error {
	if !slices.ContainsFunc(tx.entries, ledger.IsActivity) {
		return nil
	}
	p, err := tx.s.Program(tx.ctx, tx.Member.PartnerID)
	if err != nil {
		return err
	}
	ledger.MarkActive(&tx.Member, p.Location(), tx.entries...)
	return nil
}
