package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/accrue/accrue/shared/importer"
	"github.com/accrue/accrue/shared/imports"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/store"
)

// importCmd: accrue import --partner P [--format csv|jsonl] [--workers N] FILE.
//
// The import's id is the hash of the partner and the file's content, so the
// same command run again — after Ctrl-C, kill -9, a lost connection — finds
// the import it started and continues it from its last checkpoint; run again
// once completed, it changes nothing and prints the same summary.
func importCmd(ctx context.Context, c *cli, args []string) error {
	const name = "import"
	fs := c.flags(name)
	partner := fs.String("partner", "", "the partner whose members these are (required)")
	formatName := fs.String("format", "", "csv or jsonl (default: from the file name: .csv, .jsonl, .ndjson)")
	workers := fs.Int("workers", imports.DefaultWorkers, "members imported at once (default 16; 1 against a local DynamoDB endpoint)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	pos, err := c.parseArgs(name, fs, args, 1)
	if err != nil {
		return err
	}
	switch {
	case *partner == "":
		return usagef(name, "--partner is required")
	case !payment.ValidPartnerID(*partner):
		return usagef(name, "--partner %q: lower-case letters, digits and dashes, 2 to 63 characters", *partner)
	case len(pos) == 0:
		return usagef(name, "the import FILE is required")
	case *workers < 1 || *workers > 256:
		return usagef(name, "--workers %d: 1 to 256", *workers)
	}
	workersSet := false
	fs.Visit(func(f *flag.Flag) { workersSet = workersSet || f.Name == "workers" })
	if !workersSet && isLocal(dynamoEndpoint(c.env)) {
		// DynamoDB Local serializes transactions on a table with a stream
		// (make dev's): more workers only wait on its lock, and time out.
		*workers = 1
	}
	file := pos[0]
	format, ok := importer.FormatOf(file)
	if *formatName != "" {
		if format, err = importer.ParseFormat(*formatName); err != nil {
			return usagef(name, "--format: %v", err)
		}
	} else if !ok {
		return usagef(name, "cannot tell the format of %s from its name: give --format csv or --format jsonl", file)
	}
	if err := c.requireTable(name); err != nil {
		return err
	}

	fh, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("open the import file: %w", err)
	}
	info, err := fh.Stat()
	if err != nil {
		fh.Close()
		return fmt.Errorf("read the import file: %w", err)
	}
	id, err := imports.ContentID(*partner, fh)
	fh.Close()
	if err != nil {
		return err
	}

	db, err := c.newDynamoDB(ctx)
	if err != nil {
		return err
	}
	st := store.New(db, c.table)
	if _, err := st.Program(ctx, *partner); err != nil {
		return fmt.Errorf("partner %s: %w", *partner, err)
	}
	job, err := st.CreateImport(ctx, store.ImportJob{ID: id, PartnerID: *partner, Format: string(format),
		Source: filepath.Base(file), Status: store.ImportRunning, Actor: "cli"})
	switch {
	case errors.Is(err, store.ErrImportExists):
		if job, err = st.Import(ctx, *partner, id); err != nil {
			return err
		}
		if job.Status == store.ImportRunning {
			fmt.Fprintf(c.stderr, "Continuing import %s of %s after line %d.\n", id, file, job.Line)
		}
	case err != nil:
		return err
	default:
		fmt.Fprintf(c.stderr, "Importing %s into partner %s as import %s (members as of %s).\n", file, *partner, id, job.At.Format(time.RFC3339))
	}

	var bar *progressbar.ProgressBar
	if !*quiet && job.Status != store.ImportCompleted && job.Status != store.ImportFailed {
		bar = progressbar.NewOptions64(info.Size(),
			progressbar.OptionSetWriter(c.stderr), progressbar.OptionSetDescription("importing"),
			progressbar.OptionShowBytes(true), progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetPredictTime(true), progressbar.OptionFullWidth(), progressbar.OptionShowCount())
		_ = bar.Set64(job.Offset)
	}
	runner := &imports.Runner{Store: st, Workers: *workers, Log: discardLogger()}
	if bar != nil {
		runner.Progress = func(j store.ImportJob) { _ = bar.Set64(j.Offset) }
	}
	job, err = runner.Run(ctx, *partner, id, imports.FileSource{Path: file})
	if bar != nil {
		_ = bar.Exit()
		fmt.Fprintln(c.stderr)
	}
	// The summary also after an interruption (ctx is done then).
	if err := printSummary(context.WithoutCancel(ctx), c, st, job); err != nil {
		return err
	}
	switch {
	case errors.Is(err, imports.ErrStopped):
		return fmt.Errorf("stopped after line %d (%d of %d bytes): run the same command again to continue", job.Line, job.Offset, info.Size())
	case err != nil:
		return fmt.Errorf("import %s stopped after line %d: %w (run the same command again to continue)", id, job.Line, err)
	case job.Status == store.ImportFailed:
		return fmt.Errorf("import %s failed: %s", id, job.Error)
	}
	return nil
}

// discardLogger: the runner's log lines are for the Lambda's logs; the CLI
// shows its progress bar and summary instead.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// printSummary prints the import's counts and every rejected line.
func printSummary(ctx context.Context, c *cli, st *store.Store, job store.ImportJob) error {
	fmt.Fprintf(c.stdout, "import %s: %s after %d lines\n", job.ID, job.Status, job.Line)
	fmt.Fprintf(c.stdout, "  imported:                  %d\n", job.Imported)
	fmt.Fprintf(c.stdout, "  skipped (already present): %d\n", job.Skipped)
	fmt.Fprintf(c.stdout, "  rejected:                  %d\n", job.Rejected)
	if job.Error != "" {
		fmt.Fprintf(c.stdout, "  error: %s\n", job.Error)
	}
	cursor := ""
	for {
		page, err := st.ImportRejections(ctx, job.PartnerID, job.ID, 1000, cursor)
		if err != nil {
			return err
		}
		for _, r := range page.Items {
			where := ""
			if r.MemberID != "" {
				where = " (member " + r.MemberID + ")"
			}
			if r.Field != "" {
				fmt.Fprintf(c.stdout, "line %d%s: %s: %s\n", r.Line, where, r.Field, r.Reason)
			} else {
				fmt.Fprintf(c.stdout, "line %d%s: %s\n", r.Line, where, r.Reason)
			}
		}
		if cursor = page.Next; cursor == "" {
			return nil
		}
	}
}
