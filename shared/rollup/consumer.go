package rollup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// ConsumerStore is the part of the store the stats consumer uses (*store.Store).
type ConsumerStore interface {
	Program(ctx context.Context, partner string) (*program.Program, error)
	ApplyStreamChunk(ctx context.Context, partner string, c store.StreamChunk) error
	StreamProgress(ctx context.Context, partner, shard string) (string, error)
	Sealed(ctx context.Context, partner string) (string, error)
	MarkLate(ctx context.Context, partner, day, shard string) error
}

// Consumer is the stats consumer: the handler of the table's stream that
// sums ledger entries and members' activity into partial figures per
// partner, local day and stream shard (see the package doc).
type Consumer struct {
	store ConsumerStore
	log   *slog.Logger
}

// NewConsumer returns the stats consumer on st, logging to log.
func NewConsumer(st ConsumerStore, log *slog.Logger) *Consumer {
	return &Consumer{store: st, log: log}
}

// WireConsumer builds the consumer of the stats function on table.
func WireConsumer(db store.DynamoDB, table string, log *slog.Logger) *Consumer {
	return NewConsumer(store.New(db, table), log)
}

// ConsumerLambda is the stats function's handler (functions/stats): the
// stream consumer with partial batch responses.
func ConsumerLambda(db *dynamodb.Client, table string, log *slog.Logger) any {
	return WireConsumer(db, table, log).Handle
}

// ErrNoShard: a batch without its shard id. The stream event source sends it
// only with a tumbling window configured (infra/stack: the stats function's
// StreamTrigger); without it, the partial items would have no single writer.
var ErrNoShard = errors.New("stream batch without its shard id: the event source mapping needs a tumbling window")

// Handle is the Lambda handler of the table's stream (an event source
// mapping with a tumbling window, for the shard id, and
// ReportBatchItemFailures). It reads the batch's records in order, sums what
// they add by partner and day (Changes), and applies each partner's sums in
// one transaction with the shard's progress (store.ApplyStreamChunk), which
// skips what was applied before: a batch delivered again, whole or in part,
// adds nothing twice. Then it marks late the partials of days the roll-up
// has sealed. It reports the first record not applied (an unreadable
// record, a partner whose write failed) as the batch item failure; the event
// source delivers the batch again from there. Tumbling windows want a state
// in the response; the consumer keeps none there (the table holds it).
func (c *Consumer) Handle(ctx context.Context, ev events.DynamoDBTimeWindowEvent) (events.DynamoDBTimeWindowEventResponse, error) {
	var resp events.DynamoDBTimeWindowEventResponse
	resp.State = map[string]string{}
	if len(ev.Records) == 0 {
		return resp, nil
	}
	first := ev.Records[0]
	if ev.ShardID == "" {
		c.log.ErrorContext(ctx, "stats: stream batch without a shard id", "event_id", first.EventID,
			"sequence_number", first.Change.SequenceNumber, "event_source_arn", ev.EventSourceARN)
		return resp, ErrNoShard
	}
	log := c.log.With("shard", ev.ShardID)
	failAt := len(ev.Records) // index of the first record not applied
	byPartner := map[string][]Change{}
	locs := map[string]*time.Location{}
	loc := func(partner string) (*time.Location, error) {
		if l, ok := locs[partner]; ok {
			return l, nil
		}
		p, err := c.store.Program(ctx, partner)
		if err != nil {
			return nil, err
		}
		locs[partner] = p.Location()
		return locs[partner], nil
	}
	prev := ""
	for i, rec := range ev.Records {
		seq, _ := store.PadSeq(rec.Change.SequenceNumber)
		if seq != "" && seq <= prev {
			log.ErrorContext(ctx, "stats: stream records out of order", "event_id", rec.EventID, "sequence_number", rec.Change.SequenceNumber)
			failAt = i
			break
		}
		prev = max(prev, seq)
		cs, err := Changes(rec, i, loc)
		switch {
		case errors.Is(err, ErrUnbalanced):
			// Counted (Unbalanced 1): the roll-up stops at its day and alarms.
			log.ErrorContext(ctx, "stats: unbalanced ledger entry", "event_id", rec.EventID, "sequence_number", rec.Change.SequenceNumber, "error", err)
		case errors.Is(err, store.ErrUnknownPartner):
			// No program, so no day and no figures to keep (PutProgram comes
			// before any entry; this does not happen).
			log.ErrorContext(ctx, "stats: entry of an unknown partner skipped", "event_id", rec.EventID, "sequence_number", rec.Change.SequenceNumber, "error", err)
			continue
		case err != nil:
			log.ErrorContext(ctx, "stats: cannot read stream record", "event_id", rec.EventID, "sequence_number", rec.Change.SequenceNumber,
				"event_name", rec.EventName, "error", err)
			failAt = i
		}
		if failAt == i {
			break
		}
		for _, ch := range cs {
			byPartner[ch.Partner] = append(byPartner[ch.Partner], ch)
		}
	}
	for _, partner := range slices.Sorted(maps.Keys(byPartner)) {
		cs := byPartner[partner]
		applied, err := c.apply(ctx, ev.ShardID, partner, cs)
		if err != nil {
			at := cs[applied].Index
			log.ErrorContext(ctx, "stats: applying a partner's records failed", "partner", partner, "event_id", ev.Records[at].EventID,
				"sequence_number", ev.Records[at].Change.SequenceNumber, "error", err)
			failAt = min(failAt, at)
		}
	}
	if failAt < len(ev.Records) {
		rec := ev.Records[failAt]
		resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}
		log.WarnContext(ctx, "stats: batch reported from a failed record", "event_id", rec.EventID,
			"sequence_number", rec.Change.SequenceNumber, "records", len(ev.Records), "failed_from", failAt)
	}
	return resp, nil
}

