package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/importtest"
	"github.com/accrue/accrue/shared/imports"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// importMembersEnv sets how many members TestImportCLI imports: 10,000 by
// default (make test on a 2-core machine), 100,000 for the full
// figure (ACCRUE_IMPORT_MEMBERS=100000 make test PKGS=./cmd/accrue
// GOTESTFLAGS='-run TestImportCLI -v -timeout 60m').
const importMembersEnv = "ACCRUE_IMPORT_MEMBERS"

func importMembers(t *testing.T) int {
	n := 10_000
	if v := os.Getenv(importMembersEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 100 {
			t.Fatalf("%s=%q: a number of members, at least 100", importMembersEnv, v)
		}
	}
	return n
}

// importTenv is the CLI's environment on a table without a stream: the
// import does not read the stream, and DynamoDB Local's stream emulation
// serializes its transactions (a third of the throughput; BENCHMARKS.md).
func importTenv(t *testing.T, partners ...string) (*tenv, *store.Store, *program.Program) {
	t.Helper()
	c := awstest.Client(t)
	e := &tenv{t: t, table: awstest.NewTable(t, c, awstest.NoStream(store.CreateTableInput)), dir: t.TempDir()}
	e.vars = map[string]string{
		"ACCRUE_TABLE": e.table, "AWS_ENDPOINT_URL_DYNAMODB": awstest.Endpoint(t), "AWS_REGION": awstest.Region,
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
	}
	st := store.New(c, e.table)
	p, err := program.Parse([]byte(importtest.Program))
	if err != nil {
		t.Fatal(err)
	}
	for _, partner := range partners {
		if _, err := st.PutProgram(t.Context(), partner, p); err != nil {
			t.Fatal(err)
		}
	}
	return e, st, p
}

// runCtx runs the CLI under ctx.
func (e *tenv) runCtx(ctx context.Context, args ...string) result {
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut, e.env)
	return result{code, out.String(), errOut.String()}
}

// summaryRE reads the counts of the CLI's summary.
var summaryRE = regexp.MustCompile(`(?s)import (imp_[0-9a-f]+): (\w+) after (\d+) lines\n  imported: +(\d+)\n  skipped \(already present\): +(\d+)\n  rejected: +(\d+)\n`)

func summary(t *testing.T, r result) []string {
	t.Helper()
	m := summaryRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no summary in stdout:\n%.2000s\nstderr:\n%.2000s", r.stdout, r.stderr)
	}
	return m[1:]
}

// badEvery makes every 997th member a bad line (an expired lot, which only
// the ledger can tell: the parser reads it).
func badEvery(at time.Time) func(int) string {
	return func(i int) string {
		if i%997 != 500 {
			return ""
		}
		return fmt.Sprintf("%s,,,,5@%s,,,,,", importtest.MemberID(i), at.AddDate(0, 0, -1).Format(time.RFC3339))
	}
}

