package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/logging"
)

// Environment variables the CLI reads (beside the SDK's own: profiles, SSO, ...).
const (
	envTable = "ACCRUE_TABLE"
	envQueue = "ACCRUE_PAYMENTS_QUEUE_URL"
	envDLQ   = "ACCRUE_PAYMENTS_DLQ_URL"
)

// dynamoEndpoint and sqsEndpoint: the endpoint override of each service, if any,
// from the SDK's own variables in the CLI's environment (the most specific
// wins), so that tests and wrappers can give the CLI its own.
func dynamoEndpoint(env func(string) string) string {
	return firstSet(env, "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL")
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
// can point it anywhere: credentials, AWS_PROFILE, AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE. Against a local emulator (an endpoint on
// localhost) without credentials in the environment it uses dummy ones:
// DynamoDB Local and moto accept any.
//
// A profile that assumes a role with MFA (role_arn and mfa_serial) asks for
// the code with c.mfaToken: on the terminal, once per run.
func (c *cli) awsConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	env := c.env
	// The SDK's warnings go where the CLI's messages go.
	opts := []func(*config.LoadOptions) error{
		config.WithLogger(logging.NewStandardLogger(c.stderr)),
		config.WithAssumeRoleCredentialOptions(func(o *stscreds.AssumeRoleOptions) {
			o.TokenProvider = c.mfaToken
		}),
	}
	if r := firstSet(env, "AWS_REGION", "AWS_DEFAULT_REGION"); r != "" {
		opts = append(opts, config.WithRegion(r))
	}
	if p := env("AWS_PROFILE"); p != "" {
		opts = append(opts, config.WithSharedConfigProfile(p))
	}
	if f := env("AWS_CONFIG_FILE"); f != "" {
		opts = append(opts, config.WithSharedConfigFiles([]string{f}))
	}
	if f := env("AWS_SHARED_CREDENTIALS_FILE"); f != "" {
		opts = append(opts, config.WithSharedCredentialsFiles([]string{f}))
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

// mfaCodeRE is an MFA device's code: six digits.
var mfaCodeRE = regexp.MustCompile(`^[0-9]{6}$`)

// terminalMFA returns the MFA token provider of an interactive run: it asks
// for the code on the terminal (/dev/tty), not on stdin/stdout, so the prompt
// never mixes with a command's output (a key printed to a file) and works with
// stdin redirected. profile names the AWS profile in the prompt.
func terminalMFA(profile string) func() (string, error) {
	return func() (string, error) {
		tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			return "", fmt.Errorf("AWS profile %q needs an MFA code, and there is no terminal to ask it on (%w): "+
				"run accrue in a terminal, or give it temporary credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)", profile, err)
		}
		defer tty.Close()
		return promptMFA(tty, tty, profile)
	}
}

// promptMFA asks for an MFA code on w and reads it from r.
func promptMFA(r io.Reader, w io.Writer, profile string) (string, error) {
	fmt.Fprintf(w, "MFA code for AWS profile %s: ", profile)
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read the MFA code: %w", err)
	}
	code := strings.TrimSpace(line)
	if !mfaCodeRE.MatchString(code) {
		return "", errors.New("the MFA code is six digits")
	}
	return code, nil
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

func (c *cli) newDynamoDB(ctx context.Context) (*dynamodb.Client, error) {
	ep := dynamoEndpoint(c.env)
	cfg, err := c.awsConfig(ctx, ep)
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

func (c *cli) newSQS(ctx context.Context) (*sqs.Client, error) {
	ep := sqsEndpoint(c.env)
	cfg, err := c.awsConfig(ctx, ep)
	if err != nil {
		return nil, err
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
	}), nil
}
