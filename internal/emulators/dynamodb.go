package emulators

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// DynamoDBLocalDirEnv names the environment variable that can point at a
// DynamoDB Local installation (the directory holding DynamoDBLocal.jar).
const DynamoDBLocalDirEnv = "ACCRUE_DYNAMODB_LOCAL_DIR"

// DefaultDynamoDBLocalDir is where scripts/fetch-dynamodb-local.sh installs
// DynamoDB Local, relative to the repository root.
const DefaultDynamoDBLocalDir = ".local/dynamodb-local"

// DefaultJavaOptions are the JVM options used when DynamoDBOptions.JavaOptions
// is nil: enough heap for the test suite without starving a 2-core CI box.
var DefaultJavaOptions = []string{"-Xmx512m"}

// DynamoDBOptions configures StartDynamoDB. The zero value runs an in-memory
// DynamoDB Local from the repository's .local/dynamodb-local on a free port.
type DynamoDBOptions struct {
	// Dir is the DynamoDB Local installation: it holds DynamoDBLocal.jar
	// and DynamoDBLocal_lib/. When empty, $ACCRUE_DYNAMODB_LOCAL_DIR is
	// used, else .local/dynamodb-local in the first directory at or above
	// the working directory that has a go.mod.
	Dir string

	// DBPath, when set, keeps the data on disk in that directory (created
	// if needed) across restarts. When empty the database is in memory and
	// lost on Stop. Either way the database is shared (-sharedDb): every
	// client sees the same tables whatever its credentials and region.
	DBPath string

	// Port to listen on; 0 picks a free one.
	Port int

	// JavaOptions are JVM options placed before -jar; nil means
	// DefaultJavaOptions.
	JavaOptions []string

	// LogDir receives dynamodb-local-PORT.log with the server's output.
	// When empty a new temporary directory is used.
	LogDir string

	// StartTimeout bounds the wait for the first successful ListTables
	// call; 0 means DefaultStartTimeout (60s).
	StartTimeout time.Duration
}

// StartDynamoDB starts DynamoDB Local on 127.0.0.1 and returns once it answers
// a real ListTables call. Call Stop on the result when done.
//
// DynamoDB Local (1.25.1) has no option to choose the listening address: its
// Jetty server binds all interfaces. The endpoint handed out is always
// 127.0.0.1, and the port is a random free one.
func StartDynamoDB(ctx context.Context, opts DynamoDBOptions) (*Server, error) {
	java, err := lookPath("java", "DynamoDB Local needs a Java runtime, version 11 or newer: install one, e.g. `apt-get install openjdk-17-jre-headless` (Debian/Ubuntu) or `brew install openjdk@17` (macOS)")
	if err != nil {
		return nil, err
	}
	dir, err := FindDynamoDBLocal(opts.Dir)
	if err != nil {
		return nil, err
	}
	var dbArgs []string
	if opts.DBPath == "" {
		dbArgs = []string{"-inMemory", "-sharedDb"}
	} else {
		p, err := filepath.Abs(opts.DBPath)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, fmt.Errorf("DynamoDB Local: create db dir: %w", err)
		}
		dbArgs = []string{"-dbPath", p, "-sharedDb"}
	}
	jvm := opts.JavaOptions
	if jvm == nil {
		jvm = DefaultJavaOptions
	}

	return start(ctx, spec{
		name:    "DynamoDB Local",
		logName: "dynamodb-local",
		logDir:  opts.LogDir,
		dir:     dir,
		port:    opts.Port,
		timeout: opts.StartTimeout,
		command: func(port int) (string, []string, []string) {
			args := append([]string{}, jvm...)
			args = append(args,
				"-Djava.library.path="+filepath.Join(dir, "DynamoDBLocal_lib"),
				"-jar", filepath.Join(dir, "DynamoDBLocal.jar"),
				"-port", fmt.Sprint(port),
				// No network here, and no telemetry wanted anyway.
				"-disableTelemetry",
			)
			args = append(args, dbArgs...)
			return java, args, []string{"DDB_LOCAL_TELEMETRY=0"}
		},
		ready: dynamoDBReady,
	})
}

// FindDynamoDBLocal returns the DynamoDB Local installation directory to use:
// dir if set, else $ACCRUE_DYNAMODB_LOCAL_DIR, else .local/dynamodb-local
// under the module root (the nearest directory at or above the working
// directory that holds go.mod). It fails, saying how to install it, when
// DynamoDBLocal.jar is not there.
func FindDynamoDBLocal(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv(DynamoDBLocalDirEnv)
	}
	if dir == "" {
		root, err := ModuleRoot()
		if err != nil {
			return "", fmt.Errorf("DynamoDB Local: %w (set %s to its directory)", err, DynamoDBLocalDirEnv)
		}
		dir = filepath.Join(root, DefaultDynamoDBLocalDir)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "DynamoDBLocal.jar")); err != nil {
		return "", fmt.Errorf("DynamoDB Local is not installed in %s: run scripts/fetch-dynamodb-local.sh (or `make tools`)", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "DynamoDBLocal_lib")); err != nil {
		return "", fmt.Errorf("DynamoDB Local in %s lacks DynamoDBLocal_lib/: run scripts/fetch-dynamodb-local.sh again", dir)
	}
	return dir, nil
}

// ModuleRoot returns the nearest directory at or above the working directory
// that holds a go.mod file.
func ModuleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("no go.mod found at or above " + wd)
		}
		d = parent
	}
}

// dynamoDBReady makes one real ListTables call, with no retries.
func dynamoDBReady(ctx context.Context, endpoint string) error {
	c := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Timeout: 2 * time.Second},
	})
	_, err := c.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
	return err
}
