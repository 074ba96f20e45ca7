package rollup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// Store is the part of the store the job uses (*store.Store).
type Store interface {
	Partners(ctx context.Context) ([]store.PartnerRecord, error)
	Program(ctx context.Context, partner string) (*program.Program, error)
	RollupState(ctx context.Context, partner string) (store.RollupState, bool, error)
	DayEntries(ctx context.Context, partner, utcDay string, bucket int, fn func([]store.DayEntry) error) error
	CloseDay(ctx context.Context, partner string, prevVersion int64, day store.DayStats, next store.RollupState) error
	PutDayStats(ctx context.Context, partner string, stateVersion int64, day store.DayStats) error
}

// Defaults of the job's settings.
const (
	// DefaultGrace: a day closes this long after it ends (late commits, index
	// propagation; see the package doc).
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
		ds, next, err := j.figures(ctx, partner, p, st, d, end, true)
		if err != nil {
			return pr, err
		}
		err = j.store.CloseDay(ctx, partner, st.Version, ds, next)
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
	for cur := st; ; {
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
		ds, next, err := j.figures(ctx, partner, p, cur, d, end, false)
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
		j.log.WarnContext(ctx, "partner existed before the day index: its figures start at its registration, from zero",
			"partner", rec.PartnerID, "first_day", first.String())
	}
	return store.RollupState{Closed: first.prev().String(), Through: first.start(loc)}, nil
}

// figures computes day d's figures over the window [from.Through, end) and the
// state that closing it gives.
func (j *Job) figures(ctx context.Context, partner string, p *program.Program, from store.RollupState, d day, end time.Time, final bool) (store.DayStats, store.RollupState, error) {
	f, active, err := j.sum(ctx, partner, from.Through, end)
	if err != nil {
		return store.DayStats{}, store.RollupState{}, fmt.Errorf("roll up %s of %s: %w", d, partner, err)
	}
	if err := f.Check(); err != nil {
		return store.DayStats{}, store.RollupState{}, fmt.Errorf("roll up %s of %s: %w", d, partner, err)
	}
	out, debt := from.Outstanding+f.Net, from.Debt+f.DebtChange
	ds := store.DayStats{
		Day: d.String(), Issued: f.Issued, Reversed: f.Reversed, Redeemed: f.Redeemed, Expired: f.Expired, Debited: f.Debited,
		Outstanding: out, Debt: debt, Liability: Liability(p, out), Currency: p.PointValue.Currency,
		ActiveMembers: active, Final: final, AsOf: end.UTC(),
	}
	next := store.RollupState{Closed: d.String(), Through: end.UTC(), Outstanding: out, Debt: debt, Version: from.Version}
	return ds, next, nil
}

// sum adds up partner's entries in [start, end) and counts the active
// members, reading the UTC days the window overlaps, one goroutine per
// bucket.
func (j *Job) sum(parent context.Context, partner string, start, end time.Time) (Figures, int64, error) {
	days := utcDays(start, end)
	if len(days) == 0 {
		return Figures{}, 0, nil
	}
	// The first failing bucket stops the others.
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	figs := make([]Figures, store.DayBuckets)
	active := make([]int, store.DayBuckets)
	errs := make([]error, store.DayBuckets)
	var wg sync.WaitGroup
	for b := range store.DayBuckets {
		wg.Go(func() {
			members := map[string]struct{}{}
			for _, utc := range days {
				err := j.store.DayEntries(ctx, partner, utc, b, func(es []store.DayEntry) error {
					for _, e := range es {
						if e.PartnerID != partner {
							return fmt.Errorf("%w: %s's key, %s's entry", ErrForeignEntry, partner, e.PartnerID)
						}
						if e.At.Before(start) || !e.At.Before(end) {
							continue
						}
						g, err := Of(e)
						if err != nil {
							return err
						}
						figs[b].Add(g)
						if Active(e) {
							members[e.MemberID] = struct{}{}
						}
					}
					return nil
				})
				if err != nil {
					errs[b] = err
					cancel(err)
					return
				}
			}
			active[b] = len(members)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if parent.Err() == nil {
			err = context.Cause(ctx) // the first failure, not the cancellations it caused
		}
		return Figures{}, 0, err
	}
	var f Figures
	var n int64
	for b := range store.DayBuckets {
		f.Add(figs[b])
		n += int64(active[b])
	}
	return f, n, nil
}
