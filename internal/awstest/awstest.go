// Package awstest gives tests real DynamoDB tables and SQS queues on the
// local emulators started by cmd/testenv (DynamoDB Local and moto). Import it
// only from _test.go files.
//
// Tests that use it must run under testenv, which `make test` does:
//
//	go run ./cmd/testenv -- go test ./...
//
// Outside testenv the helpers fail the test (they do not skip it), so a store
// test can never pass silently without having run against DynamoDB Local.
//
// Every table and queue gets a unique name and is deleted in t.Cleanup, so
// tests and packages may run in parallel against the same emulators.
package awstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Environment variables set by cmd/testenv.
const (
	DynamoDBEndpointEnv = "ACCRUE_TEST_DYNAMODB_ENDPOINT"
	MotoEndpointEnv     = "ACCRUE_TEST_MOTO_ENDPOINT"
)

// Region is the region every test client uses.
const Region = "us-east-1"

const notRunningHint = "run `make test` (or go run ./cmd/testenv -- go test ./...)"

var (
	clientsMu  sync.Mutex
	ddbClients = map[string]*dynamodb.Client{}
	sqsClients = map[string]*sqs.Client{}
	ebClients  = map[string]*eventbridge.Client{}
	kmsClients = map[string]*kms.Client{}
	s3Clients  = map[string]*s3.Client{}
)

// Endpoint returns the DynamoDB Local endpoint, failing t when testenv is not
// running.
func Endpoint(t testing.TB) string {
	t.Helper()
	ep := os.Getenv(DynamoDBEndpointEnv)
	if ep == "" {
		t.Fatalf("DynamoDB Local is not running: %s (%s is not set)", notRunningHint, DynamoDBEndpointEnv)
	}
	return ep
}

// MotoEndpoint returns the moto endpoint (SQS, EventBridge), failing t when
// testenv is not running.
func MotoEndpoint(t testing.TB) string {
	t.Helper()
	ep := os.Getenv(MotoEndpointEnv)
	if ep == "" {
		t.Fatalf("moto is not running: %s (%s is not set)", notRunningHint, MotoEndpointEnv)
	}
	return ep
}

// AWSConfig returns an aws.Config for the local emulators: static
// credentials test/test, region us-east-1, a retryer suited to a local
// emulator and an HTTP client with a timeout. Services other than DynamoDB
// and SQS (e.g. EventBridge on moto) can be built from it together with
// BaseEndpoint = MotoEndpoint(t).
func AWSConfig() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		Retryer:     localRetryer,
		HTTPClient:  awshttp.NewBuildableClient().WithTimeout(30 * time.Second),
	}
}

// localRetryer retries transient failures (a connection reset, a JVM pause)
// a couple of times, quickly, and never runs out of retry tokens: the
// standard client-side retry quota exists to protect a remote service and
// would make a busy parallel test suite fail with "retry quota exceeded".
func localRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.MaxBackoff = 200 * time.Millisecond
		o.RateLimiter = ratelimit.None
	})
}

// Client returns a DynamoDB client for DynamoDB Local. The test fails when
// DynamoDB Local is not running. Clients are shared within a test binary.
func Client(t testing.TB) *dynamodb.Client {
	t.Helper()
	ep := Endpoint(t)
	return shared(ddbClients, ep, func() *dynamodb.Client {
		return dynamodb.NewFromConfig(AWSConfig(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(ep) })
	})
}

// SQSClient returns an SQS client for moto. The test fails when moto is not
// running. Clients are shared within a test binary.
func SQSClient(t testing.TB) *sqs.Client {
	t.Helper()
	ep := MotoEndpoint(t)
	return shared(sqsClients, ep, func() *sqs.Client {
		return sqs.NewFromConfig(AWSConfig(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(ep) })
	})
}

// EventBridgeClient returns an EventBridge client for moto. The test fails
// when moto is not running. Clients are shared within a test binary.
func EventBridgeClient(t testing.TB) *eventbridge.Client {
	t.Helper()
	ep := MotoEndpoint(t)
	return shared(ebClients, ep, func() *eventbridge.Client {
		return eventbridge.NewFromConfig(AWSConfig(), func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(ep) })
	})
}

// KMSClient returns a KMS client for moto. The test fails when moto is not
// running. Clients are shared within a test binary.
func KMSClient(t testing.TB) *kms.Client {
	t.Helper()
	ep := MotoEndpoint(t)
	return shared(kmsClients, ep, func() *kms.Client {
		return kms.NewFromConfig(AWSConfig(), func(o *kms.Options) { o.BaseEndpoint = aws.String(ep) })
	})
}

// shared returns cache's client of endpoint ep, made by newClient the first
// time.
func shared[C any](cache map[string]C, ep string, newClient func() C) C {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	if c, ok := cache[ep]; ok {
		return c
	}
	c := newClient()
	cache[ep] = c
	return c
}

// NewKMSKey creates a symmetric encryption key on moto and schedules its
// deletion when the test ends. It returns the key's ARN.
func NewKMSKey(t testing.TB, c *kms.Client) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(t.Name())})
	if err != nil {
		t.Fatalf("awstest.NewKMSKey: %v", err)
	}
	arn := aws.ToString(out.KeyMetadata.Arn)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(arn), PendingWindowInDays: aws.Int32(7)})
	})
	return arn
}

