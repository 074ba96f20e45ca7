package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
// of the jobs: its lot's expiry or warning, and the instant its qualifying
// points leave the tier window; and its release time earlier for a pending
// lot (releases are booked by the member's next write, not by a job).
func lowerDue(m *ledger.Member, p *program.Program, e *ledger.Entry) {
	m.LowerDue(jobs.LotDue(m, e, p))
	m.LowerDue(jobs.TierDue(m, e, p))
	m.LowerRelease(jobs.ReleaseTime(e))
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
