package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
)

// ReviewItem is an accrual held by a fraud limit, waiting for an admin's
// decision (GET /v1/review). It is written in the accrual's own transaction,
// only for held accruals, and deleted in the transaction that decides it
// (Approve or Reject).
type ReviewItem struct {
	// ID is opaque: the item's sort key, base64url-encoded (see ReviewQueue).
	ID          string    `dynamodbav:"-" json:"id"`
	MemberID    string    `dynamodbav:"member" json:"member_id"`
	PaymentID   string    `dynamodbav:"pid" json:"payment_id"`
	EventID     string    `dynamodbav:"eid" json:"event_id"`
	Points      int64     `dynamodbav:"pts" json:"points"`
	Reasons     []string  `dynamodbav:"reasons" json:"reasons"`
	HeldAt      time.Time `dynamodbav:"held" json:"held_at"`
	AmountMinor int64     `dynamodbav:"amt" json:"amount_minor"`
	Currency    string    `dynamodbav:"cur" json:"currency"`
	// RefundedMinor: refunds of the payment so far; Points is what is left
	// of the held points after them (a refund in full removes the item).
	RefundedMinor int64 `dynamodbav:"rfm,omitempty" json:"refunded_minor,omitempty"`
	// LotSK is the key of the held entry in the member's partition when it is
	// not the payment's own key (PAY#{payment_id}#S): set on the items of an
	// erased member, whose entries were re-keyed (see Erase).
	LotSK string `dynamodbav:"lot,omitempty" json:"-"`
}

// lotKey is the key of the held earn entry in the member's partition.
func (r *ReviewItem) lotKey() string {
	if r.LotSK != "" {
		return r.LotSK
	}
	return paymentSK(r.PaymentID, payment.TypeSucceeded)
}

// Errors of review decisions.
var (
	// ErrReviewNotFound: no pending review item has this id for this partner
	// (unknown, another partner's, or already decided). It is also ErrNotFound.
	ErrReviewNotFound = fmt.Errorf("review item %w", ErrNotFound)
)

func reviewID(sk string) string { return base64.RawURLEncoding.EncodeToString([]byte(sk)) }

func reviewSKOf(id string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(b) == 0 {
		return "", fmt.Errorf("%q: %w", id, ErrReviewNotFound)
	}
	return string(b), nil
}

// ReviewQueue lists a partner's accruals held for review, oldest first. The
// cursor is opaque (ErrBadCursor when it is not one this method handed out for
// this partner).
func (s *Store) ReviewQueue(ctx context.Context, partner string, limit int32, cursor string) (Page[ReviewItem], error) {
	if limit <= 0 {
		limit = 50
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: reviewPK(partner)}},
		ScanIndexForward:          aws.Bool(true), Limit: aws.Int32(limit),
	}
	page := Page[ReviewItem]{Items: []ReviewItem{}}
	if cursor != "" {
		k, err := decodeCursor(cursor, reviewPK(partner), curPK, curSK)
		if err != nil {
			return page, err
		}
		in.ExclusiveStartKey = k
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return page, fmt.Errorf("query review queue of %s: %w", partner, err)
	}
	for _, it := range out.Items {
		r, err := unmarshalReview(it)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, r)
	}
	page.Next = encodeCursor(out.LastEvaluatedKey, curPK, curSK)
	return page, nil
}

func unmarshalReview(it map[string]types.AttributeValue) (ReviewItem, error) {
	var r ReviewItem
	if err := attributevalue.UnmarshalMap(it, &r); err != nil {
		return r, fmt.Errorf("unmarshal review item: %w", err)
	}
	if sk, ok := it[AttrSK].(*types.AttributeValueMemberS); ok {
		r.ID = reviewID(sk.Value)
	}
	return r, nil
}

// Approve releases the points of a held accrual. In one transaction on the
// member (UpdateLedger): the held entry's lot leaves review for available (or
// for pending, see below), a new "release" entry records the move (review −n;
// available +n, repaying debt first as any available credit does, or pending
// +n; lifetime +n), the n points count toward the tier (an upgrade happens at
// once, never a downgrade), the review item is deleted (conditional on its
// existence) and an audit record names the actor.
//
// Pending period: the refund window counts from the accrual, not from the
// approval. If the program has pending_days and the window of the original
// accrual has not ended, the points become pending until its end (the lot's
// AvailableAt); otherwise they are available at once.
//
// n is what is left of the held lot: a partial refund of a held payment
// reduces it. A hold with nothing left (0 points, or refunded in full while
// held) is decided with a 0-point entry, so that it leaves the queue.
//
// An unknown, foreign or already decided id fails with ErrReviewNotFound; of
// concurrent decisions on one item exactly one applies, the others get
// ErrReviewNotFound. The member's status does not matter: a decision only
// settles points that were earned before.
func (s *Store) Approve(ctx context.Context, partner, reviewID, actor string) (ledger.Member, ledger.Entry, error) {
	return s.decide(ctx, partner, reviewID, actor, "", true)
}

