package imports_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/importtest"
	"github.com/accrue/accrue/shared/imports"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

var at = time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC)

type env struct {
	t     *testing.T
	db    *dynamodb.Client
	table string
	st    *store.Store
	prog  *program.Program
}

func newEnv(t *testing.T, partners ...string) *env {
	t.Helper()
	db := awstest.Client(t)
	// No stream: nothing here reads it, and DynamoDB Local's stream
	// emulation serializes its transactions (BENCHMARKS.md).
	e := &env{t: t, db: db, table: awstest.NewTable(t, db, awstest.NoStream(store.CreateTableInput))}
	e.st = store.New(db, e.table, store.WithClock(func() time.Time { return at }))
	p, err := program.Parse([]byte(importtest.Program))
	if err != nil {
		t.Fatal(err)
	}
	e.prog = p
	for _, partner := range partners {
		if _, err := e.st.PutProgram(context.Background(), partner, p); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// file writes members from..to (with bad lines where bad says) to a file.
func (e *env) file(name, format string, n int, bad func(int) string) string {
	e.t.Helper()
	var b bytes.Buffer
	if err := importtest.Write(&b, format, 0, n, at, true, bad); err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(e.t.TempDir(), name)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// create makes the import of path for partner (as the CLI does), as of at.
func (e *env) create(partner, path, format string) string {
	e.t.Helper()
	f, err := os.Open(path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	id, err := imports.ContentID(partner, f)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.CreateImport(context.Background(), store.ImportJob{ID: id, PartnerID: partner, Format: format,
		Source: filepath.Base(path), Status: store.ImportRunning, Actor: "cli", At: at}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (e *env) runner() *imports.Runner {
	return &imports.Runner{Store: e.st, Workers: 8, CheckpointLines: 50, Log: quiet()}
}

// badLine makes every 97th member a bad line of its own kind.
func badLine(format string) func(int) string {
	return func(i int) string {
		if i%97 != 50 {
			return ""
		}
		if format == "csv" {
			return importtest.MemberID(i) + ",,,,nope,,,,,"
		}
		return `{"member_id":"` + importtest.MemberID(i) + `","available":[{"points":-1}]}`
	}
}

// A file imported: every good line a member exactly as ledger.Import makes
// it (and store.Audit agrees), every bad line rejected with its line number
// and reason, counts that add up; run again, it changes nothing.
func TestRunFile(t *testing.T) {
	for _, format := range []string{"csv", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			e := newEnv(t, "telco")
			const n = 300
			path := e.file("members."+format, format, n, badLine(format))
			id := e.create("telco", path, format)
			job, err := e.runner().Run(t.Context(), "telco", id, imports.FileSource{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i := range n {
				if badLine(format)(i) != "" {
					bad++
				}
			}
			want := store.ImportCounts{Imported: int64(n - bad), Rejected: int64(bad)}
			if job.Status != store.ImportCompleted || job.ImportCounts != want {
				t.Fatalf("job %+v, want completed with %+v", job, want)
			}
			page, err := e.st.ImportRejections(t.Context(), "telco", id, 100, "")
			if err != nil || len(page.Items) != bad {
				t.Fatalf("rejected lines %+v, %v", page.Items, err)
			}
			first := page.Items[0]
			wantField := "available[0].points"
			if first.Line != map[string]int64{"csv": 52, "jsonl": 51}[format] || first.MemberID != importtest.MemberID(50) || first.Field != wantField || first.Reason == "" {
				t.Fatalf("first rejected line %+v", first)
			}
			before := e.checkAll(t, "telco", id, n, badLine(format))

			// Again: nothing changes, same summary.
			again, err := e.runner().Run(t.Context(), "telco", id, imports.FileSource{Path: path})
			if err != nil || again.ImportCounts != want || again.Status != store.ImportCompleted {
				t.Fatalf("run again: %+v, %v", again, err)
			}
			after, err := importtest.Snapshot(t.Context(), e.db, e.table, "telco", n)
			if err != nil || !reflect.DeepEqual(before, after) {
				t.Fatalf("a second run changed the table (%v)", err)
			}
		})
	}
}

// checkAll checks every member of the import (importtest.Check) and, with
// store.Audit, a few of them; it returns the snapshot.
func (e *env) checkAll(t *testing.T, partner, id string, n int, bad func(int) string) map[string]importtest.Item {
	t.Helper()
	snap, err := importtest.Snapshot(t.Context(), e.db, e.table, partner, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := importtest.Check(snap, e.prog, partner, at, n, bad, nil); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if bad == nil || bad(i) == "" {
			if err := e.st.Audit(t.Context(), partner, importtest.MemberID(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return snap
}

// An import stopped half-way (its context cancelled, as by Ctrl-C) and run
// again ends identical to an uninterrupted import of the same file, with the
// same counts; so does one whose runner was taken over by another.
func TestInterruptedImportEndsIdentical(t *testing.T) {
	e := newEnv(t, "straight", "stopped", "raced")
	const n = 600
	path := e.file("members.jsonl", "jsonl", n, badLine("jsonl"))
	straightID := e.create("straight", path, "jsonl")
	want, err := e.runner().Run(t.Context(), "straight", straightID, imports.FileSource{Path: path})
	if err != nil {
		t.Fatal(err)
	}

	stoppedID := e.create("stopped", path, "jsonl")
	stops := 0
	for {
		ctx, cancel := context.WithCancel(t.Context())
		r := e.runner()
		start := int64(-1)
		r.Progress = func(j store.ImportJob) {
			if start < 0 {
				start = j.Line
			}
			if j.Line-start >= n/3 {
				cancel()
			}
		}
		job, err := r.Run(ctx, "stopped", stoppedID, imports.FileSource{Path: path})
		cancel()
		if err == nil {
			if job.ImportCounts != want.ImportCounts || job.Line != want.Line || job.Offset != want.Offset {
				t.Fatalf("resumed import %+v, uninterrupted %+v", job, want)
			}
			break
		}
		if !errors.Is(err, imports.ErrStopped) || job.Status != store.ImportRunning {
			t.Fatalf("stopped run: %+v, %v", job, err)
		}
		stops++
	}
	if stops < 2 {
		t.Fatalf("stopped %d times, want at least 2", stops)
	}

	// Two runners at once: the second claims the import; the first stops
	// at its next checkpoint; the second finishes it.
	racedID := e.create("raced", path, "jsonl")
	var wg sync.WaitGroup
	results := make([]error, 2)
	jobsOut := make([]store.ImportJob, 2)
	for i := range 2 {
		wg.Go(func() {
			if i == 1 {
				time.Sleep(100 * time.Millisecond)
			}
			jobsOut[i], results[i] = e.runner().Run(t.Context(), "raced", racedID, imports.FileSource{Path: path})
		})
	}
	wg.Wait()
	final, err := e.st.Import(t.Context(), "raced", racedID)
	if err != nil || final.Status != store.ImportCompleted || final.ImportCounts != want.ImportCounts {
		t.Fatalf("raced import %+v, %v (runs: %v)", final, err, results)
	}
	for i, err := range results {
		if err != nil && !errors.Is(err, store.ErrImportTakenOver) {
			t.Fatalf("run %d: %v", i, err)
		}
	}

	base, err := importtest.Snapshot(t.Context(), e.db, e.table, "straight", n)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"stopped", "raced"} {
		got, err := importtest.Snapshot(t.Context(), e.db, e.table, p, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := importtest.Diff(base, got); err != nil {
			t.Fatalf("%s, against the uninterrupted import: %v", p, err)
		}
		wantRej, _ := e.st.ImportRejections(t.Context(), "straight", straightID, 1000, "")
		gotRej, _ := e.st.ImportRejections(t.Context(), p, map[string]string{"stopped": stoppedID, "raced": racedID}[p], 1000, "")
		if !reflect.DeepEqual(gotRej.Items, wantRej.Items) {
			t.Fatalf("%s: rejected lines differ", p)
		}
	}
}

// Members present before the import — enrolled, or paid — are skipped and
// left alone; an erased id is rejected; a member imported twice in one file
// is imported once and skipped once.
func TestRunSkipsPresent(t *testing.T) {
	e := newEnv(t, "telco")
	ctx := t.Context()
	if _, err := e.st.Enroll(ctx, "telco", importtest.MemberID(3), []string{"enrolled"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Enroll(ctx, "telco", importtest.MemberID(4), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Erase(ctx, "telco", importtest.MemberID(4), "key"); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := importtest.Write(&b, "jsonl", 0, 10, at, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := importtest.Write(&b, "jsonl", 2, 3, at, false, nil); err != nil { // member 2 again, line 11
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	id := e.create("telco", path, "jsonl")
	job, err := e.runner().Run(ctx, "telco", id, imports.FileSource{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.ImportCounts{Imported: 8, Skipped: 2, Rejected: 1}); job.ImportCounts != want {
		t.Fatalf("counts %+v, want %+v", job.ImportCounts, want)
	}
	m, err := e.st.Member(ctx, "telco", importtest.MemberID(3))
	if err != nil || m.Seq != 0 || m.Rules.Tags[0] != "enrolled" || m.ImportRef != "" {
		t.Fatalf("the enrolled member was merged into: %+v, %v", m, err)
	}
	rej, err := e.st.ImportRejections(ctx, "telco", id, 10, "")
	if err != nil || len(rej.Items) != 1 || rej.Items[0].Line != 5 || rej.Items[0].Field != "member_id" || !strings.Contains(rej.Items[0].Reason, "erased") {
		t.Fatalf("rejected %+v, %v", rej.Items, err)
	}
}

// A CSV file whose header is not one fails the import, saying why.
func TestRunBadHeader(t *testing.T) {
	e := newEnv(t, "telco")
	path := filepath.Join(t.TempDir(), "m.csv")
	if err := os.WriteFile(path, []byte("member,points\nm1,5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	id := e.create("telco", path, "csv")
	job, err := e.runner().Run(t.Context(), "telco", id, imports.FileSource{Path: path})
	if err != nil || job.Status != store.ImportFailed || !strings.Contains(job.Error, "line 1") || !strings.Contains(job.Error, `"member"`) {
		t.Fatalf("%+v, %v", job, err)
	}
}
