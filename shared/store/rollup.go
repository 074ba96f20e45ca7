package store

// The items of the stats roll-up (package rollup computes the figures; this
// file reads and writes them; partials.go holds what the roll-up sums):
//
//	OPS#PARTNERS       | {partner}     the partner registry: every partner and when it was registered
//	                                   (written by PutProgram), so that jobs enumerate partners without a Scan
//	P#{partner}#STATS  | STATE         the roll-up state: the last closed day, the instant its window ends,
//	                                   the outstanding points and debt at that instant, a version
//	P#{partner}#STATS  | {yyyy-mm-dd}  one day's figures (DayStats, stats.go): final once the day is closed,
//	                                   "so far" (final = false) for the days after the last closed one
//
// A closed day is written in one transaction with the state's advance (and
// the late partials it folds in), conditional on the state's version the
// computation started from; "so far" figures are written conditional on that
// version too, so that nothing a slow or concurrent run computed from an
// older state lands after a newer one.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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
	// PartialsFrom is the first day closed from the stream's partial figures
	// (partials.go): late partials of earlier days (closed before the stats
	// consumer existed, from an index that no longer exists) count nowhere.
	PartialsFrom string `dynamodbav:"pfrom,omitempty" json:"partials_from,omitempty"`
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
// the state is still at prevVersion, with the folds of the late partials the
// figures count (see Fold; ErrRollupMoved when a condition fails).
func (s *Store) CloseDay(ctx context.Context, partner string, prevVersion int64, day DayStats, next RollupState, folds []Fold) error {
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
	fits, err := s.foldItems(partner, folds)
	if err != nil {
		return err
	}
	cond, vals := stateCondition(prevVersion)
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append([]types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.table), Item: sit, ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: dit}},
	}, fits...)})
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
