package store

// The items of the stats roll-up (package rollup computes the figures; this
// file reads and writes them):
//
//	OPS#PARTNERS       | {partner}     the partner registry: every partner and when it was registered
//	                                   (written by PutProgram), so that jobs enumerate partners without a Scan
//	P#{partner}#STATS  | STATE         the roll-up state: the last closed day, the instant its window ends,
//	                                   the outstanding points and debt at that instant, a version
//	P#{partner}#STATS  | {yyyy-mm-dd}  one day's figures (DayStats, stats.go): final once the day is closed,
//	                                   "so far" (final = false) for the days after the last closed one
//
// A closed day is written in one transaction with the state's advance,
// conditional on the state's version the computation started from; "so far"
// figures are written conditional on that version too, so that nothing a slow
// or concurrent run computed from an older state lands after a newer one.

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

	"github.com/accrue/accrue/shared/ledger"
)

// RollupState is how far a partner's stats roll-up has got.
type RollupState struct {
	// Closed is the last closed day (yyyy-mm-dd, program time zone).
	Closed string `dynamodbav:"closed" json:"closed"`
	// Through is the end of Closed's window: the entries before it are
	// counted in closed days, those at or after it in the days after Closed.
	Through time.Time `dynamodbav:"through" json:"through"`
	// Outstanding and Debt are the partner's totals at Through.
	Outstanding int64 `dynamodbav:"outstanding" json:"outstanding"`
	Debt        int64 `dynamodbav:"debt" json:"debt"`
	// Version counts the closed days; 0 = no state yet.
	Version int64 `dynamodbav:"ver" json:"version"`
}

// ErrRollupMoved: the roll-up state is no longer at the version the caller
// read (another run advanced it). Re-read it and go on from there.
var ErrRollupMoved = errors.New("roll-up state moved")

// RollupState returns partner's roll-up state (read consistently); found is
// false when no day has been closed yet.
func (s *Store) RollupState(ctx context.Context, partner string) (st RollupState, found bool, err error) {
	found, err = s.getItem(ctx, statsPK(partner), skRollupState, &st)
	return st, found, err
}

// stateCondition is the condition that the state is still at version v.
func stateCondition(v int64) (string, map[string]types.AttributeValue) {
	if v == 0 {
		return "attribute_not_exists(pk)", nil
	}
	return "ver = :v", map[string]types.AttributeValue{":v": num(v)}
}

// CloseDay writes a closed day's final figures and advances the state to next
// (its Version is set to prevVersion+1) in one transaction, on condition that
// the state is still at prevVersion (ErrRollupMoved otherwise).
func (s *Store) CloseDay(ctx context.Context, partner string, prevVersion int64, day DayStats, next RollupState) error {
	if !day.Final || day.Day != next.Closed {
		return fmt.Errorf("close day %s of %s: figures must be final and for the day closed (%s)", day.Day, partner, next.Closed)
	}
	next.Version = prevVersion + 1
	dit, err := item(day, statsPK(partner), day.Day)
	if err != nil {
		return err
	}
	sit, err := item(next, statsPK(partner), skRollupState)
	if err != nil {
		return err
	}
	cond, vals := stateCondition(prevVersion)
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.table), Item: sit, ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: dit}},
	}})
	if isConditionFailure(err) {
		return fmt.Errorf("close day %s of %s: %w", day.Day, partner, ErrRollupMoved)
	}
	if err != nil {
		return fmt.Errorf("close day %s of %s: %w", day.Day, partner, err)
	}
	return nil
}

// PutDayStats writes the figures so far of a day that is not closed yet
// (day.Final false), on condition that the state is still at stateVersion and
// that the item holds no final figures nor figures as of a later instant
// (ErrRollupMoved otherwise).
func (s *Store) PutDayStats(ctx context.Context, partner string, stateVersion int64, day DayStats) error {
	if day.Final {
		return fmt.Errorf("day %s of %s: final figures are written by CloseDay", day.Day, partner)
	}
	dit, err := item(day, statsPK(partner), day.Day)
	if err != nil {
		return err
	}
	dit[attrAsOfNanos] = num(day.AsOf.UnixNano())
	cond, vals := stateCondition(stateVersion)
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String(s.table), Key: key(statsPK(partner), skRollupState),
			ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals,
		}},
		{Put: &types.Put{
			TableName: aws.String(s.table), Item: dit,
			ConditionExpression:      aws.String("attribute_not_exists(pk) OR (#final = :false AND #asn <= :asn)"),
			ExpressionAttributeNames: map[string]string{"#final": "final", "#asn": attrAsOfNanos},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":false": &types.AttributeValueMemberBOOL{Value: false},
				":asn":   dit[attrAsOfNanos],
			},
		}},
	}})
	if isConditionFailure(err) {
		return fmt.Errorf("figures so far of %s for %s: %w", partner, day.Day, ErrRollupMoved)
	}
	if err != nil {
		return fmt.Errorf("figures so far of %s for %s: %w", partner, day.Day, err)
	}
	return nil
}

// attrAsOfNanos: DayStats.AsOf in unix nanoseconds, for the condition of
// PutDayStats (RFC 3339 strings do not compare in time order).
const attrAsOfNanos = "asn"

// DayEntry is what the day index holds of a ledger entry
// (DayIndexAttributes).
type DayEntry struct {
	PartnerID string          `dynamodbav:"partner"`
	MemberID  string          `dynamodbav:"member"`
	Kind      ledger.Kind     `dynamodbav:"kind"`
	At        time.Time       `dynamodbav:"at"`
	Points    int64           `dynamodbav:"pts"`
	Delta     ledger.Balances `dynamodbav:"d"`
}

// DayBucket is the day-index bucket of a member's entries.
func DayBucket(partner, member string) int {
	return int(bucket(memberPK(partner, member), DayBuckets))
}

// DayEntries reads partner's entries of one UTC day (yyyy-mm-dd) in one bucket
// from the day index, page by page, passing each page to fn. The index is
// eventually consistent: an entry committed a moment ago may be missing.
func (s *Store) DayEntries(ctx context.Context, partner, utcDay string, bucket int, fn func([]DayEntry) error) error {
	if bucket < 0 || bucket >= DayBuckets {
		return fmt.Errorf("day bucket %d out of 0..%d", bucket, DayBuckets-1)
	}
	kc := expression.Key(AttrDayKey).Equal(expression.Value(DayPartition(partner, utcDay, bucket)))
	proj := expression.NamesList(expression.Name("partner"), expression.Name("member"), expression.Name("kind"),
		expression.Name("at"), expression.Name("pts"), expression.Name("d"))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).WithProjection(proj).Build()
	if err != nil {
		return fmt.Errorf("build day query: %w", err)
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: aws.String(s.table), IndexName: aws.String(IndexDay),
		KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query day %s/%d of %s: %w", utcDay, bucket, partner, err)
		}
		var es []DayEntry
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &es); err != nil {
			return fmt.Errorf("unmarshal day entries: %w", err)
		}
		if err := fn(es); err != nil {
			return err
		}
	}
	return nil
}
