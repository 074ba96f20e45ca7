package rollup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// Store is the part of the store the job uses (*store.Store).
type Store interface {
	Partners(ctx context.Context) ([]store.PartnerRecord, error)
	Program(ctx context.Context, partner string) (*program.Program, error)
	RollupState(ctx context.Context, partner string) (store.RollupState, bool, error)
	SealDay(ctx context.Context, partner, day string) error
	DayPartials(ctx context.Context, partner, day string) ([]store.Partial, error)
	TakePartial(ctx context.Context, partner string, p store.Partial) (store.Partial, error)
	LatePartials(ctx context.Context, partner string, limit int) ([]store.Late, error)
	CloseDay(ctx context.Context, partner string, prevVersion int64, day store.DayStats, next store.RollupState, folds []store.Fold) error
	PutDayStats(ctx context.Context, partner string, stateVersion int64, day store.DayStats) error
}

// Defaults of the job's settings.
const (
	// DefaultGrace: a day closes this long after it ends (late commits, the
	// stats consumer's lag; see the package doc).
	DefaultGrace = 15 * time.Minute
	// DefaultMargin: a run stops this long before its context's deadline
	// (the Lambda's), so that it ends, and logs, before being cut off.
	DefaultMargin = 15 * time.Second
	// DefaultParallel partners are rolled up at once.
	DefaultParallel = 4
	// maxMoves: how many times a partner's state may move under a run (a
	// concurrent run closing the same days) before the run leaves the partner
	// to the other one.
	maxMoves = 3
)

// ErrNoProgress: the run stopped at its deadline without writing anything
// while there was work to do: the job cannot keep up (a too short timeout, or
// a day too large for one run). Alarms.
var ErrNoProgress = errors.New("roll-up stopped at its deadline without progress")

// Job is the stats roll-up.
type Job struct {
	store    Store
	log      *slog.Logger
	now      func() time.Time
	grace    time.Duration
	margin   time.Duration
	parallel int
}

// Option configures a Job.
type Option func(*Job)

// WithClock sets the job's clock (tests).
func WithClock(now func() time.Time) Option { return func(j *Job) { j.now = now } }

// WithGrace sets how long after its end a day closes (0 ≤ d < 24h).
func WithGrace(d time.Duration) Option {
	return func(j *Job) { j.grace = min(max(d, 0), 23*time.Hour) }
}

// WithMargin sets how long before its context's deadline a run stops.
func WithMargin(d time.Duration) Option { return func(j *Job) { j.margin = max(d, 0) } }

// WithParallel sets how many partners are rolled up at once (at least 1).
func WithParallel(n int) Option { return func(j *Job) { j.parallel = max(n, 1) } }

// New returns the job on st, logging to log.
func New(st Store, log *slog.Logger, opts ...Option) *Job {
	j := &Job{store: st, log: log, now: time.Now, grace: DefaultGrace, margin: DefaultMargin, parallel: DefaultParallel}
	for _, o := range opts {
		o(j)
	}
	return j
}

// Wire builds the job of the rollup function on table.
func Wire(db store.DynamoDB, table string, log *slog.Logger) *Job {
	return New(store.New(db, table), log)
}

// Lambda is the rollup function's handler (functions/rollup): one run per
// scheduled event.
func Lambda(db *dynamodb.Client, table string, log *slog.Logger) any {
	return Wire(db, table, log).Handle
}

// Report says what a run did.
type Report struct {
	Partners int `json:"partners"`
	// DaysClosed: days whose final figures this run wrote; DaysSoFar: days
	// whose figures so far it wrote.
	DaysClosed int `json:"days_closed"`
	DaysSoFar  int `json:"days_so_far"`
	// Stopped: partners left unfinished at the deadline (the next run goes
	// on); Yielded: partners left to a concurrent run; Failed: partners whose
	// roll-up failed.
	Stopped []string `json:"stopped,omitempty"`
	Yielded []string `json:"yielded,omitempty"`
	Failed  []string `json:"failed,omitempty"`
}

// PartnerReport says what a run did for one partner.
type PartnerReport struct {
	Partner    string `json:"partner"`
	DaysClosed int    `json:"days_closed"`
	// FirstClosed..LastClosed: the days closed by this run.
	FirstClosed string `json:"first_closed,omitempty"`
	LastClosed  string `json:"last_closed,omitempty"`
	DaysSoFar   int    `json:"days_so_far"`
	// Closed: the last closed day after the run; Outstanding: the
	// outstanding points at the last instant the run rolled up.
	Closed      string `json:"closed"`
	Outstanding int64  `json:"outstanding"`
	Stopped     bool   `json:"stopped,omitempty"`
	Yielded     bool   `json:"yielded,omitempty"`
}

