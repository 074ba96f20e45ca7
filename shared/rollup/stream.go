package rollup

import (
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/store"
)

// ErrUnreadable: a stream record that may carry figures cannot be read (a
// bad image, a sequence number that is not one). The consumer stops at it
// and the event source retries it; it is never skipped silently.
var ErrUnreadable = errors.New("unreadable stream record")

// Change is what one stream record adds to one partner's figures of one
// local day.
type Change struct {
	// Index is the record's position in its batch; Seq its sequence number,
	// zero-padded (store.PadSeq).
	Index   int
	Seq     string
	Partner string
	Day     string
	Figures Figures
}

// Locator returns the time zone of a partner's program (the consumer's
// reads the program through the store's cache).
type Locator func(partner string) (*time.Location, error)

// Stream event names.
const (
	eventInsert = "INSERT"
	eventModify = "MODIFY"
)

// entryAttrs are the attributes of a ledger entry's image the figures need
// (the rest, breakdown and lot, is not converted).
var entryAttrs = []string{"partner", "member", "kind", "at", "pts", "d", store.AttrMoved}

// entryImage is what the figures read of a ledger entry.
type entryImage struct {
	PartnerID string          `dynamodbav:"partner"`
	MemberID  string          `dynamodbav:"member"`
	Kind      ledger.Kind     `dynamodbav:"kind"`
	At        time.Time       `dynamodbav:"at"`
	Points    int64           `dynamodbav:"pts"`
	Delta     ledger.Balances `dynamodbav:"d"`
	Moved     bool            `dynamodbav:"mv"`
}

// memberImage is what the figures read of a member.
type memberImage struct {
	Status     ledger.Status `dynamodbav:"status"`
	ActiveDays []string      `dynamodbav:"adays"`
}

var memberAttrs = []string{"status", "adays"}

// Changes returns what the stream record at index i of its batch adds to the
// figures (nothing, for most records):
//
//   - the INSERT of a ledger entry: its figures (Of) on its local day in the
//     program's time zone (loc). Entries are append-only: their MODIFYs
//     change only lot fields, and their REMOVEs (GDPR erase) delete an entry
//     whose copy was made, so neither counts. The copy itself (store.AttrMoved)
//     is not a new entry either.
//   - the INSERT or MODIFY of a member whose activity days
//     (ledger.MarkActive) gained a day: one active member on that day. The
//     INSERT of an anonymised member (a GDPR erase moving a member already
//     counted) adds nothing.
//
// An unbalanced entry is returned with its figures (Unbalanced 1, which stops
// the day's close) and an error wrapping ErrUnbalanced, to be logged. Any
// other error wraps ErrUnreadable, or is loc's.
func Changes(rec events.DynamoDBEventRecord, i int, loc Locator) ([]Change, error) {
	if rec.EventName != eventInsert && rec.EventName != eventModify {
		return nil, nil
	}
	keys := rec.Change.Keys
	if keys == nil {
		keys = rec.Change.NewImage
	}
	pk, sk := keys[store.AttrPK], keys[store.AttrSK]
	if pk.DataType() != events.DataTypeString || sk.DataType() != events.DataTypeString {
		return nil, fmt.Errorf("%w: no string pk/sk in its keys", ErrUnreadable)
	}
	key := store.ParseKey(pk.String(), sk.String())
	switch {
	case key.IsEntry() && rec.EventName == eventInsert:
		return entryChanges(rec, i, key, loc)
	case key.Kind == store.ItemMember:
		return memberChanges(rec, i, key)
	}
	return nil, nil
}

