package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/keys"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// ProblemBase prefixes every problem type. The type URIs are stable
// identifiers, the same for every deployment (clients compare them), listed in
// the OpenAPI document; their path is the path of the page that explains them
// on every deployed API (GET /problems/{slug}, problempages.go), so
// https://accrue.dev/problems/ maps onto any deployment's /problems/ by host
// alone (README, "Problem types").
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

// ProblemType is one stable problem type. Its fields are the one table the
// API's problem responses, its explanation pages (GET /problems/{slug}),
// docs/problems.md and the OpenAPI document's list of problem types come from
// (the last two are checked against it by the tests).
type ProblemType struct {
	// Slug names the type: its URI is ProblemBase + Slug.
	Slug string
	// Title is the problem's constant title.
	Title string
	// Status is the HTTP status it is answered with.
	Status int
	// When says when the API answers it (markdown: `code` only).
	When string
	// Do says what the client should do about it (markdown: `code` only).
	Do string
}

// URI is the type's stable URI, the problem's `type`.
func (p *ProblemType) URI() string { return ProblemBase + p.Slug }

// problemKind is a problem type of the table.
type problemKind = *ProblemType

// The problem types the API returns, in the order the docs list them.
var (
	probValidation = &ProblemType{Slug: "validation-error", Title: "The request is not valid", Status: http.StatusBadRequest,
		When: "A field, path or query parameter or header is invalid; `errors` names each offending field (a JSON path such as `rewards[0].id`, or `limit`, `id`, `Idempotency-Key`). Also an unknown JSON field (`unknown field`) or a value of the wrong type.",
		Do:   "Fix each field that `errors` names and send the request again. Sent unchanged, it gets the same answer."}
	probMalformed = &ProblemType{Slug: "malformed-request", Title: "The request body is not valid JSON", Status: http.StatusBadRequest,
		When: "The body is missing, is not JSON, or has data after the JSON object.",
		Do:   "Send exactly one JSON object as the body. Sent unchanged, the request gets the same answer."}
	probTooLarge = &ProblemType{Slug: "request-too-large", Title: "The request body is too large", Status: http.StatusRequestEntityTooLarge,
		When: "The body is larger than 262144 bytes (256 KiB).",
		Do:   "Send a body of at most 256 KiB: a program document is the largest body the API takes; send a simulation's payments in several requests."}
	probUnauth = &ProblemType{Slug: "unauthenticated", Title: "A valid API key is required", Status: http.StatusUnauthorized,
		When: "No `Authorization: Bearer` header, or the key is unknown or revoked.",
		Do:   "Send `Authorization: Bearer <api key>` with a key that is not revoked. A key is shown once, when it is created: ask the partner's operator for a new one if it was lost."}
	probForbidden = &ProblemType{Slug: "forbidden", Title: "This API key's role may not do this", Status: http.StatusForbidden,
		When: "An `app` key on a route that needs an `admin` key.",
		Do:   "Call the route with an `admin` key (keep admin keys in back-office systems, not in apps)."}
	probNotFound = &ProblemType{Slug: "not-found", Title: "Not found", Status: http.StatusNotFound,
		When: "The member, redemption, reward, review item, import, webhook endpoint, delivery or route does not exist for this partner (another partner's data is never visible: it is not found).",
		Do:   "Check the id, the path and that the API key is the partner's that owns the data. A member must be enrolled (`POST /v1/members`) or have paid before it can be read."}
	probConflict = &ProblemType{Slug: "conflict", Title: "Conflict with the current state", Status: http.StatusConflict,
		When: "The operation does not fit the current state: a once-only activity already rewarded, a redemption that is not an open hold, a hold that has expired, a member whose data was erased, the re-send of a webhook delivery that is not dead (it was delivered, or is still being retried).",
		Do:   "Read the current state (the member, its ledger) and decide again. Sent unchanged, the request gets the same answer."}
	probInsufficient = &ProblemType{Slug: "insufficient-points", Title: "Not enough available points", Status: http.StatusUnprocessableEntity,
		When: "A redemption or a debit adjustment asks for more than the member's available points.",
		Do:   "Read the member's `balances.available` (`GET /v1/members/{id}`) and ask for at most that many points."}
	probOutOfStock = &ProblemType{Slug: "out-of-stock", Title: "The reward is out of stock", Status: http.StatusConflict,
		When: "The reward's stock is used up.",
		Do:   "Offer another reward (`GET /v1/rewards` shows each one's `stock`), or restock it with `PUT /v1/rewards` (admin)."}
	probTier = &ProblemType{Slug: "tier-too-low", Title: "The member's tier is below the reward's", Status: http.StatusUnprocessableEntity,
		When: "The reward has a `min_tier` above the member's tier.",
		Do:   "Offer rewards the member's tier allows; `GET /v1/members/{id}` shows the tier and the points needed for the next one."}
	probInactive = &ProblemType{Slug: "member-inactive", Title: "The member is not active", Status: http.StatusConflict,
		When: "The member is suspended (or being erased): points cannot change.",
		Do:   "Reactivate the member (`PATCH /v1/members/{id}` with `{\"status\":\"active\"}`) if it should be active; otherwise leave its points alone."}
	probErased = &ProblemType{Slug: "member-erased", Title: "The member id was erased and cannot be used again", Status: http.StatusConflict,
		When: "POST /v1/members with an id whose data was erased (GDPR): an erased id never comes back; enroll the person under a new id.",
		Do:   "Enroll the person under a new member id; the erased one stays unusable."}
	probExists = &ProblemType{Slug: "already-exists", Title: "It already exists", Status: http.StatusConflict,
		When: "The member id is already enrolled.",
		Do:   "Nothing, if the member was meant to be enrolled: read it with `GET /v1/members/{id}`. To retry an enrolment whose answer was lost, send the same `Idempotency-Key`: the first answer is replayed."}
	probIdemReuse = &ProblemType{Slug: "idempotency-key-reused", Title: "The Idempotency-Key was used with another request", Status: http.StatusConflict,
		When: "The same Idempotency-Key was sent in the last 24 hours with another method, path or body.",
		Do:   "Use a new `Idempotency-Key` for every new request, and the same key only to retry the very same request (same method, path and body)."}
	probIdemBusy = &ProblemType{Slug: "request-in-progress", Title: "A request with this Idempotency-Key is still in progress", Status: http.StatusConflict,
		When: "A request with the same Idempotency-Key has not finished yet: retry later.",
		Do:   "Wait the `Retry-After` seconds and retry with the same `Idempotency-Key`: the retry gets the first request's answer, or runs if the first request died before changing anything."}
	probRejected = &ProblemType{Slug: "event-rejected", Title: "The event can never be applied", Status: http.StatusUnprocessableEntity,
		When: "POST /v1/events: the payment event is invalid or refers to something that does not exist; it is recorded as rejected (see GET /v1/rejected-events) and `reason` gives the stable rejection reason.",
		Do:   "Fix what `reason` names (the recorded copy is in `GET /v1/rejected-events`) and send the corrected event; sent unchanged it is rejected again. Retrying does not help."}
	probRetry = &ProblemType{Slug: "try-again", Title: "Temporarily unable to process; retry with the same Idempotency-Key", Status: http.StatusServiceUnavailable,
		When: "Too much write contention, or a transient failure while applying an event. Nothing was applied: retry, with the same Idempotency-Key.",
		Do:   "Wait the `Retry-After` seconds (every 503 carries it) and send the same request again with the same `Idempotency-Key`. The Go client (`shared/client`) does this itself."}
	probInternal = &ProblemType{Slug: "internal-error", Title: "Internal error", Status: http.StatusInternalServerError,
		When: "An unexpected error; it has been logged with the request id (`X-Request-Id`).",
		Do:   "Retry later with the same `Idempotency-Key` (a request with a key is never applied twice). If it persists, report the `X-Request-Id` to the operator."}
	probMethod = &ProblemType{Slug: "method-not-allowed", Title: "Method not allowed", Status: http.StatusMethodNotAllowed,
		When: "A method the path does not have (such as `DELETE /v1/program`); the `Allow` header lists the methods it has. A path the API does not have is 404 `not-found`.",
		Do:   "Use one of the methods the `Allow` header lists."}
	probLimit = &ProblemType{Slug: "limit-reached", Title: "A limit of the partner's account is reached", Status: http.StatusConflict,
		When: "`POST /v1/webhooks` when the partner already has 16 webhook endpoints.",
		Do:   "Delete an endpoint you no longer use (`DELETE /v1/webhooks/{id}`), or subscribe an existing one to more event types (`PATCH /v1/webhooks/{id}`), then try again."}
	probUnsupported = &ProblemType{Slug: "unsupported-media-type", Title: "Send application/json", Status: http.StatusUnsupportedMediaType,
		When: "A request body with a Content-Type other than `application/json` or `application/*+json`.",
		Do:   "Send the body as JSON with `Content-Type: application/json`."}
	probTransfersOff = &ProblemType{Slug: "transfers-disabled", Title: "The program does not allow point transfers", Status: http.StatusConflict,
		When: "POST /v1/members/{id}/transfers while the program's `transfers.enabled` is not true.",
		Do:   "Enable transfers in the program (`PUT /v1/program`, admin) if the partner wants them; otherwise do not offer transfers."}
	probTransferCap = &ProblemType{Slug: "transfer-limit", Title: "The transfer is outside the program's transfer limits", Status: http.StatusUnprocessableEntity,
		When: "Fewer points than the program's `transfers.min_points`, more than `max_points`, more than the sender may still send today (`member_daily`), or points spread over more lots than one transfer takes; `detail` says which.",
		Do:   "Transfer an amount within the limits `detail` names (the program shows them: `GET /v1/program`), or split a very large transfer."}
	probMerged = &ProblemType{Slug: "member-merged", Title: "The member id was merged into another member", Status: http.StatusConflict,
		When: "POST /v1/members/{id}/merge whose `absorbed_member_id` was merged into a member before: it answers as that member now (a survivor id that was merged is followed to its survivor instead).",
		Do:   "Nothing, if it is the merge you meant: `GET /v1/members/{id}` of the id shows the member it resolves to (`merged_into`). To retry a merge whose answer was lost, send its `Idempotency-Key` again: the first answer is replayed."}
	probMergeBlocked = &ProblemType{Slug: "merge-blocked", Title: "The absorbed member has open holds or points in review", Status: http.StatusConflict,
		When: "POST /v1/members/{id}/merge while the member to absorb has an open redemption hold or points held for review: both name the absorbed member's lots, which a merge would empty.",
		Do:   "Capture or cancel its open holds (`POST /v1/members/{id}/redemptions/{rid}/capture` or `/cancel`) and decide its review items (`POST /v1/review/{id}/approve` or `/reject`), then merge."}
	probMergeLimit = &ProblemType{Slug: "merge-limit", Title: "The merge is larger than one merge can be", Status: http.StatusUnprocessableEntity,
		When: "POST /v1/members/{id}/merge of a member with more open lots (points earned at different times, neither spent nor expired) than one merge moves in its single transaction, or into a member that would then hold more than 10 merged ids; `detail` says which.",
		Do:   "Nothing was changed. Merge later, when fewer of the absorbed member's lots are open (points are spent earliest expiry first, and expire); a member can absorb at most 10 ids."}
	probLastAdminKey = &ProblemType{Slug: "last-admin-key", Title: "The partner's last active admin key cannot be revoked", Status: http.StatusConflict,
		When: "DELETE /v1/keys/{id} of the partner's only active admin key: create another admin key first.",
		Do:   "Create another admin key first (`POST /v1/keys` with `role: admin`), then revoke this one. An operator can still revoke any key with the CLI."}
)

