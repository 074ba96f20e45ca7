// Package devstack runs the whole system on one machine (spec §9, make dev):
// DynamoDB Local and moto, the table and queues from the same definitions as
// the CDK stack, a seeded demo partner, the API on a local address, the
// payments queue consumed with Lambda's batch semantics, the table's stream
// published to a local event bus as domain events and summed by the stats
// consumer, and the schedules.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/accrue/accrue/internal/emulators"
	"github.com/accrue/accrue/internal/sqspoller"
	"github.com/accrue/accrue/internal/streampoller"
	"github.com/accrue/accrue/shared/api"
	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/imports"
	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/keys"
	"github.com/accrue/accrue/shared/memberjobs"
	"github.com/accrue/accrue/shared/metrics"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/queue"
	"github.com/accrue/accrue/shared/rollup"
	"github.com/accrue/accrue/shared/store"
	"github.com/accrue/accrue/shared/webhooks"
)

// Config of a local stack.
type Config struct {
	// Addr of the API (default 127.0.0.1:8080).
	Addr string
	// Dir keeps the DynamoDB data, logs and dev.env (default .local).
	Dir string
	// Fresh: start with an empty database (in memory) instead of the kept one.
	Fresh bool
	// Partner (default telco, the partner of the samples in events/) and
	// ProgramFile of the demo partner seeded on first start.
	Partner, ProgramFile string
	// Table, Queue and event Bus names; the imports Bucket and its queue.
	Table, Queue, Bus           string
	ImportsBucket, ImportsQueue string
	// Visibility of the local payments queue (default 5s: retries show quickly).
	Visibility time.Duration
	// Progress receives human-readable progress lines (stderr in make dev).
	Progress func(format string, args ...any)
	Log      *slog.Logger
	// JobsEvery: how often the member jobs run (default 1 minute; in AWS
	// their schedule is rate(5 minutes)); RollupEvery: the stats roll-up
	// (default 1 minute; rate(15 minutes) in AWS).
	JobsEvery, RollupEvery time.Duration
	// Schedules fired while the stack runs, besides the scheduled jobs the
	// stack itself fires (member jobs, stats roll-up).
	Schedules []Schedule
	// WebhookSchedule is the webhook deliveries' retry schedule (default
	// webhooks.DefaultSchedule, the one of AWS); make dev WEBHOOK_SCHEDULE=
	// shortens it.
	WebhookSchedule webhooks.Schedule
}

// Env is what a running local stack offers, also written to Dir/dev.env.
type Env struct {
	APIURL, APIKey, QueueURL, DLQURL, MotoEndpoint, DynamoDBEndpoint, Region, Table, Partner string
	// Bus is the local event bus; EventsQueueURL receives a copy of every domain event.
	Bus, EventsQueueURL string
	// The webhook delivery path: its queues, DLQ and KMS key.
	WebhookEventsQueueURL, WebhookDeliveriesQueueURL, WebhookDLQURL, WebhookKey string
	// ImportsBucket receives import files (POST /v1/imports's upload URLs);
	// ImportsQueueURL is notified of them, as in AWS.
	ImportsBucket, ImportsQueueURL string
}