// apply applies one partner's changes of a batch, chunk by chunk, then
// marks late the partials it wrote (or found written before) of sealed days.
// On an error it returns the index in cs of the first change whose record
// must be delivered again.
func (c *Consumer) apply(ctx context.Context, shard, partner string, cs []Change) (int, error) {
	done := 0 // changes applied (now or before)
	var failed error
	for _, ch := range chunks(shard, cs) {
		if err := c.applyChunk(ctx, partner, ch); err != nil {
			failed = err
			break
		}
		done += len(ch.changes)
	}
	// Late marks for every day written, even after a failure: the records
	// applied are not delivered again, and their marks must not be lost.
	if err := c.markLate(ctx, shard, partner, cs[:done]); err != nil {
		return 0, err // everything again: applied records are skipped, marks written
	}
	return done, failed
}

// applyChunk applies a chunk; when the shard's progress shows part of it
// applied before, only the rest.
func (c *Consumer) applyChunk(ctx context.Context, partner string, ch chunk) error {
	err := c.store.ApplyStreamChunk(ctx, partner, ch.StreamChunk)
	if !errors.Is(err, store.ErrChunkApplied) {
		return err
	}
	last, err := c.store.StreamProgress(ctx, partner, ch.Shard)
	if err != nil {
		return err
	}
	rest := after(ch.changes, last)
	if len(rest) == 0 {
		return nil
	}
	// A subset of a chunk fits one chunk.
	if err := c.store.ApplyStreamChunk(ctx, partner, chunks(ch.Shard, rest)[0].StreamChunk); err != nil {
		return fmt.Errorf("after the shard's progress %s: %w", last, err)
	}
	return nil
}

// markLate reads the roll-up's seal after the writes and marks late the
// partials of sealed days among cs's.
func (c *Consumer) markLate(ctx context.Context, shard, partner string, cs []Change) error {
	if len(cs) == 0 {
		return nil
	}
	sealed, err := c.store.Sealed(ctx, partner)
	if err != nil || sealed == "" {
		return err
	}
	marked := map[string]bool{}
	for _, ch := range cs {
		if ch.Day > sealed || marked[ch.Day] {
			continue
		}
		if err := c.store.MarkLate(ctx, partner, ch.Day, shard); err != nil {
			return err
		}
		marked[ch.Day] = true
		c.log.WarnContext(ctx, "stats: figures of a sealed day: folded into the next day closed", "partner", partner, "day", ch.Day,
			"shard", shard, "sealed", sealed, "sequence_number", ch.Seq)
	}
	return nil
}
