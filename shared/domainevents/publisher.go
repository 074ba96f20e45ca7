package domainevents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	smithytime "github.com/aws/smithy-go/time"

	"github.com/accrue/accrue/shared/awsclient"
)

// EventBridge is the part of the EventBridge client the publisher uses.
type EventBridge interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// MaxEntriesPerPut is EventBridge's limit of entries in one PutEvents call.
const MaxEntriesPerPut = 10

// Publisher publishes the domain events of DynamoDB stream records.
type Publisher struct {
	client EventBridge
	bus    string
	log    *slog.Logger
	// attempts of one PutEvents chunk (failed entries are put again).
	attempts int
	backoff  time.Duration
	sleep    func(context.Context, time.Duration) error
}

// PublisherOption configures a Publisher.
type PublisherOption func(*Publisher)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) PublisherOption { return func(p *Publisher) { p.log = l } }

// WithRetries sets how many times a chunk of entries is put before its
// records are reported as failed, and the first pause between attempts
// (doubled each time). Default: 4 attempts, 100ms.
func WithRetries(attempts int, backoff time.Duration) PublisherOption {
	return func(p *Publisher) { p.attempts, p.backoff = max(attempts, 1), backoff }
}

// Lambda is the events function's handler (functions/events): the stream
// handler publishing to the bus named by ACCRUE_EVENT_BUS.
func Lambda(cfg aws.Config, log *slog.Logger) (any, error) {
	bus, err := awsclient.Env("ACCRUE_EVENT_BUS")
	if err != nil {
		return nil, err
	}
	return NewPublisher(eventbridge.NewFromConfig(cfg), bus, WithLogger(log)).HandleStream, nil
}

// NewPublisher returns a publisher to bus (a name or ARN).
func NewPublisher(client EventBridge, bus string, opts ...PublisherOption) *Publisher {
	p := &Publisher{client: client, bus: bus, log: slog.Default(), attempts: 4, backoff: 100 * time.Millisecond, sleep: smithytime.SleepWithContext}
	for _, o := range opts {
		o(p)
	}
	return p
}

type pending struct {
	rec   int // index of the record in the batch
	event Event
	entry ebtypes.PutEventsRequestEntry
}

// HandleStream is the Lambda handler of the table's stream (with
// ReportBatchItemFailures). It maps the records in order, puts their events
// in chunks of at most ten, putting entries that fail (throttling, an
// internal error) again a few times, and stops at the first record it cannot
// map or whose events it cannot put: that record's sequence number is
// reported as the batch item failure, so the event source retries the batch
// from it (order is kept; events of the records before it are not put again,
// those of later records in the same chunk may be: ids are stable). It never
// returns an error: a failure is always a reported record, and a batch whose
// first record fails is retried whole.
func (p *Publisher) HandleStream(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	failAt := len(ev.Records) // index of the first record that failed
	var queue []pending
	for i, rec := range ev.Records {
		evs, err := FromRecord(rec)
		if err != nil {
			p.log.ErrorContext(ctx, "domain events: cannot map stream record", "event_id", rec.EventID,
				"sequence_number", rec.Change.SequenceNumber, "event_name", rec.EventName, "error", err)
			failAt = i
			break
		}
		for _, e := range evs {
			en, err := p.entry(e)
			if err != nil {
				p.log.ErrorContext(ctx, "domain events: cannot encode event", "event_id", rec.EventID,
					"sequence_number", rec.Change.SequenceNumber, "domain_event_id", e.ID, "error", err)
				failAt = i
				break
			}
			queue = append(queue, pending{rec: i, event: e, entry: en})
		}
		if failAt == i {
			break
		}
	}
	for start := 0; start < len(queue); start += MaxEntriesPerPut {
		chunk := queue[start:min(start+MaxEntriesPerPut, len(queue))]
		if first := p.put(ctx, chunk); first >= 0 {
			failAt = min(failAt, first)
			break
		}
	}
	var resp events.DynamoDBEventResponse
	if failAt < len(ev.Records) {
		rec := ev.Records[failAt]
		resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}
		p.log.WarnContext(ctx, "domain events: batch reported from a failed record", "event_id", rec.EventID,
			"sequence_number", rec.Change.SequenceNumber, "records", len(ev.Records), "failed_from", failAt)
	}
	return resp, nil
}

func (p *Publisher) entry(e Event) (ebtypes.PutEventsRequestEntry, error) {
	detail, err := e.Detail()
	if err != nil {
		return ebtypes.PutEventsRequestEntry{}, err
	}
	en := ebtypes.PutEventsRequestEntry{
		Source: aws.String(Source), DetailType: aws.String(e.Type), Detail: aws.String(detail),
		EventBusName: aws.String(p.bus),
	}
	if !e.Time.IsZero() {
		en.Time = aws.Time(e.Time)
	}
	return en, nil
}

// put sends a chunk, putting failed entries again up to the attempt limit. It
// returns the record index of the first entry that could not be put, or −1.
func (p *Publisher) put(ctx context.Context, chunk []pending) int {
	left := chunk
	backoff := p.backoff
	for attempt := 1; ; attempt++ {
		entries := make([]ebtypes.PutEventsRequestEntry, len(left))
		for i, pe := range left {
			entries[i] = pe.entry
		}
		out, err := p.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		var failed []pending
		switch {
		case err != nil:
			failed = left
			p.log.WarnContext(ctx, "domain events: PutEvents failed", "attempt", attempt, "entries", len(left), "error", err)
		case len(out.Entries) != len(left):
			failed = left
			p.log.WarnContext(ctx, "domain events: PutEvents answered for a different number of entries",
				"attempt", attempt, "entries", len(left), "results", len(out.Entries))
		default:
			for i, r := range out.Entries {
				if r.ErrorCode != nil || aws.ToString(r.EventId) == "" {
					failed = append(failed, left[i])
					p.log.WarnContext(ctx, "domain events: entry not put", "attempt", attempt,
						"domain_event_id", left[i].event.ID, "type", left[i].event.Type,
						"error_code", aws.ToString(r.ErrorCode), "error_message", aws.ToString(r.ErrorMessage))
				} else {
					p.log.DebugContext(ctx, "domain events: put", "domain_event_id", left[i].event.ID,
						"type", left[i].event.Type, "eventbridge_id", aws.ToString(r.EventId))
				}
			}
		}
		if len(failed) == 0 {
			return -1
		}
		left = failed
		if attempt >= p.attempts || errors.Is(err, context.Canceled) || ctx.Err() != nil {
			break
		}
		if err := p.sleep(ctx, backoff); err != nil {
			break
		}
		backoff *= 2
	}
	first := left[0].rec
	for _, pe := range left {
		first = min(first, pe.rec)
	}
	p.log.ErrorContext(ctx, "domain events: entries not put after retries", "entries", len(left),
		"first_domain_event_id", left[0].event.ID, "attempts", p.attempts)
	return first
}

// String describes the publisher (for logs).
func (p *Publisher) String() string { return fmt.Sprintf("domainevents.Publisher(bus=%s)", p.bus) }