func (c *Config) defaults() {
	set := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	set(&c.Addr, "127.0.0.1:8080")
	set(&c.Dir, ".local")
	set(&c.Partner, "telco")
	set(&c.ProgramFile, "events/program-telco.json")
	set(&c.Table, "accrue")
	set(&c.Queue, "accrue-payments")
	set(&c.Bus, "accrue-local")
	set(&c.ImportsBucket, "accrue-imports")
	set(&c.ImportsQueue, "accrue-imports")
	if c.Visibility <= 0 {
		c.Visibility = 5 * time.Second
	}
	if c.JobsEvery <= 0 {
		c.JobsEvery = time.Minute
	}
	if c.RollupEvery <= 0 {
		c.RollupEvery = time.Minute
	}
	if c.Progress == nil {
		c.Progress = func(string, ...any) {}
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// Run starts everything, calls ready with the environment once it serves, and
// runs until ctx is done; then it stops everything it started.
func Run(ctx context.Context, cfg Config, ready func(Env)) (err error) {
	cfg.defaults()
	logDir := filepath.Join(cfg.Dir, "logs")
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("the API address %s: %w (is another make dev running? use ADDR=127.0.0.1:PORT)", cfg.Addr, err)
	}
	defer ln.Close()

	cfg.Progress("starting DynamoDB Local and moto ...")
	start := time.Now()
	var ddb, moto *emulators.Server
	var ddbErr, motoErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		opts := emulators.DynamoDBOptions{LogDir: logDir}
		if !cfg.Fresh {
			opts.DBPath = filepath.Join(cfg.Dir, "dev-db")
		}
		ddb, ddbErr = emulators.StartDynamoDB(ctx, opts)
	}()
	go func() {
		defer wg.Done()
		moto, motoErr = emulators.StartMoto(ctx, emulators.MotoOptions{LogDir: logDir})
	}()
	wg.Wait()
	defer func() {
		for _, s := range []*emulators.Server{ddb, moto} {
			if s != nil {
				_ = s.Stop()
			}
		}
	}()
	if err := errors.Join(ddbErr, motoErr); err != nil {
		return err
	}
	cfg.Progress("emulators ready in %.1fs (DynamoDB Local %s, moto %s)", time.Since(start).Seconds(), ddb.Endpoint(), moto.Endpoint())

	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(ddb.Endpoint()) })
	sq := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(moto.Endpoint()) })

	if _, err := store.EnsureTable(ctx, db, cfg.Table); err != nil {
		return err
	}
	streamARN, err := streampoller.EnsureStream(ctx, db, cfg.Table)
	if err != nil {
		return err
	}
	eb := eventbridge.NewFromConfig(awsCfg, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(moto.Endpoint()) })
	eventsQueue, err := eventBus(ctx, eb, sq, cfg.Bus)
	if err != nil {
		return err
	}
	km := kms.NewFromConfig(awsCfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(moto.Endpoint()) })
	qs, err := queue.CreatePayments(ctx, sq, cfg.Queue, cfg.Visibility)
	if err != nil {
		return err
	}
	// Imports: the bucket notifies its queue of each upload, as in AWS (moto
	// delivers S3 event notifications to its SQS).
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(moto.Endpoint()), true })
	iqs, err := imports.CreateLocal(ctx, s3c, sq, cfg.ImportsBucket, cfg.ImportsQueue, cfg.Visibility*12)
	if err != nil {
		return err
	}
	st := store.New(db, cfg.Table)
	ks := keys.New(db, cfg.Table)
	key, err := seed(ctx, st, ks, cfg)
	if err != nil {
		return err
	}
	wh, err := NewWebhooks(ctx, eb, sq, km, store.New(db, cfg.Table), WebhookConfig{
		Prefix: cfg.Bus, Bus: cfg.Bus, Schedule: cfg.WebhookSchedule, Log: cfg.Log,
	})
	if err != nil {
		return err
	}
	wh.checkSecrets(ctx, st, cfg)

	proc := ingest.New(st, cfg.Log, metrics.New(nil))
	uploads := imports.NewUploads(s3c, cfg.ImportsBucket)
	handler := api.New(api.Deps{Store: st, Keys: ks, Ingest: proc, Uploads: uploads, Log: cfg.Log, Webhooks: wh.Deps})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("API server: %w", err)
		}
	}()
	poller := &sqspoller.Poller{Client: sq, QueueURL: qs.URL, Handler: proc.HandleSQS, Log: cfg.Log, BatchSize: queue.BatchSize, WaitSeconds: 1}
	// The imports function: one message at a time. One worker: the local
	// table has a stream, and DynamoDB Local's stream emulation serializes
	// transactions (more workers only wait on its lock).
	importer := &imports.Handler{Runner: &imports.Runner{Store: st, Workers: 1, Log: cfg.Log}, S3: s3c, SQS: sq,
		Bucket: cfg.ImportsBucket, QueueURL: iqs.URL, Log: cfg.Log}
	importPoller := &sqspoller.Poller{Client: sq, QueueURL: iqs.URL, Handler: importer.HandleSQS, Log: cfg.Log, BatchSize: 1, WaitSeconds: 1}
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		var wg sync.WaitGroup
		for _, p := range []*sqspoller.Poller{poller, importPoller} {
			wg.Go(func() { _ = p.Run(runCtx) })
		}
		wg.Wait()
	}()
	// The table's stream, read twice as two event source mappings do in AWS:
	// domain events → EventBridge (the events function), and the stats
	// consumer's partial figures (the stats function; its batches carry the
	// shard id, as a tumbling window's do).
	streams := dynamodbstreams.NewFromConfig(awsCfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(ddb.Endpoint()) })
	pub := domainevents.NewPublisher(eb, cfg.Bus, domainevents.WithLogger(cfg.Log))
	sp := streampoller.NewPoller(streams, streamARN, pub.HandleStream)
	statsPoller := streampoller.NewWindowPoller(streams, streamARN, rollup.NewConsumer(st, cfg.Log).Handle)
	streamDone := make(chan struct{})
	var streamWG sync.WaitGroup
	for _, p := range []*streampoller.Poller{sp, statsPoller} {
		p.Log = cfg.Log
		streamWG.Go(func() { _ = p.Run(runCtx) })
	}
	streamWG.Go(func() { wh.Run(runCtx) })
	go func() { defer close(streamDone); streamWG.Wait() }()
	// The scheduled jobs, as their EventBridge schedules fire them in AWS.
	jobsRunner := memberjobs.New(st, memberjobs.WithLogger(cfg.Log))
	statsJob := rollup.New(st, cfg.Log)
	cfg.Schedules = append(cfg.Schedules,
		Schedule{Name: "member-jobs", Every: cfg.JobsEvery, Run: func(ctx context.Context) error {
			_, err := jobsRunner.Run(ctx)
			return err
		}},
		Schedule{Name: "stats-rollup", Every: cfg.RollupEvery, Run: func(ctx context.Context) error {
			_, err := statsJob.Run(ctx)
			return err
		}})
	schedDone := make(chan struct{})
	go func() { defer close(schedDone); runSchedules(runCtx, cfg) }()

	env := Env{
		APIURL: "http://" + ln.Addr().String(), APIKey: key, QueueURL: qs.URL, DLQURL: qs.DLQURL,
		MotoEndpoint: moto.Endpoint(), DynamoDBEndpoint: ddb.Endpoint(), Region: awsCfg.Region, Table: cfg.Table, Partner: cfg.Partner,
		Bus: cfg.Bus, EventsQueueURL: eventsQueue,
		WebhookEventsQueueURL: wh.EventsQueueURL, WebhookDeliveriesQueueURL: wh.DeliveriesQueueURL,
		WebhookDLQURL: wh.DLQURL, WebhookKey: wh.KeyID,
		ImportsBucket: cfg.ImportsBucket, ImportsQueueURL: iqs.URL,
	}
	if err := writeEnv(filepath.Join(cfg.Dir, "dev.env"), env); err != nil {
		return err
	}
	if ready != nil {
		ready(env)
	}
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	cfg.Progress("stopping ...")
	cancel()
	shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = srv.Shutdown(shutdown)
	<-pollDone
	<-streamDone
	<-schedDone
	return err
}

