// Package awsclient builds the AWS SDK clients of the functions and tools from
// the environment. The SDK's own endpoint variables point them at local
// emulators: AWS_ENDPOINT_URL (moto, for every service) and
// AWS_ENDPOINT_URL_DYNAMODB (DynamoDB Local, for DynamoDB alone).
package awsclient

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Load reads the AWS configuration from the environment.
func Load(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}

// DynamoDB returns a DynamoDB client (AWS_ENDPOINT_URL_DYNAMODB, read by the
// SDK, moves it to DynamoDB Local).
func DynamoDB(cfg aws.Config) *dynamodb.Client { return dynamodb.NewFromConfig(cfg) }

// S3 returns an S3 client. With an emulator's endpoint (AWS_ENDPOINT_URL, or
// AWS_ENDPOINT_URL_S3) it addresses buckets by path, as moto expects
// (bucket.127.0.0.1 does not resolve); in AWS, by virtual host.
func S3(cfg aws.Config) *s3.Client {
	emulated := os.Getenv("AWS_ENDPOINT_URL") != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = emulated })
}

// Env returns a required environment variable.
func Env(name string) (string, error) {
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("environment variable %s is required", name)
	}
	return v, nil
}
