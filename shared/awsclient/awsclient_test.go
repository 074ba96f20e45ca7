package awsclient_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/shared/awsclient"
)

// The SDK's own AWS_ENDPOINT_URL_DYNAMODB moves the DynamoDB client (and it
// alone) to another endpoint: the local stack points it at DynamoDB Local
// and AWS_ENDPOINT_URL at moto.
func TestDynamoDBEndpointFromTheSDKsVariable(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"service variable", map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "{srv}", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}},
		{"general variable", map[string]string{"AWS_ENDPOINT_URL": "{srv}"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				_, _ = w.Write([]byte(`{"TableNames":["t"]}`))
			}))
			defer srv.Close()
			t.Setenv("AWS_REGION", "us-east-1")
			t.Setenv("AWS_ACCESS_KEY_ID", "test")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
			t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "")
			for k, v := range tc.env {
				if v == "{srv}" {
					v = srv.URL
				}
				t.Setenv(k, v)
			}
			cfg, err := awsclient.Load(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			out, err := awsclient.DynamoDB(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{})
			if err != nil {
				t.Fatal(err)
			}
			if hits.Load() != 1 || len(out.TableNames) != 1 {
				t.Fatalf("hits %d, tables %v", hits.Load(), out.TableNames)
			}
		})
	}
}