// seed creates the demo partner on first start (registering it for the stats
// roll-up if a kept database predates the registry) and a new admin key on every
// start (keys are shown only once, so the previous one cannot be printed again).
func seed(ctx context.Context, st *store.Store, ks *keys.Store, cfg Config) (string, error) {
	if _, err := st.Program(ctx, cfg.Partner); errors.Is(err, store.ErrUnknownPartner) {
		raw, err := os.ReadFile(cfg.ProgramFile)
		if err != nil {
			return "", fmt.Errorf("demo program: %w", err)
		}
		p, err := program.Parse(raw)
		if err != nil {
			return "", fmt.Errorf("demo program %s: %w", cfg.ProgramFile, err)
		}
		if _, err := st.PutProgram(ctx, cfg.Partner, p); err != nil {
			return "", err
		}
		cfg.Progress("seeded partner %q with %s", cfg.Partner, cfg.ProgramFile)
	} else if err != nil {
		return "", err
	} else if err := st.RegisterPartner(ctx, cfg.Partner); err != nil {
		return "", err // a kept database from before the partner registry: the roll-up needs it listed
	}
	key, _, err := ks.Create(ctx, cfg.Partner, keys.RoleAdmin, "make dev "+time.Now().UTC().Format(time.RFC3339))
	return key, err
}

// writeEnv writes shell KEY=value lines for scripts and other tools.
func writeEnv(path string, e Env) error {
	lines := []string{
		"ACCRUE_API_URL=" + e.APIURL,
		"ACCRUE_API_KEY=" + e.APIKey,
		"ACCRUE_PARTNER=" + e.Partner,
		"ACCRUE_QUEUE_URL=" + e.QueueURL,
		"ACCRUE_DLQ_URL=" + e.DLQURL,
		"ACCRUE_TABLE=" + e.Table,
		"ACCRUE_EVENT_BUS=" + e.Bus,
		"ACCRUE_EVENTS_QUEUE_URL=" + e.EventsQueueURL,
		"ACCRUE_WEBHOOK_EVENTS_QUEUE_URL=" + e.WebhookEventsQueueURL,
		"ACCRUE_WEBHOOK_DELIVERIES_QUEUE_URL=" + e.WebhookDeliveriesQueueURL,
		"ACCRUE_WEBHOOK_DLQ_URL=" + e.WebhookDLQURL,
		"ACCRUE_WEBHOOK_KEY=" + e.WebhookKey,
		"ACCRUE_IMPORTS_BUCKET=" + e.ImportsBucket,
		"ACCRUE_IMPORTS_QUEUE_URL=" + e.ImportsQueueURL,
		"AWS_ENDPOINT_URL=" + e.MotoEndpoint,
		"AWS_ENDPOINT_URL_DYNAMODB=" + e.DynamoDBEndpoint,
		"AWS_REGION=" + e.Region,
		"AWS_DEFAULT_REGION=" + e.Region,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// Schedule is a periodic job that the local stack fires, as EventBridge
// schedules do in AWS.
type Schedule struct {
	Name  string
	Every time.Duration
	Run   func(ctx context.Context) error
}

// runSchedules fires each of cfg.Schedules every Every until ctx is done.
func runSchedules(ctx context.Context, cfg Config) {
	var wg sync.WaitGroup
	for _, s := range cfg.Schedules {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(s.Every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if err := s.Run(ctx); err != nil && ctx.Err() == nil {
						cfg.Log.WarnContext(ctx, "scheduled job failed", "job", s.Name, "error", err)
					}
				}
			}
		}()
	}
	wg.Wait()
}
