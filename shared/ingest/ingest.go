// Package ingest turns payment event messages into accruals and refunds. The
// same Processor serves the SQS consumer (functions/ingest) and, later, the
// synchronous POST /v1/events.
//
// Every message ends in exactly one of three ways:
//   - applied (or recognised as a duplicate): done;
//   - permanently invalid: recorded as a rejection with reason and raw body,
//     counted in the RejectedEvents metric, and never retried;
//   - transient failure (DynamoDB unavailable, contention, a refund whose payment
//     has not arrived yet): reported so that only this message is retried; after
//     the queue's max receives it moves to the DLQ.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/metrics"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// Store is what the processor needs of the store.
type Store interface {
	ApplyHinted(ctx context.Context, pay payment.Payment, h *store.Hints) (store.Outcome, error)
	Prefetch(ctx context.Context, pays []payment.Payment) (*store.Hints, error)
	Program(ctx context.Context, partner string) (*program.Program, error)
	RecordRejection(ctx context.Context, r store.Rejection) error
}

// Processor applies payment event messages.
type Processor struct {
	store   Store
	log     *slog.Logger
	metrics *metrics.EMF
	now     func() time.Time
}

// New returns a Processor. metrics may be nil.
func New(s Store, log *slog.Logger, m *metrics.EMF) *Processor {
	return &Processor{store: s, log: log, metrics: m, now: time.Now}
}

// Message is one payment event as received.
type Message struct {
	ID         string // SQS message id, or the API request id
	Source     string // "sqs" or "api"
	Body       []byte
	ReceivedAt time.Time
	// Partner is the partner the sender authenticated as (POST /v1/events:
	// its API key's), empty for the queue. When set, the event must name this
	// partner, and whatever happens to the message — applied or rejected — is
	// written under this partner only, never under the one the body names.
	Partner string
}

// Result of processing a message.
type Result struct {
	Outcome   store.Outcome
	Rejection *store.Rejection // set when the message was rejected (and recorded)
}

// TransientError wraps a failure that a later retry may not have.
type TransientError struct{ Err error }