// Reject refuses the points of a held accrual, in the same transaction shape
// as Approve: the lot leaves review (state none, nothing remaining), a
// "reverse" entry records it (review −n) with the reason, the review item is
// deleted and an audit record names the actor. Held points never counted in
// lifetime or qualifying points, so nothing else changes.
//
// Out of scope: held points were counted against the program's monthly
// budget and the campaigns' budgets when accrued; a rejection does not give
// them back (nor the member's day/month cap counters).
func (s *Store) Reject(ctx context.Context, partner, reviewID, actor, reason string) (ledger.Member, ledger.Entry, error) {
	return s.decide(ctx, partner, reviewID, actor, reason, false)
}

func (s *Store) decide(ctx context.Context, partner, id, actor, reason string, approve bool) (ledger.Member, ledger.Entry, error) {
	sk, err := reviewSKOf(id)
	if err != nil {
		return ledger.Member{}, ledger.Entry{}, err
	}
	p, err := s.Program(ctx, partner)
	if errors.Is(err, ErrUnknownPartner) {
		return ledger.Member{}, ledger.Entry{}, fmt.Errorf("%q: %w", id, ErrReviewNotFound)
	}
	if err != nil {
		return ledger.Member{}, ledger.Entry{}, err
	}
	first, err := s.reviewItem(ctx, partner, sk)
	if err != nil {
		return ledger.Member{}, ledger.Entry{}, err
	}
	var booked ledger.Entry
	m, err := s.UpdateLedger(ctx, partner, first.MemberID, func(tx *LedgerTx) error {
		// The lot first, then the item again (on every attempt): a decision
		// committed before the lot was read has deleted the item by then.
		lot, lotErr := tx.Lot(first.lotKey())
		if lotErr != nil && !errors.Is(lotErr, ErrNotFound) {
			return lotErr
		}
		rv, err := s.reviewItem(ctx, partner, sk)
		if err != nil {
			return err
		}
		if rv.MemberID != tx.Member.ID {
			return fmt.Errorf("%q: %w", id, ErrReviewNotFound) // re-keyed by an erase meanwhile
		}
		if lotErr != nil {
			return fmt.Errorf("held entry %s of %s: %w", rv.lotKey(), rv.MemberID, ledger.ErrNotInReview)
		}
		var e ledger.Entry
		action := AuditReviewReject
		if approve {
			action = AuditReviewApprove
			e, err = ledger.Approve(&tx.Member, lot, p, actor, tx.Now)
		} else {
			e, err = ledger.Reject(&tx.Member, lot, reason, actor, tx.Now)
		}
		if err != nil {
			return err
		}
		tx.Changed(lot)
		booked = *tx.booked(e)
		tx.t.deleteExisting(reviewPK(partner), sk)
		return tx.t.audit(partner, AuditRecord{At: tx.Now.UTC(), Actor: actor, Action: action, MemberID: tx.Member.ID,
			Points: e.Points, Reason: reason, Entry: e.Seq})
	})
	if errors.Is(err, ErrMemberNotFound) {
		// The member was erased between the two reads: its items were re-keyed.
		return m, booked, fmt.Errorf("%q: %w", id, ErrReviewNotFound)
	}
	return m, booked, err
}

// reviewItem reads one pending review item of partner.
func (s *Store) reviewItem(ctx context.Context, partner, sk string) (ReviewItem, error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(reviewPK(partner), sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return ReviewItem{}, fmt.Errorf("get review item of %s: %w", partner, err)
	}
	if res.Item == nil {
		return ReviewItem{}, fmt.Errorf("%q: %w", reviewID(sk), ErrReviewNotFound)
	}
	return unmarshalReview(res.Item)
}

// memberReviews returns the pending review items of one member (a filtered
// query of the partner's queue: the queue holds only undecided holds).
func (s *Store) memberReviews(ctx context.Context, partner, member string) ([]ReviewItem, error) {
	its, err := s.queryAll(ctx, reviewPK(partner), member)
	if err != nil {
		return nil, err
	}
	out := make([]ReviewItem, 0, len(its))
	for _, it := range its {
		r, err := unmarshalReview(it)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// queryAll reads a whole partition consistently; with member set, only the
// items whose "member" attribute (or one of alsoAttrs) is member.
func (s *Store) queryAll(ctx context.Context, pk, member string, alsoAttrs ...string) ([]map[string]types.AttributeValue, error) {
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
	}
	if member != "" {
		filter := "#m = :m"
		in.ExpressionAttributeNames = map[string]string{"#m": "member"}
		for i, a := range alsoAttrs {
			n := fmt.Sprintf("#a%d", i)
			in.ExpressionAttributeNames[n] = a
			filter += " OR " + n + " = :m"
		}
		in.FilterExpression = aws.String(filter)
		in.ExpressionAttributeValues[":m"] = &types.AttributeValueMemberS{Value: member}
	}
	var out []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", pk, err)
		}
		out = append(out, page.Items...)
	}
	return out, nil
}
