// Package imports runs bulk imports of members (issue #12): it reads an import
// file (package importer: CSV or JSON Lines) from a local file (the CLI,
// `accrue import`) or from the S3 object a partner uploaded (POST /v1/imports,
// then the imports function), imports each member with its opening balances
// (store.ImportMember: one transaction per member, conditional on its
// absence), records the lines it rejects, and checkpoints its progress in the
// import's job item, so that an interrupted import — Ctrl-C, kill -9, a
// Lambda timeout — continues where it stopped when it runs again, and ends
// exactly as an uninterrupted one.
package imports

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/accrue/accrue/shared/importer"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// Store is what a run needs of the store (*store.Store).
type Store interface {
	Program(ctx context.Context, partner string) (*program.Program, error)
	ClaimImport(ctx context.Context, partner, id, runner string) (store.ImportJob, error)
	CheckpointImport(ctx context.Context, j store.ImportJob, status string) (store.ImportJob, error)
	RejectImportLine(ctx context.Context, partner, id string, r store.ImportRejection) error
	ImportMember(ctx context.Context, partner string, p *program.Program, o ledger.Opening, ref string, at time.Time) (store.ImportOutcome, error)
}

// Source is an import file.
type Source interface {
	// Open returns the file from byte offset on.
	Open(ctx context.Context, offset int64) (io.ReadCloser, error)
	// Version identifies the file's content ("" when the source cannot
	// tell): an import stops if it changes between runs.
	Version(ctx context.Context) (string, error)
}

// ErrStopped: the run stopped before the end of the file (its context was
// cancelled or reached its deadline); the import continues from its
// checkpoint when it runs again.
var ErrStopped = errors.New("the import stopped before the end of its file; run it again to continue")

// Runner runs imports.
type Runner struct {
	Store Store
	// Workers: members imported at once (default DefaultWorkers).
	Workers int
	// CheckpointLines and CheckpointEvery: the progress is recorded after
	// this many lines or this long, whichever comes first (defaults 2000
	// lines, 2 s): per chunk, never per member.
	CheckpointLines int
	CheckpointEvery time.Duration
	// Progress, when set, is called with the import as each line is done
	// (from one goroutine; keep it cheap).
	Progress func(store.ImportJob)
	Log      *slog.Logger
}

// DefaultWorkers is how many members a run imports at once: each is one
// transaction on its own partition, so they share no key.
const DefaultWorkers = 16

// Run runs import id of partner on src until the end of the file, or until
// ctx is done (then it finishes the members in flight, records its progress
// and returns ErrStopped). It returns the import as it left it: completed, or
// failed (a file that cannot be read: Error says why), or still running.
// An import already finished is returned as it is.
func (r *Runner) Run(ctx context.Context, partner, id string, src Source) (store.ImportJob, error) {
	log := r.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("partner_id", partner, "import_id", id)
	job, err := r.Store.ClaimImport(ctx, partner, id, newToken())
	if errors.Is(err, store.ErrImportFinished) {
		return job, nil
	}
	if err != nil {
		return job, err
	}
	// Writes outlive ctx: the members in flight and the last checkpoint are
	// finished after an interruption (each is a bounded DynamoDB call).
	wctx := context.WithoutCancel(ctx)
	version, err := src.Version(ctx)
	if err != nil {
		return job, err
	}
	switch {
	case job.ETag == "":
		job.ETag = version
	case version != job.ETag:
		job.Error = fmt.Sprintf("the file changed while it was imported (version %s, then %s): upload it to a new import", job.ETag, version)
		return r.Store.CheckpointImport(wctx, job, store.ImportFailed)
	}
	prog, err := r.Store.Program(ctx, partner)
	if err != nil {
		return job, err
	}
	f, err := src.Open(ctx, job.Offset)
	if err != nil {
		return job, err
	}
	defer f.Close()
	format, err := importer.ParseFormat(job.Format)
	if err != nil {
		return job, err
	}
	var rd *importer.Reader
	if job.Line == 0 {
		rd, err = importer.NewReader(f, format)
	} else {
		rd, err = importer.Resume(f, format, job.Header, job.Line, job.Offset)
	}
	if errors.Is(err, importer.ErrHeader) {
		job.Error = "line 1: " + err.Error()
		return r.Store.CheckpointImport(wctx, job, store.ImportFailed)
	}
	if err != nil {
		return job, err
	}
	if job.Line == 0 {
		job.Header, job.Line, job.Offset = rd.Header(), rd.Line(), rd.Offset()
	}
	log.InfoContext(ctx, "import running", "from_line", job.Line+1, "workers", r.workers())
	run := &run{Runner: r, job: job, ref: jobRef{job.PartnerID, job.ID, job.At}, prog: prog, rd: rd, log: log}
	return run.do(ctx, wctx)
}

func (r *Runner) workers() int {
	if r.Workers > 0 {
		return r.Workers
	}
	return DefaultWorkers
}

// run is one Run in progress.
type run struct {
	*Runner
	// job is the main loop's (checkpoints replace it); the workers read
	// only ref, which never changes during a run.
	job  store.ImportJob
	ref  jobRef
	prog *program.Program
	rd   *importer.Reader
	log  *slog.Logger
}

// jobRef is what the workers need of the job: its partner, id and time.
type jobRef struct {
	partner, id string
	at          time.Time
}

// task is one line to do; result what doing it gave.
type task struct {
	seq        int64
	line, next int64 // the line, and the offset of the line after it
	rec        importer.Record
	bad        *importer.LineError
}

type result struct {
	task
	counts store.ImportCounts
	err    error
}