// Handle is the Lambda handler of the roll-up's EventBridge schedule: one run
// (Run). It returns an error only for what should alarm: a partner whose
// roll-up failed, or a run that made no progress before its deadline.
func (j *Job) Handle(ctx context.Context, ev events.EventBridgeEvent) (Report, error) {
	j.log.InfoContext(ctx, "roll-up triggered", "event_id", ev.ID, "scheduled_at", ev.Time, "source", ev.Source)
	return j.Run(ctx)
}

// Run rolls up every partner of the registry (DefaultParallel at a time):
// closes the days that are over, then writes the figures so far of the
// others up to now. It stops the margin before ctx's deadline; what it did
// not finish the next run does.
func (j *Job) Run(ctx context.Context) (Report, error) {
	started := time.Now()
	now := j.now().UTC()
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-j.margin))
		defer cancel()
	}
	var rep Report
	recs, err := j.store.Partners(ctx)
	if err != nil {
		j.log.ErrorContext(ctx, "roll-up: listing partners failed", "error", err)
		return rep, fmt.Errorf("roll-up: %w", err)
	}
	rep.Partners = len(recs)

	var (
		mu   sync.Mutex
		errs []error
		work = make(chan store.PartnerRecord)
		wg   sync.WaitGroup
	)
	for range min(j.parallel, max(len(recs), 1)) {
		wg.Go(func() {
			for rec := range work {
				pr, err := j.RunPartner(ctx, rec, now)
				stopped := err != nil && ctx.Err() != nil // cut off by the deadline: not a failure
				mu.Lock()
				rep.DaysClosed += pr.DaysClosed
				rep.DaysSoFar += pr.DaysSoFar
				switch {
				case stopped || pr.Stopped:
					rep.Stopped = append(rep.Stopped, rec.PartnerID)
				case err != nil:
					rep.Failed = append(rep.Failed, rec.PartnerID)
					errs = append(errs, err)
				case pr.Yielded:
					rep.Yielded = append(rep.Yielded, rec.PartnerID)
				}
				mu.Unlock()
				j.logPartner(ctx, pr, err, stopped)
			}
		})
	}
	for _, rec := range recs {
		if ctx.Err() != nil {
			mu.Lock()
			rep.Stopped = append(rep.Stopped, rec.PartnerID)
			mu.Unlock()
			continue
		}
		work <- rec
	}
	close(work)
	wg.Wait()

	if len(rep.Stopped) > 0 && rep.DaysClosed == 0 && rep.DaysSoFar == 0 {
		errs = append(errs, fmt.Errorf("%w: %d partners left", ErrNoProgress, len(rep.Stopped)))
	}
	err = errors.Join(errs...)
	attrs := []any{"partners", rep.Partners, "days_closed", rep.DaysClosed, "days_so_far", rep.DaysSoFar,
		"stopped", rep.Stopped, "yielded", rep.Yielded, "failed", rep.Failed, "ms", time.Since(started).Milliseconds()}
	if err != nil {
		j.log.ErrorContext(ctx, "roll-up run failed", append(attrs, "error", err)...)
		return rep, fmt.Errorf("roll-up: %w", err)
	}
	j.log.InfoContext(ctx, "roll-up run done", attrs...)
	return rep, nil
}

func (j *Job) logPartner(ctx context.Context, pr PartnerReport, err error, stopped bool) {
	attrs := []any{"partner", pr.Partner, "days_closed", pr.DaysClosed, "first_closed", pr.FirstClosed,
		"last_closed", pr.LastClosed, "days_so_far", pr.DaysSoFar, "closed", pr.Closed, "outstanding", pr.Outstanding}
	switch {
	case stopped || pr.Stopped:
		j.log.WarnContext(ctx, "roll-up of partner stopped at the deadline; the next run goes on", attrs...)
	case err != nil:
		j.log.ErrorContext(ctx, "roll-up of partner failed", append(attrs, "error", err)...)
	case pr.Yielded:
		j.log.InfoContext(ctx, "roll-up of partner left to a concurrent run", attrs...)
	default:
		j.log.InfoContext(ctx, "roll-up of partner done", attrs...)
	}
}

