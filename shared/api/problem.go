package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/keys"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// ProblemBase prefixes every problem type: the type URIs are stable and
// documented in the OpenAPI document.
const ProblemBase = "https://accrue.dev/problems/"

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Errors lists the offending fields of a validation problem.
	Errors []FieldError `json:"errors,omitempty"`
	// Reason: the rejection reason of an ingested event.
	Reason string `json:"reason,omitempty"`
}

// FieldError names one bad field (JSON path) of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// problemKind is one stable problem type.
type problemKind struct {
	slug   string
	title  string
	status int
}

// The problem types the API returns.
var (
	probValidation   = problemKind{"validation-error", "The request is not valid", http.StatusBadRequest}
	probMalformed    = problemKind{"malformed-request", "The request body is not valid JSON", http.StatusBadRequest}
	probTooLarge     = problemKind{"request-too-large", "The request body is too large", http.StatusRequestEntityTooLarge}
	probUnauth       = problemKind{"unauthenticated", "A valid API key is required", http.StatusUnauthorized}
	probForbidden    = problemKind{"forbidden", "This API key's role may not do this", http.StatusForbidden}
	probNotFound     = problemKind{"not-found", "Not found", http.StatusNotFound}
	probConflict     = problemKind{"conflict", "Conflict with the current state", http.StatusConflict}
	probInsufficient = problemKind{"insufficient-points", "Not enough available points", http.StatusUnprocessableEntity}
	probOutOfStock   = problemKind{"out-of-stock", "The reward is out of stock", http.StatusConflict}
	probTier         = problemKind{"tier-too-low", "The member's tier is below the reward's", http.StatusUnprocessableEntity}
	probInactive     = problemKind{"member-inactive", "The member is not active", http.StatusConflict}
	probErased       = problemKind{"member-erased", "The member id was erased and cannot be used again", http.StatusConflict}
	probExists       = problemKind{"already-exists", "It already exists", http.StatusConflict}
	probIdemReuse    = problemKind{"idempotency-key-reused", "The Idempotency-Key was used with another request", http.StatusConflict}
	probIdemBusy     = problemKind{"request-in-progress", "A request with this Idempotency-Key is still in progress", http.StatusConflict}
	probRejected     = problemKind{"event-rejected", "The event can never be applied", http.StatusUnprocessableEntity}
	probRetry        = problemKind{"try-again", "Temporarily unable to process; retry with the same Idempotency-Key", http.StatusServiceUnavailable}
	probInternal     = problemKind{"internal-error", "Internal error", http.StatusInternalServerError}
	probMethod       = problemKind{"method-not-allowed", "Method not allowed", http.StatusMethodNotAllowed}
	probUnsupported  = problemKind{"unsupported-media-type", "Send application/json", http.StatusUnsupportedMediaType}
	probTransfersOff = problemKind{"transfers-disabled", "The program does not allow point transfers", http.StatusConflict}
	probTransferCap  = problemKind{"transfer-limit", "The transfer is outside the program's transfer limits", http.StatusUnprocessableEntity}
	probLastAdminKey = problemKind{"last-admin-key", "The partner's last active admin key cannot be revoked", http.StatusConflict}
)

// apiError carries a problem through handlers.
type apiError struct {
	kind   problemKind
	detail string
	fields []FieldError
	reason string
	err    error // the cause, for logs only
}

func (e *apiError) Error() string {
	if e.err != nil {
		return e.kind.slug + ": " + e.detail + ": " + e.err.Error()
	}
	return e.kind.slug + ": " + e.detail
}
func (e *apiError) Unwrap() error { return e.err }

func problem(k problemKind, detail string) *apiError { return &apiError{kind: k, detail: detail} }

func invalid(field, msg string) *apiError {
	return &apiError{kind: probValidation, detail: field + ": " + msg, fields: []FieldError{{Field: field, Message: msg}}}
}