// do reads lines in order and hands them to the workers; the results come
// back in any order, and the checkpoint advances over the lines done without
// a gap before them.
func (r *run) do(ctx, wctx context.Context) (store.ImportJob, error) {
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	tasks := make(chan task, 2*r.workers())
	results := make(chan result, 2*r.workers())
	var readErr error
	var eof bool
	var end struct{ line, offset int64 }
	go func() {
		defer close(tasks)
		for seq := int64(0); ; seq++ {
			rec, err := r.rd.Next()
			t := task{seq: seq, line: r.rd.Line(), next: r.rd.Offset()}
			var le *importer.LineError
			switch {
			case errors.Is(err, io.EOF):
				eof, end.line, end.offset = true, r.rd.Line(), r.rd.Offset()
				return
			case errors.As(err, &le):
				t.bad = le
			case err != nil:
				readErr = err
				return
			default:
				t.rec = rec
			}
			select {
			case tasks <- t:
			case <-readCtx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range r.workers() {
		wg.Go(func() {
			for t := range tasks {
				results <- r.one(wctx, t)
			}
		})
	}
	go func() { wg.Wait(); close(results) }()

	var failure error
	waiting := map[int64]result{}
	next, sinceCheckpoint, lastCheckpoint := int64(0), 0, time.Now()
	for res := range results {
		waiting[res.seq] = res
		for {
			d, ok := waiting[next]
			if !ok || failure != nil {
				break
			}
			delete(waiting, next)
			if d.err != nil {
				failure = fmt.Errorf("line %d: %w", d.line, d.err)
				stopReading()
				break
			}
			next++
			r.job.Line, r.job.Offset = d.line, d.next
			r.job.ImportCounts.Add(d.counts)
			sinceCheckpoint++
			if r.Progress != nil {
				r.Progress(r.job)
			}
		}
		if failure == nil && (sinceCheckpoint >= r.checkpointLines() || time.Since(lastCheckpoint) >= r.checkpointEvery()) {
			if err := r.checkpoint(wctx, store.ImportRunning); err != nil {
				failure = err
				stopReading()
			}
			sinceCheckpoint, lastCheckpoint = 0, time.Now()
		}
	}
	// Every worker is done: the reader stopped (end, error or ctx).
	switch {
	case failure == nil && readErr != nil:
		failure = readErr
	case failure == nil && eof:
		r.job.Line, r.job.Offset = end.line, end.offset
		if err := r.checkpoint(wctx, store.ImportCompleted); err != nil {
			return r.job, err
		}
		r.log.InfoContext(ctx, "import completed", "lines", r.job.Line, "imported", r.job.Imported, "skipped", r.job.Skipped, "rejected", r.job.Rejected)
		if r.Progress != nil {
			r.Progress(r.job)
		}
		return r.job, nil
	case failure == nil:
		failure = fmt.Errorf("%w (%w)", ErrStopped, context.Cause(ctx))
	}
	if errors.Is(failure, store.ErrImportTakenOver) {
		return r.job, failure
	}
	if err := r.checkpoint(wctx, store.ImportRunning); err != nil {
		return r.job, errors.Join(failure, err)
	}
	r.log.InfoContext(ctx, "import stopped", "lines_done", r.job.Line, "error", failure)
	return r.job, failure
}

func (r *run) checkpoint(ctx context.Context, status string) error {
	j, err := r.Store.CheckpointImport(ctx, r.job, status)
	if err != nil {
		return err
	}
	r.job = j
	return nil
}

func (r *Runner) checkpointLines() int {
	if r.CheckpointLines > 0 {
		return r.CheckpointLines
	}
	return 2000
}

func (r *Runner) checkpointEvery() time.Duration {
	if r.CheckpointEvery > 0 {
		return r.CheckpointEvery
	}
	return 2 * time.Second
}

// one does one line: a bad line is recorded as rejected; a member is
// imported, found present, or rejected with the ledger's reason.
func (r *run) one(ctx context.Context, t task) result {
	res := result{task: t}
	rej := store.ImportRejection{Line: t.line}
	switch {
	case t.bad != nil:
		rej.MemberID, rej.Field, rej.Reason = t.bad.MemberID, t.bad.Field, t.bad.Reason
	default:
		o := t.rec.Opening
		rej.MemberID = o.MemberID
		out, err := r.Store.ImportMember(ctx, r.ref.partner, r.prog, o, r.ref.id+"/"+strconv.FormatInt(t.line, 10), r.ref.at)
		var ie *ledger.ImportError
		switch {
		case errors.As(err, &ie):
			rej.Field, rej.Reason = ie.Field, ie.Reason
		case errors.Is(err, store.ErrMemberErased):
			rej.Field, rej.Reason = "member_id", "the member id was erased (GDPR): an erased id is never used again"
		case err != nil:
			res.err = err
			return res
		case out == store.MemberPresent:
			res.counts.Skipped = 1
			return res
		default:
			res.counts.Imported = 1
			return res
		}
	}
	if err := r.Store.RejectImportLine(ctx, r.ref.partner, r.ref.id, rej); err != nil {
		res.err = err
		return res
	}
	res.counts.Rejected = 1
	return res
}

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// idRE is an import id: "imp_" and 32 hex digits.
var idRE = regexp.MustCompile(`^imp_[0-9a-f]{32}$`)

// ValidID reports whether s is an import id.
func ValidID(s string) bool { return idRE.MatchString(s) }

// NewID is a new random import id (POST /v1/imports).
func NewID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "imp_" + hex.EncodeToString(b)
}

// ContentID is the import id of a file's content (the CLI's: the same file
// is the same import, so running the command again continues it).
func ContentID(partner string, r io.Reader) (string, error) {
	h := sha256.New()
	h.Write([]byte(partner + "\n"))
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("read the file: %w", err)
	}
	return "imp_" + hex.EncodeToString(h.Sum(nil)[:16]), nil
}