// RunPartner rolls up one partner as of now: closes every day whose end plus
// the grace period is at or before now, then writes the figures so far of
// the days after the last closed one, up to now. When ctx ends it returns
// what it did (all of it committed): Stopped, or the error of the request ctx
// cut short.
func (j *Job) RunPartner(ctx context.Context, rec store.PartnerRecord, now time.Time) (PartnerReport, error) {
	partner := rec.PartnerID
	pr := PartnerReport{Partner: partner}
	p, err := j.store.Program(ctx, partner)
	if err != nil {
		return pr, err
	}
	loc := p.Location()
	st, err := j.state(ctx, rec, loc)
	if err != nil {
		return pr, err
	}
	pr.Closed, pr.Outstanding = st.Closed, st.Outstanding

	for moves := 0; ; {
		if err := ctx.Err(); err != nil {
			pr.Stopped = true
			return pr, nil
		}
		last, err := parseDay(st.Closed)
		if err != nil {
			return pr, fmt.Errorf("roll-up state of %s: %w", partner, err)
		}
		d := last.next()
		end := laterOf(d.next().start(loc), st.Through)
		if now.Before(end.Add(j.grace)) {
			break
		}
		ds, next, folds, err := j.closing(ctx, partner, p, st, d, end)
		if err != nil {
			return pr, err
		}
		err = j.store.CloseDay(ctx, partner, st.Version, ds, next, folds)
		if errors.Is(err, store.ErrRollupMoved) {
			if moves++; moves > maxMoves {
				pr.Yielded = true
				return pr, nil
			}
			if st, err = j.state(ctx, rec, loc); err != nil {
				return pr, err
			}
			continue
		}
		if err != nil {
			return pr, err
		}
		next.Version = st.Version + 1
		st = next
		pr.DaysClosed++
		if pr.FirstClosed == "" {
			pr.FirstClosed = st.Closed
		}
		pr.LastClosed, pr.Closed, pr.Outstanding = st.Closed, st.Closed, st.Outstanding
	}

	// The figures so far of the days after the last closed one.
	for cur, first := st, true; ; first = false {
		last, err := parseDay(cur.Closed)
		if err != nil {
			return pr, err
		}
		d := last.next()
		start := cur.Through
		if start.After(now) {
			break
		}
		end := laterOf(earlierOf(d.next().start(loc), now), start)
		f, err := j.soFar(ctx, partner, cur, d, first)
		if err != nil {
			return pr, err
		}
		ds, next, err := dayFigures(partner, p, cur, d, end, f, false)
		if err != nil {
			return pr, err
		}
		err = j.store.PutDayStats(ctx, partner, st.Version, ds)
		if errors.Is(err, store.ErrRollupMoved) {
			pr.Yielded = true // a concurrent run closed a day or wrote later figures
			return pr, nil
		}
		if err != nil {
			return pr, err
		}
		pr.DaysSoFar++
		pr.Outstanding = next.Outstanding
		if !end.Before(now) {
			break
		}
		cur = next
	}
	return pr, nil
}

// state reads the partner's roll-up state; without one, the state "nothing
// closed" before the partner's first day (the day of its registry entry).
func (j *Job) state(ctx context.Context, rec store.PartnerRecord, loc *time.Location) (store.RollupState, error) {
	st, found, err := j.store.RollupState(ctx, rec.PartnerID)
	if err != nil || found {
		return st, err
	}
	first := dayOf(rec.CreatedAt, loc)
	if rec.Preexisting {
		j.log.WarnContext(ctx, "partner existed before the partner registry: its figures start at its registration, from zero",
			"partner", rec.PartnerID, "first_day", first.String())
	}
	return store.RollupState{Closed: first.prev().String(), Through: first.start(loc)}, nil
}

