package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/shared/keys"
	"github.com/accrue/accrue/shared/store"
)

const testProgram = `{
  "name": "Test Rewards",
  "auto_enroll": true,
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 10000}}],
  "point_value": {"minor": "1", "currency": "RUB"}
}`

// tenv is a table on DynamoDB Local and the environment the CLI gets.
type tenv struct {
	t     *testing.T
	table string
	vars  map[string]string
	dir   string
}

func newTenv(t *testing.T) *tenv {
	t.Helper()
	c := awstest.Client(t)
	e := &tenv{t: t, table: awstest.NewTable(t, c, store.CreateTableInput), dir: t.TempDir()}
	e.vars = map[string]string{
		"ACCRUE_TABLE":              e.table,
		"AWS_ENDPOINT_URL_DYNAMODB": awstest.Endpoint(t),
		"AWS_REGION":                awstest.Region,
		"AWS_ACCESS_KEY_ID":         "test",
		"AWS_SECRET_ACCESS_KEY":     "test",
	}
	return e
}

func (e *tenv) env(name string) string { return e.vars[name] }

type result struct {
	code           int
	stdout, stderr string
}

// run runs the CLI with args.
func (e *tenv) run(args ...string) result {
	e.t.Helper()
	var out, errOut bytes.Buffer
	code := run(e.t.Context(), args, &out, &errOut, e.env)
	return result{code, out.String(), errOut.String()}
}

