package imports_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/ddbsim"
	"github.com/accrue/accrue/internal/importtest"
	"github.com/accrue/accrue/shared/imports"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// BenchmarkImport: a whole import through the runner, as the CLI and the
// imports function run it (read the file, parse, decide with ledger.Import,
// one transaction per member from DefaultWorkers goroutines, checkpoints),
// of importtest's varied members, against DynamoDB Local (no stream: see
// BENCHMARKS.md): members imported per second; then, through
// internal/ddbsim.Meter on another import of the same members, the write
// units AWS would bill per member (table and indexes, the checkpoints and
// rejected lines included) and the read units. It runs once, whatever b.N
// asks (its figures are per member). shared/store's BenchmarkImportWrites
// compares the transactions with BatchWriteItem.
func BenchmarkImport(b *testing.B) {
	const members = 3000
	var file bytes.Buffer
	if err := importtest.Write(&file, "csv", 0, members, at, true, nil); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "members.csv")
	if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	p, err := program.Parse([]byte(importtest.Program))
	if err != nil {
		b.Fatal(err)
	}
	c := awstest.Client(b)
	run := func(st *store.Store, partner string) time.Duration {
		if _, err := st.PutProgram(context.Background(), partner, p); err != nil {
			b.Fatal(err)
		}
		f, _ := os.Open(path)
		id, err := imports.ContentID(partner, f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.CreateImport(context.Background(), store.ImportJob{ID: id, PartnerID: partner, Format: "csv", Status: store.ImportRunning, At: at}); err != nil {
			b.Fatal(err)
		}
		r := &imports.Runner{Store: st, Log: quiet()}
		start := time.Now()
		job, err := r.Run(context.Background(), partner, id, imports.FileSource{Path: path})
		if err != nil || job.Imported != members {
			b.Fatalf("import: %+v, %v", job, err)
		}
		return time.Since(start)
	}
	table := awstest.NewTable(b, c, awstest.NoStream(store.CreateTableInput))
	b.ResetTimer()
	took := run(store.New(c, table, store.WithClock(func() time.Time { return at })), "fast")
	b.StopTimer()
	meter, err := ddbsim.NewMeter(c, store.CreateTableInput(table))
	if err != nil {
		b.Fatal(err)
	}
	run(store.New(dynamodb.New(c.Options(), meter.Option), table, store.WithClock(func() time.Time { return at })), "metered")
	if err := meter.Err(); err != nil {
		b.Fatal(err)
	}
	r := meter.Report()
	b.ReportMetric(float64(members)/took.Seconds(), "members/s")
	b.ReportMetric(float64(r.TotalWRU+r.RejectedWRU)/members, "WRU/member")
	b.ReportMetric(float64(r.HalfRRU)/2/members, "RRU/member")
}
