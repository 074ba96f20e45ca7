package store

import (
	"encoding/base64"
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrBadCursor: a pagination cursor that this store did not hand out (for
// this list of this partner), or one that was tampered with.
var ErrBadCursor = errors.New("invalid cursor")

// Cursors are the one codec of every paginated list of the store: a
// LastEvaluatedKey of string attributes, quoted and base64url-encoded. A
// cursor only ever continues the list it came from: decodeCursor checks that
// its partition key is the list's, and that every key value is one DynamoDB
// accepts (present, valid UTF-8, within the key size limits) and, where the
// list's sort keys have a format, of that format. So a forged cursor is a
// client error (ErrBadCursor), never a DynamoDB validation failure (a 500),
// and never a read of another partition.

// maxCursorLen bounds a cursor's text (three key values of at most 2048 and
// 1024 bytes, quoted and base64-encoded, fit well below it).
const maxCursorLen = 8192

// Key size limits of DynamoDB: a partition key value up to 2048 bytes, a sort
// key value up to 1024 bytes.
const (
	maxPartitionKeyBytes = 2048
	maxSortKeyBytes      = 1024
)

// cursorKey is one attribute of a cursor and how its values are checked.
type cursorKey struct {
	attr  string
	valid func(string) bool // nil: any value within the size limit
}

// encodeCursor turns a LastEvaluatedKey into an opaque cursor ("" when the
// page is the last).
func encodeCursor(k map[string]types.AttributeValue, attrs ...cursorKey) string {
	if len(k) == 0 {
		return ""
	}
	var b []byte
	for _, a := range attrs {
		v, _ := k[a.attr].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		b = strconv.AppendQuote(b, v.Value)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor decodes a cursor of encodeCursor whose partition key (the
// first attribute, AttrPK) must be pk.
func decodeCursor(c, pk string, attrs ...cursorKey) (map[string]types.AttributeValue, error) {
	if c == "" || len(c) > maxCursorLen {
		return nil, ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, ErrBadCursor
	}
	k := map[string]types.AttributeValue{}
	rest := string(raw)
	for i, a := range attrs {
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return nil, ErrBadCursor
		}
		v, err := strconv.Unquote(q)
		// Only the canonical quoting encodeCursor writes is accepted.
		if err != nil || strconv.Quote(v) != q || !validKeyValue(v, i == 0) || (a.valid != nil && !a.valid(v)) {
			return nil, ErrBadCursor
		}
		k[a.attr] = &types.AttributeValueMemberS{Value: v}
		rest = rest[len(q):]
	}
	if rest != "" {
		return nil, ErrBadCursor
	}
	if got, _ := k[AttrPK].(*types.AttributeValueMemberS); got == nil || got.Value != pk {
		return nil, ErrBadCursor
	}
	return k, nil
}

// validKeyValue reports whether DynamoDB accepts v as a key value.
func validKeyValue(v string, partition bool) bool {
	limit := maxSortKeyBytes
	if partition {
		limit = maxPartitionKeyBytes
	}
	return v != "" && len(v) <= limit && utf8.ValidString(v)
}

// cursorSeq names the seq of a ledger cursor (no attribute of the table).
const cursorSeq = "before"

// The cursor shapes of the store's lists.
var (
	curPK = cursorKey{attr: AttrPK}
	curSK = cursorKey{attr: AttrSK}
	// curSeq: the ledger listing's, below an entry's seq (ledgerCursor).
	curSeq = cursorKey{attr: cursorSeq, valid: isLedgerSK}
	// curImportRejSK: a rejected line of an import (importRejectionSK).
	curImportRejSK = cursorKey{attr: AttrSK, valid: isImportRejectionSK}
)