// S3Client returns an S3 client for moto (buckets addressed by path). The
// test fails when moto is not running. Clients are shared within a test
// binary.
func S3Client(t testing.TB) *s3.Client {
	t.Helper()
	ep := MotoEndpoint(t)
	return shared(s3Clients, ep, func() *s3.Client {
		return s3.NewFromConfig(AWSConfig(), func(o *s3.Options) {
			o.BaseEndpoint = aws.String(ep)
			o.UsePathStyle = true
		})
	})
}

// NewBucket creates an S3 bucket on moto with a unique name derived from the
// test's, and deletes it (and its objects) when the test ends. It returns
// the name.
func NewBucket(t testing.TB, c *s3.Client) string {
	t.Helper()
	name := strings.ToLower(uniqueName(t.Name(), "", 63, "-"))
	name = strings.Trim(strings.ReplaceAll(name, "_", "-"), "-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("awstest.NewBucket: create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Errorf("awstest: list bucket %s: %v", name, err)
				return
			}
			for _, o := range page.Contents {
				_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: o.Key})
			}
		}
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Errorf("awstest: delete bucket %s: %v", name, err)
		}
	})
	return name
}

// StreamsClient returns a DynamoDB Streams client for DynamoDB Local's
// streams (internal/streampoller reads them). The test fails when DynamoDB
// Local is not running.
func StreamsClient(t testing.TB) *dynamodbstreams.Client {
	t.Helper()
	ep := Endpoint(t)
	return dynamodbstreams.NewFromConfig(AWSConfig(), func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = aws.String(ep)
	})
}

// NewTable creates a table with a unique name derived from the test's name,
// waits until it is ACTIVE and deletes it when the test ends. def receives the
// name and returns the table definition; its TableName is forced to that
// name. NewTable returns the name.
//
// Example:
//
//	name := awstest.NewTable(t, c, func(name string) *dynamodb.CreateTableInput {
//		return &dynamodb.CreateTableInput{
//			TableName:            aws.String(name),
//			BillingMode:          types.BillingModePayPerRequest,
//			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
//			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
//		}
//	})
func NewTable(t testing.TB, c *dynamodb.Client, def func(name string) *dynamodb.CreateTableInput) string {
	t.Helper()
	name := TableName(t)
	in := def(name)
	if in == nil {
		t.Fatalf("awstest.NewTable: definition func returned nil")
	}
	in.TableName = aws.String(name)
	// Deletion protection would make the cleanup fail.
	in.DeletionProtectionEnabled = nil

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.CreateTable(ctx, in); err != nil {
		t.Fatalf("awstest.NewTable: create table %s: %v", name, err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		var nf *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			t.Errorf("awstest: delete table %s: %v", name, err)
		}
	})

	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 20 * time.Millisecond
		o.MaxDelay = 500 * time.Millisecond
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 60*time.Second); err != nil {
		t.Fatalf("awstest.NewTable: table %s did not become ACTIVE: %v", name, err)
	}
	return name
}

// TableName returns a unique DynamoDB table name derived from the test's
// name: characters outside [a-zA-Z0-9_.-] become '_', and a random suffix
// is appended. The result is at most 255 characters long.
func TableName(t testing.TB) string {
	return uniqueName(t.Name(), "", 255, "_.-")
}

// NewQueue creates an SQS queue on moto and deletes it when the test ends. It
// returns the queue URL. The queue's real name is name (or, when empty, the
// test's name) made unique with a random suffix; a ".fifo" ending is kept at
// the end, so FIFO queues work (set attrs["FifoQueue"] = "true" too). attrs
// are passed to CreateQueue as they are.
func NewQueue(t testing.TB, c *sqs.Client, name string, attrs map[string]string) string {
	t.Helper()
	base, ext := name, ""
	if strings.HasSuffix(base, ".fifo") {
		base, ext = strings.TrimSuffix(base, ".fifo"), ".fifo"
	}
	if base == "" {
		base = t.Name()
	}
	qname := uniqueName(base, ext, 80, "_-")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(qname), Attributes: attrs})
	if err != nil {
		t.Fatalf("awstest.NewQueue: create queue %s: %v", qname, err)
	}
	url := aws.ToString(out.QueueUrl)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)})
		var nf *sqstypes.QueueDoesNotExist
		if err != nil && !errors.As(err, &nf) {
			t.Errorf("awstest: delete queue %s: %v", url, err)
		}
	})
	return url
}

// uniqueName sanitizes base to [a-zA-Z0-9] plus the extra allowed characters,
// appends "-" + 12 random hex digits and then ext, and keeps the whole within
// max characters.
func uniqueName(base, ext string, max int, allowed string) string {
	var sb strings.Builder
	for _, r := range base {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(allowed, r):
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("awstest: crypto/rand: %v", err))
	}
	suffix := "-" + hex.EncodeToString(b) + ext
	s := sb.String()
	if s == "" {
		s = "t"
	}
	if len(s) > max-len(suffix) {
		s = s[:max-len(suffix)]
	}
	return s + suffix
}

// NoStream returns def with the table's stream turned off. Benchmarks use it:
// DynamoDB Local's stream emulation costs it about two thirds of its write
// throughput (BENCHMARKS.md), which DynamoDB's streams do not, so with a
// stream the emulator's bottleneck would hide the cost of the code measured.
func NoStream(def func(name string) *dynamodb.CreateTableInput) func(name string) *dynamodb.CreateTableInput {
	return func(name string) *dynamodb.CreateTableInput {
		in := def(name)
		in.StreamSpecification = nil
		return in
	}
}