// errorMap maps domain errors to problems: the one place where errors meet HTTP.
// A validation error names its field (every validation-error problem carries
// errors[{field,message}]).
var errorMap = []struct {
	err   error
	kind  problemKind
	field string
}{
	{store.ErrOtherMemberNotFound, probNotFound, ""},
	{store.ErrMemberNotFound, probNotFound, ""},
	{store.ErrRedemptionNotFound, probNotFound, ""},
	{store.ErrRewardNotFound, probNotFound, ""},
	{store.ErrReviewNotFound, probNotFound, ""},
	{ledger.ErrNotInReview, probConflict, ""},
	{store.ErrNotFound, probNotFound, ""},
	{store.ErrUnknownPartner, probNotFound, ""},
	{store.ErrMemberExists, probExists, ""},
	{ledger.ErrMemberInactive, probInactive, ""},
	{store.ErrMemberErased, probErased, ""},
	{store.ErrIdempotencyLost, probIdemBusy, ""},
	{ledger.ErrActivityDone, probConflict, ""},
	{ledger.ErrUnknownActivity, probValidation, "name"},
	{ledger.ErrValueOutOfRange, probValidation, "points"},
	{ledger.ErrNotHeld, probConflict, ""},
	{ledger.ErrHoldExpired, probConflict, ""},
	{ledger.ErrOutOfStock, probOutOfStock, ""},
	{ledger.ErrTierTooLow, probTier, ""},
	{store.ErrTooManyRewards, probValidation, "rewards"},
	{store.ErrBadCursor, probValidation, "cursor"},
	{store.ErrContention, probRetry, ""},
	// The request ran out of its deadline waiting on DynamoDB: transient;
	// with an Idempotency-Key a retry is safe (the change and its response
	// commit together).
	{context.DeadlineExceeded, probRetry, ""},
	{ledger.ErrInsufficientPoints, probInsufficient, ""},
	{keys.ErrUnauthenticated, probUnauth, ""},
	{ledger.ErrTransfersDisabled, probTransfersOff, ""},
	{ledger.ErrTransferLimit, probTransferCap, ""},
	{ledger.ErrSameMember, probValidation, "to_member_id"},
	{keys.ErrLastAdminKey, probLastAdminKey, ""},
	{keys.ErrNotFound, probNotFound, ""},
	{keys.ErrBadCursor, probValidation, "cursor"},
}

// verbatim reports whether the text of an error of kind err is written for
// the client (it names the limit a request broke), so that it is the
// problem's detail as a whole.
func verbatim(err error) bool { return err == ledger.ErrTransferLimit }

// toProblem turns any error into the problem the client sees. Unknown errors
// become a 500 whose body says nothing of the cause (the log has it).
func toProblem(err error) (Problem, error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{kind: probInternal, err: err}
		var ve *program.ValidationError
		switch {
		case errors.As(err, &ve):
			ae = &apiError{kind: probValidation, detail: ve.Error(), err: err}
			for _, fe := range ve.Errors {
				ae.fields = append(ae.fields, FieldError{Field: fe.Field, Message: fe.Message})
			}
		default:
			for _, m := range errorMap {
				if errors.Is(err, m.err) {
					ae = &apiError{kind: m.kind, detail: m.err.Error(), err: err}
					if verbatim(m.err) {
						ae.detail = err.Error()
					}
					if m.field != "" {
						ae.detail = m.field + ": " + m.err.Error()
						ae.fields = []FieldError{{Field: m.field, Message: m.err.Error()}}
					}
					break
				}
			}
			var te *ingest.TransientError
			if errors.As(err, &te) {
				ae = &apiError{kind: probRetry, detail: "the event could not be applied now", err: err}
			}
		}
	}
	detail := ae.detail
	if ae.kind == probInternal {
		detail = "an internal error occurred; it has been logged"
	}
	return Problem{Type: ProblemBase + ae.kind.slug, Title: ae.kind.title, Status: ae.kind.status,
		Detail: detail, Errors: ae.fields, Reason: ae.reason}, ae
}

// writeError writes err as problem+json and logs it with its cause.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p, cause := toProblem(err)
	p.Instance = r.URL.Path
	level := slog.LevelInfo
	if p.Status >= 500 {
		level = slog.LevelError
	}
	log.Log(r.Context(), level, "request failed", "status", p.Status, "type", p.Type, "error", cause)
	writeJSON(w, p.Status, "application/problem+json", p)
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"type":"`+ProblemBase+`internal-error","title":"Internal error","status":500}`)
		contentType = "application/problem+json"
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
