// Package awsclient builds the AWS SDK clients of the functions and tools from
// the environment. AWS_ENDPOINT_URL (honoured by the SDK itself) points every
// client at a local emulator: DynamoDB Local or moto.
package awsclient

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Load reads the AWS configuration from the environment.
func Load(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}

// DynamoDB returns a DynamoDB client. ACCRUE_DYNAMODB_ENDPOINT, when set,
// overrides the endpoint for DynamoDB alone (DynamoDB Local beside moto).
func DynamoDB(cfg aws.Config) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if ep := os.Getenv("ACCRUE_DYNAMODB_ENDPOINT"); ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
	})
}

// Env returns a required environment variable.
func Env(name string) (string, error) {
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("environment variable %s is required", name)
	}
	return v, nil
}

// Table returns a DynamoDB client and the table named by ACCRUE_TABLE: the
// start-up of every function.
func Table(ctx context.Context) (*dynamodb.Client, string, error) {
	cfg, err := Load(ctx)
	if err != nil {
		return nil, "", err
	}
	table, err := Env("ACCRUE_TABLE")
	if err != nil {
		return nil, "", err
	}
	return DynamoDB(cfg), table, nil
}