// closing seals day d, takes its partials and folds in the late partials
// (see the package doc): the day's final figures over the window
// [from.Through, end), the state that closing it gives, and the folds that
// go with them in CloseDay.
func (j *Job) closing(ctx context.Context, partner string, p *program.Program, from store.RollupState, d day, end time.Time) (store.DayStats, store.RollupState, []store.Fold, error) {
	fail := func(err error) (store.DayStats, store.RollupState, []store.Fold, error) {
		return store.DayStats{}, store.RollupState{}, nil, fmt.Errorf("close %s of %s: %w", d, partner, err)
	}
	if err := j.store.SealDay(ctx, partner, d.String()); err != nil {
		return fail(err)
	}
	ps, err := j.store.DayPartials(ctx, partner, d.String())
	if err != nil {
		return fail(err)
	}
	var f Figures
	for _, pa := range ps {
		taken, err := j.store.TakePartial(ctx, partner, pa)
		if err != nil {
			return fail(err)
		}
		if taken.Taken == nil {
			return fail(fmt.Errorf("partial %s/%s not taken", pa.Day, pa.Shard))
		}
		f.Add(*taken.Taken)
	}
	lates, err := j.store.LatePartials(ctx, partner, store.MaxFolds)
	if err != nil {
		return fail(err)
	}
	first := from.PartialsFrom
	if first == "" {
		first = d.String()
	}
	rem, folds := fold(lates, d.String(), first)
	f.Add(rem)
	if len(folds) > 0 {
		j.log.InfoContext(ctx, "roll-up: late partials folded into the day closed", "partner", partner, "day", d.String(), "late", len(folds))
	}
	ds, next, err := dayFigures(partner, p, from, d, end, f, true)
	if err != nil {
		return fail(err)
	}
	next.PartialsFrom = first
	return ds, next, folds, nil
}

// fold is what the late partials add to the day closed (day) and how they
// are taken: every late partial of a day closed already or of this one,
// from the first day closed from partials on, adds what it received since it
// was taken. Marks of earlier days, or of partials expired, are dropped.
func fold(lates []store.Late, day, first string) (Figures, []store.Fold) {
	var rem Figures
	var folds []store.Fold
	for _, l := range lates {
		switch {
		case l.Mark.Day > day:
			// Not sealed by a close: its own close reads the partial.
		case !l.Found || l.Mark.Day < first:
			folds = append(folds, store.Fold{Mark: l.Mark, Drop: true})
		default:
			rem.Add(l.Partial.Remainder())
			folds = append(folds, store.Fold{Mark: l.Mark, Take: l.Partial.Figures, TakeLast: l.Partial.Last})
		}
	}
	return rem, folds
}

// soFar returns the figures so far of day d (not closed): its partials as
// they are and, for the first day after the last closed one (first), what
// late partials of closed days received that the close of d will fold in.
func (j *Job) soFar(ctx context.Context, partner string, st store.RollupState, d day, first bool) (Figures, error) {
	ps, err := j.store.DayPartials(ctx, partner, d.String())
	if err != nil {
		return Figures{}, fmt.Errorf("figures so far of %s for %s: %w", partner, d, err)
	}
	var f Figures
	for _, pa := range ps {
		f.Add(pa.Figures)
	}
	if !first {
		return f, nil
	}
	lates, err := j.store.LatePartials(ctx, partner, store.MaxFolds)
	if err != nil {
		return Figures{}, fmt.Errorf("figures so far of %s for %s: %w", partner, d, err)
	}
	from := st.PartialsFrom
	if from == "" {
		from = d.String()
	}
	for _, l := range lates {
		// Late partials of d itself (sealed by a close that did not finish)
		// are in its partials already.
		if l.Found && l.Mark.Day >= from && l.Mark.Day < d.String() {
			f.Add(l.Partial.Remainder())
		}
	}
	return f, nil
}

// dayFigures renders day d's figures f over the window [from.Through, end)
// and the state that closing it gives.
func dayFigures(partner string, p *program.Program, from store.RollupState, d day, end time.Time, f Figures, final bool) (store.DayStats, store.RollupState, error) {
	if err := Check(f); err != nil {
		return store.DayStats{}, store.RollupState{}, fmt.Errorf("roll up %s of %s: %w", d, partner, err)
	}
	out, debt := from.Outstanding+f.Net, from.Debt+f.DebtChange
	ds := store.DayStats{
		Day: d.String(), Issued: f.Issued, Reversed: f.Reversed, Redeemed: f.Redeemed, Expired: f.Expired, Debited: f.Debited,
		Imported: f.Imported, Outstanding: out, Debt: debt, Liability: Liability(p, out), Currency: p.PointValue.Currency,
		ActiveMembers: f.ActiveMembers, Final: final, AsOf: end.UTC(),
	}
	next := store.RollupState{Closed: d.String(), Through: end.UTC(), Outstanding: out, Debt: debt, Version: from.Version, PartialsFrom: from.PartialsFrom}
	return ds, next, nil
}