// ok runs the CLI and fails the test unless it exits 0.
func (e *tenv) ok(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("accrue %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func (e *tenv) file(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *tenv) keys() *keys.Store { return keys.New(awstest.Client(e.t), e.table) }

// printedKey returns the key a command printed: the only line of its stdout.
func printedKey(t *testing.T, r result) string {
	t.Helper()
	k := strings.TrimSuffix(r.stdout, "\n")
	if strings.Contains(k, "\n") || !strings.HasPrefix(k, keys.Prefix) || len(k) != keys.Len {
		t.Fatalf("stdout is not one key:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "shown only once") {
		t.Fatalf("no warning that the key is shown once:\n%s", r.stderr)
	}
	return k
}

func TestPartnerCreate(t *testing.T) {
	t.Parallel()
	e := newTenv(t)
	ctx := t.Context()
	prog := e.file("program.json", testProgram)

	r := e.ok("partner", "create", "--id", "telco", "--program", prog)
	key := printedKey(t, r)
	p, err := e.keys().Authenticate(ctx, "Bearer "+key)
	if err != nil {
		t.Fatalf("Authenticate the printed key: %v", err)
	}
	if p.PartnerID != "telco" || p.Role != keys.RoleAdmin {
		t.Fatalf("printed key is %+v, want an admin key of telco", p)
	}
	st := store.New(awstest.Client(t), e.table, store.WithProgramCacheTTL(0))
	got, err := st.Program(ctx, "telco")
	if err != nil || got.Name != "Test Rewards" || got.Version != 1 {
		t.Fatalf("stored program: %+v, %v", got, err)
	}

	// A duplicate is refused and changes nothing.
	r = e.run("partner", "create", "--id", "telco", "--program", prog)
	if r.code != 1 || !strings.Contains(r.stderr, "already exists") || r.stdout != "" {
		t.Fatalf("duplicate partner: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	ks, _, err := e.keys().List(ctx, "telco", 10, "")
	if err != nil || len(ks) != 1 {
		t.Fatalf("keys after the refused duplicate: %v, %v", ks, err)
	}

	// --update replaces the program and makes no key.
	upd := e.file("v2.json", strings.Replace(testProgram, "Test Rewards", "Test Rewards 2", 1))
	r = e.ok("partner", "create", "--id", "telco", "--program", upd, "--update")
	if r.stdout != "" || !strings.Contains(r.stderr, "version 2") {
		t.Fatalf("--update: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if got, err := st.Program(ctx, "telco"); err != nil || got.Name != "Test Rewards 2" || got.Version != 2 {
		t.Fatalf("program after --update: %+v, %v", got, err)
	}
	if ks, _, _ := e.keys().List(ctx, "telco", 10, ""); len(ks) != 1 {
		t.Fatalf("--update made a key: %d keys", len(ks))
	}

	// --no-key; --table after the command overrides ACCRUE_TABLE.
	e.vars["ACCRUE_TABLE"] = "no-such-table"
	r = e.ok("partner", "create", "--table", e.table, "--id", "bank-2", "--program", prog, "--no-key")
	if r.stdout != "" {
		t.Fatalf("--no-key printed %q", r.stdout)
	}
	if ks, _, _ := e.keys().List(ctx, "bank-2", 10, ""); len(ks) != 0 {
		t.Fatalf("--no-key made %d keys", len(ks))
	}
	if _, err := st.Program(ctx, "bank-2"); err != nil {
		t.Fatalf("partner of --no-key: %v", err)
	}
}

func TestInvalidProgram(t *testing.T) {
	t.Parallel()
	e := newTenv(t)
	tests := []struct {
		name, content string
		want          []string
	}{
		{"bad field", strings.Replace(testProgram, `"per_minor": 10000`, `"per_minor": 0`, 1), []string{"earning[0].rate.per_minor"}},
		{"unknown field", strings.Replace(testProgram, `"auto_enroll"`, `"auto_enrol"`, 1), []string{"auto_enrol"}},
		{"not JSON", `{"name": `, []string{"invalid program", "JSON"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.run("partner", "create", "--id", "telco", "--program", e.file("p.json", tc.content))
			if r.code != 1 || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Fatalf("stderr does not name %q:\n%s", w, r.stderr)
				}
			}
		})
	}
	r := e.run("partner", "create", "--id", "telco", "--program", filepath.Join(e.dir, "missing.json"))
	if r.code != 1 || !strings.Contains(r.stderr, "missing.json") {
		t.Fatalf("missing file: exit %d, stderr %q", r.code, r.stderr)
	}
	st := store.New(awstest.Client(t), e.table, store.WithProgramCacheTTL(0))
	if _, err := st.Program(t.Context(), "telco"); !errors.Is(err, store.ErrUnknownPartner) {
		t.Fatalf("an invalid program created the partner: %v", err)
	}
}

func TestKeyFlow(t *testing.T) {
	t.Parallel()
	e := newTenv(t)
	ctx := t.Context()
	e.ok("partner", "create", "--id", "telco", "--program", e.file("p.json", testProgram), "--no-key")

	// Create.
	appKey := printedKey(t, e.ok("key", "create", "--partner", "telco", "--role", "app", "--label", "mobile backend"))
	p, err := e.keys().Authenticate(ctx, appKey)
	if err != nil || p.Role != keys.RoleApp || p.PartnerID != "telco" {
		t.Fatalf("created app key: %+v, %v", p, err)
	}
	adminKey := printedKey(t, e.ok("--table", e.table, "key", "create", "--partner=telco", "--role=admin"))
	if _, err := e.keys().Authenticate(ctx, adminKey); err != nil {
		t.Fatal(err)
	}

	// List: a table, then JSON.
	r := e.ok("key", "list", "--partner", "telco")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "LAST4") {
		t.Fatalf("key list:\n%s", r.stdout)
	}
	if !strings.Contains(lines[1], p.KeyID) || !strings.Contains(lines[1], "mobile backend") ||
		!strings.HasSuffix(lines[1], appKey[len(appKey)-4:]) || !strings.Contains(lines[1], "app") {
		t.Fatalf("key list row of the app key: %q", lines[1])
	}
	if strings.Contains(r.stdout, appKey) || strings.Contains(r.stdout, adminKey) {
		t.Fatal("key list printed a key")
	}
	var listed []keys.Key
	r = e.ok("key", "list", "--partner", "telco", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil {
		t.Fatalf("key list --json: %v\n%s", err, r.stdout)
	}
	if len(listed) != 2 || listed[0].ID != p.KeyID || listed[0].Label != "mobile backend" || listed[1].Role != keys.RoleAdmin || listed[0].RevokedAt != nil {
		t.Fatalf("key list --json: %+v", listed)
	}

	// Revoke: the key stops working at once; twice is fine.
	r = e.ok("key", "revoke", "--partner", "telco", "--id", p.KeyID)
	if !strings.Contains(r.stdout, "revoked") {
		t.Fatalf("key revoke: %q", r.stdout)
	}
	if _, err := e.keys().Authenticate(ctx, appKey); !errors.Is(err, keys.ErrUnauthenticated) {
		t.Fatalf("revoked key: %v", err)
	}
	e.ok("key", "revoke", "--partner", "telco", "--id", p.KeyID)
	if _, err := e.keys().Authenticate(ctx, adminKey); err != nil {
		t.Fatalf("other key after revoke: %v", err)
	}
	r = e.ok("key", "list", "--partner", "telco", "--json")
	listed = nil
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil || listed[0].RevokedAt == nil || listed[1].RevokedAt != nil {
		t.Fatalf("key list after revoke: %+v, %v", listed, err)
	}

	// Runtime errors: exit 1 with a message.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"key", "revoke", "--partner", "telco", "--id", "00000000000000000000000000"}, "has no key"},
		{[]string{"key", "revoke", "--partner", "other", "--id", p.KeyID}, "has no key"},
		{[]string{"key", "create", "--partner", "nobody", "--role", "app"}, "unknown partner nobody"},
		{[]string{"--table", "no-such-table", "key", "list", "--partner", "telco"}, "no-such-table"},
	} {
		r := e.run(tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("accrue %s: exit %d, stdout %q, stderr %q; want 1 and %q", strings.Join(tc.args, " "), r.code, r.stdout, r.stderr, tc.want)
		}
	}
	r = e.run("key", "list", "--partner", "nobody")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "no keys") {
		t.Fatalf("list of a partner without keys: %+v", r)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	e := &tenv{t: t, vars: map[string]string{"ACCRUE_TABLE": "t"}}
	noTable := &tenv{t: t, vars: map[string]string{}}
	tests := []struct {
		name string
		e    *tenv
		args []string
		want string
	}{
		{"no command", e, nil, "no command"},
		{"unknown command", e, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown verb", e, []string{"key", "rotate"}, `unknown command "key rotate"`},
		{"group without verb", e, []string{"key"}, "needs a subcommand: create, list, revoke"},
		{"unknown global flag", e, []string{"--verbose", "key", "list"}, "-verbose"},
		{"unknown flag", e, []string{"key", "list", "--partner", "telco", "--all"}, "-all"},
		{"extra argument", e, []string{"key", "list", "--partner", "telco", "more"}, `unexpected argument "more"`},
		{"partner create without id", e, []string{"partner", "create", "--program", "p.json"}, "--id is required"},
		{"partner create bad id", e, []string{"partner", "create", "--id", "Tel Co", "--program", "p.json"}, `--id "Tel Co"`},
		{"partner create without program", e, []string{"partner", "create", "--id", "telco"}, "--program is required"},
		{"key create without partner", e, []string{"key", "create", "--role", "app"}, "--partner is required"},
		{"key create bad role", e, []string{"key", "create", "--partner", "telco", "--role", "root"}, `--role "root"`},
		{"key create without role", e, []string{"key", "create", "--partner", "telco"}, `--role ""`},
		{"key revoke without id", e, []string{"key", "revoke", "--partner", "telco"}, "--id is required"},
		{"key list bad partner", e, []string{"key", "list", "--partner", "A#B"}, `--partner "A#B"`},
		{"flag without value", e, []string{"key", "list", "--partner"}, "needs an argument"},
		{"no table", noTable, []string{"key", "list", "--partner", "telco"}, "no table"},
		{"table create without table", noTable, []string{"table", "create"}, "no table"},
		{"dlq without queues", noTable, []string{"dlq", "redrive"}, "--from is required"},
		{"dlq without target", noTable, []string{"dlq", "redrive", "--from", "http://q/dlq"}, "--to is required"},
		{"dlq to itself", noTable, []string{"dlq", "redrive", "--from", "http://q/a", "--to", "http://q/a"}, "same queue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.e.run(tc.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			if r.stdout != "" {
				t.Fatalf("usage error printed to stdout: %q", r.stdout)
			}
			if !strings.HasPrefix(r.stderr, "accrue: ") || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "usage") {
				t.Fatalf("stderr %q, want a message with %q and a usage hint", r.stderr, tc.want)
			}
			if strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "panic") {
				t.Fatalf("stack trace on stderr: %s", r.stderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	e := &tenv{t: t, vars: map[string]string{}}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		r := e.run(args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "usage: accrue") || r.stderr != "" {
			t.Fatalf("accrue %v: %+v", args, r)
		}
		for _, c := range commands {
			if !strings.Contains(r.stdout, c.line()) {
				t.Fatalf("usage does not list %q:\n%s", c.line(), r.stdout)
			}
		}
	}
	r := e.run("key", "create", "-h")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "usage: accrue key create --partner ID --role admin|app") || !strings.Contains(r.stdout, "-label") {
		t.Fatalf("key create -h: %+v", r)
	}
}

func TestTableCreate(t *testing.T) {
	t.Parallel()
	e := newTenv(t)
	c := awstest.Client(t)
	name := awstest.TableName(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		var nf *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			t.Errorf("delete table %s: %v", name, err)
		}
	})
	r := e.ok("--table", name, "table", "create")
	if !strings.Contains(r.stdout, "Created table "+name) {
		t.Fatalf("table create: %q", r.stdout)
	}
	out, err := c.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil || out.Table.TableStatus != types.TableStatusActive || len(out.Table.LocalSecondaryIndexes) != 0 || len(out.Table.GlobalSecondaryIndexes) != len(store.GlobalSecondaryIndexes()) {
		t.Fatalf("created table: %+v, %v", out, err)
	}
	// Idempotent.
	r = e.ok("table", "create", "--table", name)
	if !strings.Contains(r.stdout, "already exists") {
		t.Fatalf("second table create: %q", r.stdout)
	}
	// The new table works with the other commands.
	key := printedKey(t, e.ok("--table", name, "partner", "create", "--id", "telco", "--program", e.file("p.json", testProgram)))
	if _, err := keys.New(c, name).Authenticate(t.Context(), key); err != nil {
		t.Fatal(err)
	}
}

func TestDLQRedrive(t *testing.T) {
	t.Parallel()
	c := awstest.SQSClient(t)
	dlq := awstest.NewQueue(t, c, "dlq", nil)
	q := awstest.NewQueue(t, c, "payments", nil)
	ctx := t.Context()
	for _, body := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(dlq), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	e := &tenv{t: t, vars: map[string]string{
		"AWS_ENDPOINT_URL_SQS":  awstest.MotoEndpoint(t),
		"AWS_REGION":            awstest.Region,
		"AWS_ACCESS_KEY_ID":     "test",
		"AWS_SECRET_ACCESS_KEY": "test",
		// --to comes from the environment, as in the deployed stack's outputs.
		"ACCRUE_PAYMENTS_QUEUE_URL": q,
	}}
	r := e.ok("dlq", "redrive", "--from", dlq)
	if !strings.Contains(r.stdout, "Moved 3 messages") {
		t.Fatalf("dlq redrive: %q", r.stdout)
	}
	got := map[string]bool{}
	for range 10 {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			got[aws.ToString(m.Body)] = true
		}
		if len(got) == 3 {
			break
		}
	}
	if len(got) != 3 {
		t.Fatalf("queue has %v after redrive, want the 3 messages", got)
	}
	r = e.ok("dlq", "redrive", "--from", dlq)
	if !strings.Contains(r.stdout, "Moved 0 messages") {
		t.Fatalf("second redrive: %q", r.stdout)
	}
}