// The import through the CLI against DynamoDB Local: every member
// present with exact balances and entries (every 500th compared field by
// field with ledger.Import's decision, all of them by the invariants, sums
// and counts), each bad line reported; a re-run changes nothing; an import
// cancelled half-way (Ctrl-C) and one killed half-way (kill -9 of the
// process) end, once run again, identical to the uninterrupted one.
func TestImportCLI(t *testing.T) {
	n := importMembers(t)
	e, st, p := importTenv(t, "straight", "stopped", "killed")
	ctx := t.Context()
	at := time.Now().UTC().Truncate(time.Second)
	bad := badEvery(at)
	var file bytes.Buffer
	if err := importtest.Write(&file, "csv", 0, n, at, true, bad); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.dir, "members.csv")
	if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// The three imports as of the same time, as the CLI would create them
	// (it continues an import that exists: its id is the file's hash).
	ids := map[string]string{}
	for _, partner := range []string{"straight", "stopped", "killed"} {
		f, _ := os.Open(path)
		id, err := imports.ContentID(partner, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		ids[partner] = id
		if _, err := st.CreateImport(ctx, store.ImportJob{ID: id, PartnerID: partner, Format: "csv", Source: "members.csv",
			Status: store.ImportRunning, Actor: "cli", At: at}); err != nil {
			t.Fatal(err)
		}
	}
	badLines := 0
	for i := range n {
		if bad(i) != "" {
			badLines++
		}
	}
	args := func(partner string) []string {
		return []string{"import", "--partner", partner, "--workers", "32", path}
	}

	// Uninterrupted.
	start := time.Now()
	r := e.ok(args("straight")...)
	took := time.Since(start)
	t.Logf("%d members imported through the CLI in %s (%.0f members/s)", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	want := []string{ids["straight"], "completed", strconv.Itoa(n + 1), strconv.Itoa(n - badLines), "0", strconv.Itoa(badLines)}
	if got := summary(t, r); !reflect.DeepEqual(got, want) {
		t.Fatalf("summary %v, want %v", got, want)
	}
	if !strings.Contains(r.stderr, "importing") {
		t.Errorf("no progress bar on stderr: %.500s", r.stderr)
	}
	for i := range n {
		if bad(i) != "" {
			line := fmt.Sprintf("line %d (member %s): available[0].expires_at: ", i+2, importtest.MemberID(i))
			if !strings.Contains(r.stdout, line) {
				t.Fatalf("bad line of member %d not reported as %q:\n%.3000s", i, line, r.stdout)
			}
		}
	}
	base, err := importtest.Snapshot(ctx, awstest.Client(t), e.table, "straight", n)
	if err != nil {
		t.Fatal(err)
	}
	sum, entries, err := importtest.Check(base, p, "straight", at, n, bad, func(i int) bool { return i%500 == 0 })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("imported balances %+v in %d entries", sum, entries)
	for i := 0; i < n; i += n / 10 {
		if bad(i) == "" {
			if err := st.Audit(ctx, "straight", importtest.MemberID(i)); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Run again: nothing changes, the same summary.
	again := e.ok(args("straight")...)
	if got := summary(t, again); !reflect.DeepEqual(got, want) {
		t.Fatalf("re-run summary %v, want %v", got, want)
	}
	if after, err := importtest.Snapshot(ctx, awstest.Client(t), e.table, "straight", n); err != nil || !reflect.DeepEqual(after, base) {
		t.Fatalf("the re-run changed the table (%v)", err)
	}

	// Ctrl-C half-way: the command stops, says how to continue; run again,
	// it continues.
	stopCtx, cancel := context.WithCancel(ctx)
	go cancelAtHalf(stopCtx, cancel, st, "stopped", ids["stopped"], int64(n/2))
	r = e.runCtx(stopCtx, args("stopped")...)
	cancel()
	if r.code != 1 || !strings.Contains(r.stderr, "run the same command again to continue") {
		t.Fatalf("interrupted run: exit %d\nstderr ...%s", r.code, r.stderr[max(0, len(r.stderr)-1000):])
	}
	if got := summary(t, r); got[1] != "running" {
		t.Fatalf("interrupted summary %v", got)
	}
	r = e.ok(args("stopped")...)
	if !strings.Contains(r.stderr, "Continuing import") {
		t.Errorf("the second run did not continue: %.500s", r.stderr)
	}
	want[0] = ids["stopped"]
	if got := summary(t, r); !reflect.DeepEqual(got, want) {
		t.Fatalf("resumed summary %v, want %v", got, want)
	}
	sameAs(t, e, base, "stopped", n)

	// kill -9 half-way: the process of the CLI dies without a word; run
	// again, it continues.
	bin := filepath.Join(e.dir, "accrue")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build the CLI: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, args("killed")...)
	for k, v := range e.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killCtx, stopWatching := context.WithCancel(ctx)
	go cancelAtHalf(killCtx, func() { _ = cmd.Process.Signal(syscall.SIGKILL) }, st, "killed", ids["killed"], int64(n/2))
	err = cmd.Wait()
	stopWatching()
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the CLI was not killed: %v", err)
	}
	if j, err := st.Import(ctx, "killed", ids["killed"]); err != nil || j.Status != store.ImportRunning || j.Line >= int64(n) {
		t.Fatalf("after kill -9: %+v, %v", j, err)
	}
	r = e.ok(args("killed")...)
	want[0] = ids["killed"]
	if got := summary(t, r); !reflect.DeepEqual(got, want) {
		t.Fatalf("summary after kill -9 and a re-run %v, want %v", got, want)
	}
	sameAs(t, e, base, "killed", n)
}

// cancelAtHalf calls stop once the import's checkpoint passes line half.
func cancelAtHalf(ctx context.Context, stop func(), st *store.Store, partner, id string, half int64) {
	for ctx.Err() == nil {
		if j, err := st.Import(ctx, partner, id); err == nil && j.Line >= half {
			stop()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sameAs checks that the members and entries of partner's n members are
// exactly base's.
func sameAs(t *testing.T, e *tenv, base map[string]importtest.Item, partner string, n int) {
	t.Helper()
	got, err := importtest.Snapshot(t.Context(), awstest.Client(t), e.table, partner, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := importtest.Diff(base, got); err != nil {
		t.Fatalf("%s, against the uninterrupted import: %v", partner, err)
	}
}

// The sample file of events/ imported for the demo partner; every kind of
// bad line reported with its line number, field and reason; usage errors.
func TestImportCLIFiles(t *testing.T) {
	t.Parallel()
	e, st, _ := importTenv(t)
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "program-telco.json"))
	if err != nil {
		t.Fatal(err)
	}
	e.ok("partner", "create", "--id", "telco", "--program", e.file("p.json", string(raw)), "--no-key")
	for _, sample := range []string{"import-members.csv", "import-members.jsonl"} {
		partner := strings.ReplaceAll(strings.TrimPrefix(sample, "import-members."), "jsonl", "json")
		e.ok("partner", "create", "--id", "p-"+partner, "--program", e.file("p.json", string(raw)), "--no-key")
		r := e.ok("import", "--partner", "p-"+partner, filepath.Join("..", "..", "events", sample))
		if got := summary(t, r); got[1] != "completed" || got[3] != "3" || got[5] != "0" {
			t.Fatalf("%s: %v\n%s", sample, got, r.stdout)
		}
		m, err := st.Member(t.Context(), "p-"+partner, "cust-1001")
		if err != nil || m.Available != 1550 || m.Pending != 80 || m.Lifetime != 15400 || m.Rules.Tier != "silver" {
			t.Fatalf("%s: cust-1001 %+v, %v", sample, m, err)
		}
		if err := st.Audit(t.Context(), "p-"+partner, "cust-1003"); err != nil {
			t.Fatal(err)
		}
	}

	file := e.file("bad.jsonl", strings.Join([]string{
		`{"member_id":"ok-1","available":[{"points":10}]}`,
		`{"member_id":"ok-2","tier":"platinum"}`,
		`not json`,
		``,
		`{"member_id":"ok-3","available":[{"points":5,"expires_at":"2001-01-01T00:00:00Z"}]}`,
		`{"member_id":"ok-4","lifetime":3,"available":[{"points":5}]}`,
		`{"member_id":"ok-5","pending":[{"points":5}]}`,
		`{"member_id":"ok-1"}`,
		`{"member_id":"ok-6","colour":"red"}`,
		`{"member_id":"ok-7","payments":[{"payment_id":"p","paid_at":"2030-01-01T00:00:00Z","amount_minor":1,"currency":"RUB","category":"telecom"}]}`,
	}, "\n")+"\n")
	r := e.ok("import", "--partner", "telco", "--quiet", file)
	if got := summary(t, r); got[1] != "completed" || got[2] != "10" || got[3] != "1" || got[4] != "1" || got[5] != "7" {
		t.Fatalf("summary %v\n%s", got, r.stdout)
	}
	for _, want := range []string{
		"line 2 (member ok-2): tier: \"platinum\" is not a tier of the program",
		"line 3: not valid JSON",
		"line 5 (member ok-3): available[0].expires_at: 2001-01-01T00:00:00Z is not after the import",
		"line 6 (member ok-4): lifetime: 3 is below the 5 points of the lots",
		"line 7 (member ok-5): pending[0].available_at: required",
		"line 9 (member ok-6): colour: unknown field",
		"line 10 (member ok-7): payments[0].paid_at: 2030-01-01T00:00:00Z is after the import",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("not reported: %q\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stderr, "importing") {
		t.Errorf("--quiet showed a progress bar: %s", r.stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import", file}, "--partner is required"},
		{[]string{"import", "--partner", "telco"}, "FILE is required"},
		{[]string{"import", "--partner", "telco", e.file("m.txt", "x")}, "--format csv or --format jsonl"},
		{[]string{"import", "--partner", "telco", "--format", "xml", file}, "--format"},
		{[]string{"import", "--partner", "Telco!", file}, "--partner"},
		{[]string{"import", "--partner", "telco", "--workers", "0", file}, "--workers"},
	} {
		r := e.run(tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, r.code, r.stderr)
		}
	}
	if r := e.run("import", "--partner", "nobody", file); r.code != 1 || !strings.Contains(r.stderr, "unknown partner") {
		t.Errorf("unknown partner: exit %d, %s", r.code, r.stderr)
	}
	hdr := e.file("bad.csv", "member,points\nm,1\n")
	if r := e.run("import", "--partner", "telco", hdr); r.code != 1 || !strings.Contains(r.stderr, "failed: line 1") {
		t.Errorf("bad header: exit %d, %s", r.code, r.stderr)
	}
}
