package imports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/accrue/accrue/shared/awsclient"
	"github.com/accrue/accrue/shared/store"
)

// The imports function: an uploaded file's arrival starts its import. The
// imports bucket notifies the imports queue of every object created under
// imports/ (S3 event notifications); the function takes one message at a
// time and runs the import it names until the end of the file or until it
// nears its own timeout (Margin before it): then it records its progress
// (the checkpoint) and sends the queue a message to continue, which the
// next invocation takes up. A run that fails (DynamoDB unavailable, a crash,
// the function's timeout) leaves the message to come back after the queue's
// visibility timeout, and the import resumes from its last checkpoint; after
// MaxReceives failures the message goes to the imports DLQ (alarmed).

// Environment of the imports function (and of the api function, which signs
// the upload URLs).
const (
	EnvBucket = "ACCRUE_IMPORTS_BUCKET"
	EnvQueue  = "ACCRUE_IMPORTS_QUEUE_URL"
)

// Margin is how long before its deadline an invocation stops taking lines.
const Margin = 30 * time.Second

// SQSAPI is what the function uses of SQS: sending its continuation.
type SQSAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Handler handles the messages of the imports queue.
type Handler struct {
	Runner   *Runner
	S3       S3API
	SQS      SQSAPI
	Bucket   string
	QueueURL string
	Log      *slog.Logger
	// Margin before the invocation's deadline (default Margin).
	Margin time.Duration
}

// Continue is the message an invocation leaves for the next one.
type Continue struct {
	PartnerID string `json:"partner_id"`
	ImportID  string `json:"import_id"`
}

// s3Event is an S3 event notification as S3 sends it to SQS.
type s3Event struct {
	Records []struct {
		EventName string `json:"eventName"`
		S3        struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key string `json:"key"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
	// Event: "s3:TestEvent", which S3 sends when the notification is set up.
	Event string `json:"Event"`
}

// message is one queue message: a continuation or an S3 event.
type message struct {
	Continue *Continue `json:"continue"`
	s3Event
}

// HandleSQS runs the import each message names (the queue's batch size is
// 1: one import per invocation). A message that cannot name an import of
// the bucket is logged and dropped; a run that fails is reported as a
// batch item failure and comes back.
func (h *Handler) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		if err := h.handle(ctx, m.Body); err != nil {
			h.log().ErrorContext(ctx, "import failed; the message comes back", "message_id", m.MessageId, "error", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

func (h *Handler) log() *slog.Logger {
	if h.Log == nil {
		return slog.Default()
	}
	return h.Log
}

func (h *Handler) handle(ctx context.Context, body string) error {
	var msg message
	if err := json.Unmarshal([]byte(body), &msg); err != nil {
		h.log().WarnContext(ctx, "not an imports message; dropped", "error", err)
		return nil
	}
	if msg.Continue != nil {
		return h.Run(ctx, msg.Continue.PartnerID, msg.Continue.ImportID)
	}
	for _, r := range msg.Records {
		key, err := url.QueryUnescape(r.S3.Object.Key)
		partner, id, ok := ParseObjectKey(key)
		if err != nil || !ok || r.S3.Bucket.Name != h.Bucket {
			h.log().WarnContext(ctx, "an object that is no import's file; ignored", "bucket", r.S3.Bucket.Name, "key", r.S3.Object.Key)
			continue
		}
		if err := h.Run(ctx, partner, id); err != nil {
			return err
		}
	}
	return nil
}

// Run runs an import of the bucket until its end or until the invocation
// nears its deadline; then it queues its continuation.
func (h *Handler) Run(ctx context.Context, partner, id string) error {
	margin := h.Margin
	if margin <= 0 {
		margin = Margin
	}
	runCtx := ctx
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithDeadline(ctx, d.Add(-margin))
		defer cancel()
	}
	src := &S3Source{Client: h.S3, Bucket: h.Bucket, Key: ObjectKey(partner, id)}
	job, err := h.Runner.Run(runCtx, partner, id, src)
	switch {
	case errors.Is(err, store.ErrImportNotFound):
		h.log().WarnContext(ctx, "an uploaded file without its import; ignored", "partner_id", partner, "import_id", id)
		return nil
	case errors.Is(err, store.ErrImportTakenOver):
		return nil // another invocation holds it and continues it
	case errors.Is(err, ErrFileChanged):
		job.Error = err.Error() + ": upload it to a new import"
		_, err = h.Runner.Store.CheckpointImport(context.WithoutCancel(ctx), job, store.ImportFailed)
		return err
	case err != nil && ctx.Err() == nil && (errors.Is(err, ErrStopped) || runCtx.Err() != nil):
		// Stopped for the invocation's deadline (also when the time ran out
		// before the first line, claiming or opening the file): continue.
		body, merr := json.Marshal(message{Continue: &Continue{PartnerID: partner, ImportID: id}})
		if merr != nil {
			return merr
		}
		if _, err := h.SQS.SendMessage(context.WithoutCancel(ctx), &sqs.SendMessageInput{QueueUrl: aws.String(h.QueueURL), MessageBody: aws.String(string(body))}); err != nil {
			return fmt.Errorf("queue the continuation of import %s: %w", id, err)
		}
		h.log().InfoContext(ctx, "import continues in the next invocation", "partner_id", partner, "import_id", id, "lines_done", job.Line)
		return nil
	}
	return err
}

// Wire builds the imports function's handler on table, the bucket and the
// queue of the environment.
func Wire(cfg aws.Config, db *dynamodb.Client, table string, log *slog.Logger) (*Handler, error) {
	bucket, err := awsclient.Env(EnvBucket)
	if err != nil {
		return nil, err
	}
	queue, err := awsclient.Env(EnvQueue)
	if err != nil {
		return nil, err
	}
	return &Handler{
		Runner: &Runner{Store: store.New(db, table), Log: log},
		S3:     awsclient.S3(cfg), SQS: sqs.NewFromConfig(cfg),
		Bucket: bucket, QueueURL: queue, Log: log,
	}, nil
}

// Lambda is the imports function's handler (functions/imports).
func Lambda(cfg aws.Config, db *dynamodb.Client, table string, log *slog.Logger) (any, error) {
	h, err := Wire(cfg, db, table, log)
	if err != nil {
		return nil, err
	}
	return h.HandleSQS, nil
}