func entryChanges(rec events.DynamoDBEventRecord, i int, key store.ItemKey, loc Locator) ([]Change, error) {
	var e entryImage
	if err := decode(rec.Change.NewImage, entryAttrs, &e); err != nil {
		return nil, err
	}
	if e.Moved {
		return nil, nil
	}
	if e.PartnerID != key.Partner || e.Kind == "" || e.At.IsZero() {
		return nil, fmt.Errorf("%w: entry of %q, kind %q at %s under %s's key", ErrUnreadable, e.PartnerID, e.Kind, e.At, key.Partner)
	}
	seq, err := store.PadSeq(rec.Change.SequenceNumber)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	l, err := loc(key.Partner)
	if err != nil {
		return nil, err
	}
	f, ferr := Of(ledger.Entry{PartnerID: e.PartnerID, MemberID: e.MemberID, Kind: e.Kind, At: e.At, Points: e.Points, Delta: e.Delta})
	return []Change{{Index: i, Seq: seq, Partner: key.Partner, Day: ledger.LocalDay(e.At, l), Figures: f}}, ferr
}

func memberChanges(rec events.DynamoDBEventRecord, i int, key store.ItemKey) ([]Change, error) {
	var after, before memberImage
	if err := decode(rec.Change.NewImage, memberAttrs, &after); err != nil {
		return nil, err
	}
	if rec.EventName == eventInsert && after.Status == ledger.StatusErased {
		return nil, nil
	}
	if rec.EventName == eventModify {
		if rec.Change.OldImage == nil {
			return nil, fmt.Errorf("%w: member MODIFY without its old image (the stream must be %s)", ErrUnreadable, store.StreamViewType)
		}
		if err := decode(rec.Change.OldImage, memberAttrs, &before); err != nil {
			return nil, err
		}
	}
	days := ledger.NewActiveDays(before.ActiveDays, after.ActiveDays)
	if len(days) == 0 {
		return nil, nil
	}
	seq, err := store.PadSeq(rec.Change.SequenceNumber)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	out := make([]Change, 0, len(days))
	for _, d := range days {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return nil, fmt.Errorf("%w: member activity day %q", ErrUnreadable, d)
		}
		out = append(out, Change{Index: i, Seq: seq, Partner: key.Partner, Day: d, Figures: Figures{ActiveMembers: 1}})
	}
	return out, nil
}

// decode unmarshals the attributes names of a stream image into out.
func decode(img map[string]events.DynamoDBAttributeValue, names []string, out any) error {
	if img == nil {
		return fmt.Errorf("%w: no new image (the stream must be %s)", ErrUnreadable, store.StreamViewType)
	}
	some := make(map[string]events.DynamoDBAttributeValue, len(names))
	for _, n := range names {
		if v, ok := img[n]; ok {
			some[n] = v
		}
	}
	av, err := domainevents.SDKImage(some)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	if err := attributevalue.UnmarshalMap(av, out); err != nil {
		return fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	return nil
}

// chunk is a run of one partner's changes of one shard, summed by day: what
// one store transaction applies.
type chunk struct {
	store.StreamChunk
	changes []Change
}

// chunks sums one partner's changes (in stream order) by day, in chunks of
// at most store.MaxChunkDays days.
func chunks(shard string, cs []Change) []chunk {
	var out []chunk
	var days map[string]int // day → its index in the current chunk's Days
	for _, c := range cs {
		if _, ok := days[c.Day]; len(out) == 0 || (!ok && len(days) == store.MaxChunkDays) {
			out = append(out, chunk{StreamChunk: store.StreamChunk{Shard: shard, First: c.Seq}})
			days = map[string]int{}
		}
		ch := &out[len(out)-1]
		d, ok := days[c.Day]
		if !ok {
			d = len(ch.Days)
			days[c.Day] = d
			ch.Days = append(ch.Days, store.DayDelta{Day: c.Day})
		}
		ch.Days[d].Figures.Add(c.Figures)
		ch.Days[d].Last = c.Seq
		ch.Last = c.Seq
		ch.changes = append(ch.changes, c)
	}
	return out
}

// after returns the changes of records after the padded sequence number last.
func after(cs []Change, last string) []Change {
	var out []Change
	for _, c := range cs {
		if c.Seq > last {
			out = append(out, c)
		}
	}
	return out
}
