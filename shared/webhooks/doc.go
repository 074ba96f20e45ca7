// Package webhooks delivers the partners' domain events to their webhook
// endpoints (issue #13): signed HTTP POSTs of CloudEvents, at least once,
// retried for more than a day, with a delivery log and a dead-letter list.
//
// # The path of an event
//
//	table stream → events function → bus accrue-<stage>
//	  → rule {"source": ["accrue"]} → webhook events queue
//	  → webhooks function, fan-out (Handler.fanOut): per endpoint of the
//	    event's partner that is active and subscribed to its type, one
//	    Message on the deliveries queue
//	  → webhooks function, attempt (Handler.attempt): POST, record, and the
//	    next attempt queued with its delay, or the delivery dead
//
// A rule on the bus rather than a third reader of the table's stream (a
// stream shard serves two readers well; events and stats read it already),
// and the events function stays the one publisher. EventBridge API
// destinations are not used: a connection authorizes with a static API key
// header, basic auth or OAuth client credentials, the same for every request
// — it cannot sign each partner's body with an HMAC of that endpoint's own
// secret and a fresh timestamp, nor record each attempt where the partner's
// delivery log can show it. So the attempts are a function's.
//
// # Signing (Standard Webhooks)
//
// Each attempt is signed anew (Sign) with github.com/standard-webhooks/
// standard-webhooks/libraries/go: webhook-id is the event's stable id (the
// same on every attempt and re-send: receivers deduplicate on it; the
// CloudEvent's id too), webhook-timestamp the attempt's unix time,
// webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>", one per
// secret, separated by spaces: during a rotation's overlap both the new and
// the old secret sign. A receiver refuses a timestamp outside ReplayWindow
// (5 minutes) of its clock.
//
// # Retries: SQS delays and visibility
//
// Schedule.Next decides, after an attempt failed (no 2xx within
// AttemptTimeout, a redirect, a connection refused), when the next is due:
// DefaultSchedule is 5 s, 5 min, 30 min, 2, 5, 10 and 10 h — 8 attempts over
// 27.5 h. Each attempt is its own SQS message, sent with a delay of up to 15
// minutes (SQS's most); a message that arrives before it is due is hidden
// for the rest of the wait (ChangeMessageVisibility, up to 12 h) and
// reported as a batch item failure, so it comes back when due. A 10-hour
// wait is thus a 15-minute delay and one hiding: each message is received at
// most twice when nothing fails, which leaves the queue's redrive (5
// receives, then the DLQ) for real failures of the function itself. After the
// last attempt the delivery is dead: its record keeps the body, it is listed
// with status=dead and re-sent by the API as a new round.
//
// # At least once, one record per attempt
//
// A delivery (an event to an endpoint) has one id (store.DeliveryID). Its
// record is written after each attempt, conditional on that attempt being
// new or this very message's (store.RecordDeliveryAttempt), before the next
// attempt is queued: a duplicate message (the bus or SQS delivered twice)
// stops at its record, a message handled again after a failure rewrites its
// own. Duplicates of the POST are possible (a failure after the POST), and
// carry the same webhook-id.
//
// # Partitions and cost
//
// Per attempt one PutItem of a record under 1 KB: 1 WRU (a dead delivery's
// last write holds the body: a few KB once). Nothing else per delivery: the
// endpoints are read by the fan-out and the attempts from a per-process cache
// (a Query of the partner's endpoints per second and process), the secrets
// decrypted once per endpoint version and process. The records of an
// endpoint are spread over store.DeliveryShards (16) partitions by a hash of
// the delivery id: an endpoint receiving a partner's billing-day peak of
// thousands of events a second writes each partition a sixteenth of them,
// under DynamoDB's 1,000 WRU/s per partition up to 16,000 deliveries/s.
//
// # Secrets
//
// A signing secret (NewSecret: whsec_ + base64 of 32 random bytes) is shown
// once, in the API's answer; the table holds only its KMS ciphertext (Box,
// the stack's webhook key, encryption context {purpose, partner, webhook}),
// so it is in no table read, stream record, backup or export, and only the
// webhooks function may decrypt it (IAM conditioned on the purpose); the
// api function encrypts it, and seals the stored answer replayed to a retry
// of POST /v1/webhooks with the same Idempotency-Key (PurposeIdempotentResponse).
//
// # URLs (SSRF)
//
// URLPolicy is the stage's: https only and public addresses only in prod
// (CheckURL at registration; Dialer at every connection, after DNS, so a
// name that later resolves to 127.0.0.1 or 169.254.169.254 is refused);
// http too in dev; anything, 127.0.0.1 included, locally (make dev, tests).
package webhooks