func (e *TransientError) Error() string { return "transient: " + e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// Process applies one message. It returns an error only for transient failures
// (a *TransientError); a permanently invalid message is recorded and reported
// in Result.Rejection with a nil error.
func (p *Processor) Process(ctx context.Context, msg Message) (Result, error) {
	pay, err := payment.Parse(msg.Body)
	if err == nil && msg.Partner != "" && pay.PartnerID != msg.Partner {
		err = &payment.InvalidError{Reason: ReasonPartnerMismatch, Field: "data.partner_id",
			Detail: fmt.Sprintf("names partner %q, but the sender is partner %q", pay.PartnerID, msg.Partner)}
	}
	return p.apply(ctx, msg, pay, err, nil)
}

// apply applies a message already parsed into pay (or that failed to parse
// with err), with the batch's member hints.
func (p *Processor) apply(ctx context.Context, msg Message, pay payment.Payment, err error, hints *store.Hints) (Result, error) {
	log := p.log.With("message_id", msg.ID, "source", msg.Source)
	if err == nil {
		log = log.With("event_id", pay.EventID, "partner_id", pay.PartnerID, "member_id", pay.MemberID, "payment_id", pay.PaymentID, "type", pay.Type)
		var out store.Outcome
		out, err = p.store.ApplyHinted(ctx, pay, hints)
		if err == nil {
			log.InfoContext(ctx, "payment event applied", "duplicate", out.Duplicate, "points", out.Entry.Points,
				"held", len(out.Entry.HoldReasons) > 0, "enrolled", out.Enrolled)
			return Result{Outcome: out}, nil
		}
	}
	rej, ok := classify(err)
	if !ok {
		log.WarnContext(ctx, "payment event failed, will be retried", "error", err)
		return Result{}, &TransientError{Err: err}
	}
	rej.MessageID, rej.Source, rej.ReceivedAt, rej.Body = msg.ID, msg.Source, msg.ReceivedAt, string(msg.Body)
	rej.EventID = pay.EventID
	claimed := claimedPartner(msg.Body)
	err = nil
	if msg.Partner != "" {
		// An authenticated sender's rejections are its own, whatever the body
		// names (the claim is kept as data).
		rej.PartnerID = msg.Partner
		if claimed != msg.Partner {
			rej.ClaimedPartnerID = claimed
		}
	} else if rej.PartnerID, err = p.knownPartner(ctx, claimed); err == nil && rej.PartnerID == "" {
		rej.ClaimedPartnerID = claimed
	}
	if err == nil {
		err = p.store.RecordRejection(ctx, rej)
	}
	if err != nil {
		log.ErrorContext(ctx, "recording a rejected event failed, will be retried", "error", err, "reason", rej.Reason)
		return Result{}, &TransientError{Err: err}
	}
	log.WarnContext(ctx, "payment event rejected", "reason", rej.Reason, "field", rej.Field, "detail", rej.Detail)
	p.metrics.Count(MetricRejected, 1, rejectedDimensions(rej))
	return Result{Rejection: &rej}, nil
}

// The rejected-events metric: RejectedEvents (a count) by Reason, why (one of
// Reasons: a fixed set, so the dimension stays small), and Scope, where the
// rejection is kept and so who can see it: ScopePartner (under the partner the
// event came from: GET /v1/rejected-events shows it) or ScopeOperators (the
// operators' partition, for events whose partner is unknown or unreadable:
// only accrue rejected list --ops shows them).
const (
	MetricRejected = "RejectedEvents"
	ScopePartner   = "partner"
	ScopeOperators = "operators"
	// ReasonOther stands in the metric for a reason not in Reasons (a bug: a
	// new reason not listed there), so that no value can grow the dimension.
	ReasonOther = "other"
)

// Reasons are all the reasons of rejections: the parser's (package payment)
// and those found applying an event.
func Reasons() []string {
	return []string{
		payment.ReasonMalformed, payment.ReasonEnvelope, payment.ReasonUnsupportedType, payment.ReasonData,
		payment.ReasonCurrency, payment.ReasonAmount, payment.ReasonTooLarge,
		ReasonUnknownPartner, ReasonUnknownMember, ReasonMemberInactive, ReasonMemberErased,
		ReasonRefundCurrency, ReasonRefundExceeds, ReasonPartnerMismatch,
	}
}

// rejectedDimensions are the metric dimensions of a recorded rejection.
func rejectedDimensions(r store.Rejection) map[string]string {
	reason := ReasonOther
	if slices.Contains(Reasons(), r.Reason) {
		reason = r.Reason
	}
	scope := ScopePartner
	if r.PartnerID == "" {
		scope = ScopeOperators
	}
	return map[string]string{"Reason": reason, "Scope": scope}
}

// Reasons of rejections found by the store (the parser's are in package payment).
const (
	ReasonUnknownPartner = "unknown_partner"
	ReasonUnknownMember  = "unknown_member"
	ReasonMemberInactive = "member_inactive"
	// ReasonMemberErased: the member id was erased (GDPR); it never accrues again.
	ReasonMemberErased   = "member_erased"
	ReasonRefundCurrency = "refund_currency_mismatch"
	ReasonRefundExceeds  = "refund_exceeds_payment"
	// ReasonPartnerMismatch: an authenticated sender (POST /v1/events) sent an
	// event naming another partner.
	ReasonPartnerMismatch = "partner_mismatch"
)

var permanent = []struct {
	err    error
	reason string
}{
	{store.ErrUnknownPartner, ReasonUnknownPartner},
	{store.ErrMemberNotFound, ReasonUnknownMember},
	{ledger.ErrMemberInactive, ReasonMemberInactive},
	{store.ErrMemberErased, ReasonMemberErased},
	{ledger.ErrRefundCurrency, ReasonRefundCurrency},
	{ledger.ErrRefundExceeds, ReasonRefundExceeds},
}

// classify returns the rejection for a permanent error; ok is false for a
// transient one.
func classify(err error) (store.Rejection, bool) {
	if ie, ok := payment.AsInvalid(err); ok {
		return store.Rejection{Reason: ie.Reason, Field: ie.Field, Detail: ie.Detail}, true
	}
	for _, p := range permanent {
		if errors.Is(err, p.err) {
			return store.Rejection{Reason: p.reason, Detail: err.Error()}, true
		}
	}
	return store.Rejection{}, false
}

// claimedPartner is the partner id a raw message names in data.partner_id,
// "" when it names none or cannot be read. It is only a claim: an
// authenticated sender's messages belong to the sender.
func claimedPartner(body []byte) string {
	var env struct {
		Data struct {
			PartnerID json.RawMessage `json:"partner_id"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &env) != nil {
		return ""
	}
	var id string
	if json.Unmarshal(env.Data.PartnerID, &id) != nil {
		return ""
	}
	const maxClaim = 128 // kept as data on the rejection: bounded
	if len(id) > maxClaim {
		id = id[:maxClaim]
	}
	return strings.ToValidUTF8(id, "?")
}

// knownPartner returns the claimed partner id of a queue message when it is a
// partner that exists: its rejections are then visible to that partner.
// Otherwise (unreadable, unknown) it returns "" and the rejection goes to the
// operators' partition. (The queue is Accrue's own: only billing systems the
// operator granted sqs:SendMessage write to it.)
func (p *Processor) knownPartner(ctx context.Context, claimed string) (string, error) {
	if !payment.ValidPartnerID(claimed) {
		return "", nil
	}
	_, err := p.store.Program(ctx, claimed)
	switch {
	case errors.Is(err, store.ErrUnknownPartner):
		return "", nil
	case err != nil:
		return "", err
	}
	return claimed, nil
}

// String helps logs and tests.
func (r Result) String() string {
	if r.Rejection != nil {
		return fmt.Sprintf("rejected: %s", r.Rejection.Reason)
	}
	return fmt.Sprintf("applied: duplicate=%v points=%d", r.Outcome.Duplicate, r.Outcome.Entry.Points)
}

// Wire builds the processor of the ingest function on table (also used by the
// API's POST /v1/events, the local stack and make invoke). Metrics go to
// stdout, where Lambda turns EMF lines into CloudWatch metrics.
func Wire(db store.DynamoDB, table string, log *slog.Logger) *Processor {
	return New(store.New(db, table), log, metrics.New(os.Stdout))
}

// Lambda is the ingest function's handler (functions/ingest): the SQS batch
// handler with partial batch responses.
func Lambda(db *dynamodb.Client, table string, log *slog.Logger) any {
	return Wire(db, table, log).HandleSQS
}
