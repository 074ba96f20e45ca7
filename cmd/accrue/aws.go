package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/logging"
)

// Environment variables the CLI reads (beside the SDK's own: profiles, SSO, ...).
const (
	envTable    = "ACCRUE_TABLE"
	envDynamoDB = "ACCRUE_DYNAMODB_ENDPOINT" // DynamoDB Local beside moto (as in shared/awsclient)
	envQueue    = "ACCRUE_PAYMENTS_QUEUE_URL"
	envDLQ      = "ACCRUE_PAYMENTS_DLQ_URL"
)

// dynamoEndpoint and sqsEndpoint: the endpoint override of each service, if any
// (the most specific variable wins).
func dynamoEndpoint(env func(string) string) string {
	return firstSet(env, envDynamoDB, "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL")
}

func sqsEndpoint(env func(string) string) string {
	return firstSet(env, "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL")
}

func firstSet(env func(string) string, names ...string) string {
	for _, n := range names {
		if v := env(n); v != "" {
			return v
		}
	}
	return ""
}

// awsConfig loads the AWS configuration. The variables the CLI was given
// (env) take precedence over the process environment, so tests and wrappers
// can point it anywhere. Against a local emulator (an endpoint on localhost)
// without credentials in the environment it uses dummy ones: DynamoDB Local and
// moto accept any.
func awsConfig(ctx context.Context, env func(string) string, endpoint string, stderr io.Writer) (aws.Config, error) {
	// The SDK's warnings go where the CLI's messages go.
	opts := []func(*config.LoadOptions) error{config.WithLogger(logging.NewStandardLogger(stderr))}
	if r := firstSet(env, "AWS_REGION", "AWS_DEFAULT_REGION"); r != "" {
		opts = append(opts, config.WithRegion(r))
	}
	if p := env("AWS_PROFILE"); p != "" {
		opts = append(opts, config.WithSharedConfigProfile(p))
	}
	id, secret := env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")
	switch {
	case id != "" && secret != "":
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, env("AWS_SESSION_TOKEN"))))
	case isLocal(endpoint) && env("AWS_PROFILE") == "":
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		if !isLocal(endpoint) {
			return aws.Config{}, errors.New("no AWS region: set AWS_REGION (or a region in your AWS profile)")
		}
		cfg.Region = "us-east-1"
	}
	return cfg, nil
}

func isLocal(endpoint string) bool {
	if endpoint == "" {
		return false
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	switch u.Hostname() {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

func newDynamoDB(ctx context.Context, env func(string) string, stderr io.Writer) (*dynamodb.Client, error) {
	ep := dynamoEndpoint(env)
	cfg, err := awsConfig(ctx, env, ep, stderr)
	if err != nil {
		return nil, err
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
		// DynamoDB Local sends a wrong x-amz-crc32 (0) with some responses;
		// checking it would only log warnings.
		o.DisableValidateResponseChecksum = isLocal(ep)
	}), nil
}

func newSQS(ctx context.Context, env func(string) string, stderr io.Writer) (*sqs.Client, error) {
	ep := sqsEndpoint(env)
	cfg, err := awsConfig(ctx, env, ep, stderr)
	if err != nil {
		return nil, err
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
	}), nil
}