// problemTypes is every problem type, in the order the docs list them.
var problemTypes = []*ProblemType{
	probValidation, probMalformed, probTooLarge, probUnauth, probForbidden, probNotFound, probConflict,
	probInsufficient, probOutOfStock, probTier, probInactive, probErased, probExists, probIdemReuse,
	probIdemBusy, probRejected, probRetry, probInternal, probMethod, probUnsupported,
	probTransfersOff, probTransferCap, probLastAdminKey, probLimit, probMerged, probMergeBlocked, probMergeLimit,
}

// ProblemTypes returns every problem type the API answers with (copies).
func ProblemTypes() []ProblemType {
	out := make([]ProblemType, len(problemTypes))
	for i, p := range problemTypes {
		out[i] = *p
	}
	return out
}

// RetryAfterSeconds is the Retry-After of every 503 try-again: contention and
// transient failures clear within moments.
const RetryAfterSeconds = 1

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
		return e.kind.Slug + ": " + e.detail + ": " + e.err.Error()
	}
	return e.kind.Slug + ": " + e.detail
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
	{store.ErrImportNotFound, probNotFound, ""},
	{store.ErrUnknownPartner, probNotFound, ""},
	{store.ErrWebhookNotFound, probNotFound, ""},
	{store.ErrDeliveryNotFound, probNotFound, ""},
	{store.ErrDeliveryNotDead, probConflict, ""},
	{store.ErrTooManyWebhooks, probLimit, ""},
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
	{ledger.ErrMergeSame, probValidation, "absorbed_member_id"},
	{ledger.ErrAlreadyMerged, probMerged, ""},
	{ledger.ErrMergeBlocked, probMergeBlocked, ""},
	{ledger.ErrMergeLimit, probMergeLimit, ""},
	{keys.ErrLastAdminKey, probLastAdminKey, ""},
	{keys.ErrNotFound, probNotFound, ""},
	{keys.ErrBadCursor, probValidation, "cursor"},
}

// verbatim reports whether the text of an error of kind err is written for
// the client (it names the limit a request broke), so that it is the
// problem's detail as a whole.
func verbatim(err error) bool {
	return err == ledger.ErrTransferLimit || err == ledger.ErrMergeLimit || err == ledger.ErrMergeBlocked
}

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
	return Problem{Type: ae.kind.URI(), Title: ae.kind.Title, Status: ae.kind.Status,
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
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	}
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
