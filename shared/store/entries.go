package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
)

// A member's ledger is read from the table itself: its entries are the two
// sort-key ranges of its partition, E#{seq} (ordered by seq) and
// PAY#{payment}#S|R (the payments' entries, keyed for deduplication, in
// payment id order). There is no local secondary index: one cost a write
// unit per entry, and it capped every item collection of the table at 10 GB
// and kept DynamoDB from splitting a hot one (issue #11, docs/scale.md). What
// it cost instead: a page of the ledger listing reads all the member's
// payment entries (one Query; a member with 1,000 payments is ~500 KB, ~63
// read units eventually consistent) beside the page's other entries.

// entryRange reads the entries of one sort-key range of pk, in key order
// (descending when desc), consistently, up to limit (0: all), and reports
// whether more remain.
func (s *Store) entryRange(ctx context.Context, pk, lo, hi string, desc bool, limit int) ([]ledger.Entry, bool, error) {
	in := s.rangeQuery(pk, lo, hi, desc)
	if limit > 0 {
		in.Limit = aws.Int32(int32(min(limit+1, 1000)))
	}
	var out []ledger.Entry
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("query ledger of %s: %w", pk, err)
		}
		var es []ledger.Entry
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &es); err != nil {
			return nil, false, fmt.Errorf("unmarshal ledger: %w", err)
		}
		out = append(out, es...)
		if limit > 0 && len(out) > limit {
			return out[:limit], true, nil
		}
	}
	return out, false, nil
}

// rangeQuery is a consistent Query of the items of pk whose sort key lies
// between lo and hi (inclusive), in key order or, desc, newest first.
func (s *Store) rangeQuery(pk, lo, hi string, desc bool) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk},
			":lo": &types.AttributeValueMemberS{Value: lo},
			":hi": &types.AttributeValueMemberS{Value: hi},
		},
		ScanIndexForward: aws.Bool(!desc),
	}
}

// Sort-key bounds of the two ranges of entries: "$" follows "#", so every
// key that starts with "E#" (or "PAY#") sorts between "E#" and "E$".
var (
	entriesLo, entriesHi   = pfxEntry, strings.TrimSuffix(pfxEntry, "#") + "$"
	paymentsLo, paymentsHi = pfxPayment, strings.TrimSuffix(pfxPayment, "#") + "$"
)

// memberEntries reads all of a member's ledger entries, oldest first (by
// seq).
func (s *Store) memberEntries(ctx context.Context, partner, member string) ([]ledger.Entry, error) {
	pk := memberPK(partner, member)
	es, _, err := s.entryRange(ctx, pk, entriesLo, entriesHi, false, 0)
	if err != nil {
		return nil, err
	}
	ps, _, err := s.entryRange(ctx, pk, paymentsLo, paymentsHi, false, 0)
	if err != nil {
		return nil, err
	}
	all := append(es, ps...)
	slices.SortFunc(all, func(a, b ledger.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	return all, nil
}

// ledgerPage is the page of a member's ledger newest first: at most limit
// entries with a seq below before (0: from the newest), and whether older
// ones remain. The page's other entries are the newest of the E# range below
// before (read up to limit, in key order); its payment entries come from the
// whole PAY# range.
func (s *Store) ledgerPage(ctx context.Context, pk string, before int64, limit int) ([]ledger.Entry, bool, error) {
	hi := entriesHi
	if before > 0 {
		if before == 1 {
			return nil, false, nil
		}
		hi = entrySK(before - 1)
	}
	es, moreE, err := s.entryRange(ctx, pk, entriesLo, hi, true, limit)
	if err != nil {
		return nil, false, err
	}
	ps, _, err := s.entryRange(ctx, pk, paymentsLo, paymentsHi, false, 0)
	if err != nil {
		return nil, false, err
	}
	all := es
	for _, e := range ps {
		if before == 0 || e.Seq < before {
			all = append(all, e)
		}
	}
	slices.SortFunc(all, func(a, b ledger.Entry) int { return cmp.Compare(b.Seq, a.Seq) })
	if len(all) > limit {
		return all[:limit], true, nil
	}
	return all, moreE, nil
}

// ledgerCursor is the cursor of the ledger page that continues below seq;
// parseLedgerCursor its inverse (ErrBadCursor: not one of this member's).
func ledgerCursor(pk string, seq int64) string {
	return encodeCursor(map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: pk}, cursorSeq: &types.AttributeValueMemberS{Value: ledgerSK(seq)},
	}, curPK, curSeq)
}

func parseLedgerCursor(c, pk string) (int64, error) {
	k, err := decodeCursor(c, pk, curPK, curSeq)
	if err != nil {
		return 0, err
	}
	v := k[cursorSeq].(*types.AttributeValueMemberS).Value
	seq, err := strconv.ParseInt(strings.TrimPrefix(v, pfxLedger), 10, 64)
	if err != nil || seq < 1 {
		return 0, ErrBadCursor
	}
	return seq, nil
}
