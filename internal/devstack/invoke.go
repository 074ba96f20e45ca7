package devstack

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/accrue/accrue/shared/api"
	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/imports"
	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/memberjobs"
	"github.com/accrue/accrue/shared/rollup"
	"github.com/accrue/accrue/shared/store"
	"github.com/accrue/accrue/shared/webhooks"
)

// Handlers are the Lambda handlers of functions/, wired as their main.go wire
// them, for make invoke: on the running local stack whose dev.env is env,
// through cfg's clients (DynamoDB Local and moto); the api and imports
// functions on its imports bucket and queue.
func Handlers(cfg aws.Config, env map[string]string, log *slog.Logger) (map[string]lambda.Handler, error) {
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(env["AWS_ENDPOINT_URL_DYNAMODB"]) })
	motoCfg := cfg.Copy()
	motoCfg.BaseEndpoint = aws.String(env["AWS_ENDPOINT_URL"])
	eb := eventbridge.NewFromConfig(motoCfg)
	table := env["ACCRUE_TABLE"]
	wh, err := api.WebhookDepsFromEnv(motoCfg, func(k string) string {
		if k == webhooks.PolicyEnv {
			return webhooks.PolicyLocal.Name()
		}
		return env[k]
	})
	if err != nil {
		return nil, err
	}
	box := webhooks.NewBox(kms.NewFromConfig(motoCfg), env[webhooks.KeyEnv])
	s3c := s3.NewFromConfig(motoCfg, func(o *s3.Options) { o.UsePathStyle = true })
	im := &imports.Handler{Runner: &imports.Runner{Store: store.New(db, table), Workers: 1, Log: log}, S3: s3c, SQS: sqs.NewFromConfig(motoCfg),
		Bucket: env[imports.EnvBucket], QueueURL: env[imports.EnvQueue], Log: log}
	uploads := imports.NewUploads(s3c, im.Bucket)
	deliveries := webhooks.New(webhooks.Config{
		Store: store.New(db, table), Box: box, Queue: webhooks.NewQueue(sqs.NewFromConfig(motoCfg), env[webhooks.DeliveriesQueueEnv]),
		Policy: webhooks.PolicyLocal, Log: log,
	})
	return map[string]lambda.Handler{
		"events":   lambda.NewHandler(domainevents.NewPublisher(eb, env["ACCRUE_EVENT_BUS"], domainevents.WithLogger(log)).HandleStream),
		"ingest":   lambda.NewHandler(ingest.Wire(db, table, log).HandleSQS),
		"api":      lambda.NewHandler(httpadapter.NewV2(api.Wire(db, table, wh, uploads, log)).ProxyWithContext),
		"jobs":     lambda.NewHandler(memberjobs.Wire(db, table, log).HandleSchedule),
		"rollup":   lambda.NewHandler(rollup.Wire(db, table, log).Handle),
		"stats":    lambda.NewHandler(rollup.WireConsumer(db, table, log).Handle),
		"webhooks": lambda.NewHandler(deliveries.Handle),
		"imports":  lambda.NewHandler(im.HandleSQS),
	}, nil
}

// ReadEnv reads dir/dev.env written by a running make dev.
func ReadEnv(dir string) (map[string]string, error) {
	f, err := os.Open(filepath.Join(dir, "dev.env"))
	if err != nil {
		return nil, fmt.Errorf("%w: start the local stack first (make dev)", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env, sc.Err()
}

// Invoke runs function fn on the event in eventFile against the running local
// stack of dir, and writes the handler's JSON response to out.
func Invoke(ctx context.Context, dir, fn, eventFile string, out io.Writer) error {
	env, err := ReadEnv(dir)
	if err != nil {
		return err
	}
	payload, err := os.ReadFile(eventFile)
	if err != nil {
		return err
	}
	cfg := aws.Config{Region: env["AWS_REGION"], Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	hs, err := Handlers(cfg, env, slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	h, ok := hs[fn]
	if !ok {
		names := make([]string, 0, len(hs))
		for n := range hs {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("no function %q (functions: %s)", fn, strings.Join(names, ", "))
	}
	resp, err := h.Invoke(ctx, payload)
	if err != nil {
		return fmt.Errorf("%s: %w", fn, err)
	}
	_, err = fmt.Fprintf(out, "%s\n", resp)
	return err
}
