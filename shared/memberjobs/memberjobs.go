// Package memberjobs runs the scheduled per-member jobs (spec §1, §5) against
// the store: release of pending points, expiry with its warnings, tier
// evaluation and release of stale redemption holds. The decisions are
// shared/jobs' planners; this package finds the members that are due, books
// the plans and keeps the due index right.
//
// # A run
//
// Run walks the due index (store.IndexDue): each of its store.DueShards
// shards is queried for members whose due second is at or before the run's
// now, earliest first. For each member one ledger transaction
// (store.UpdateLedger: the member conditional on its version, the entries, the
// lots, the holds and their rewards' stock) applies, at now, in this order:
// ReleaseStaleHolds (first, so that points a hold gives back to a lot whose
// date has passed expire in the same transaction), ReleasePending, Expire (and
// records the lots it announced, so each lot is announced once per expiry),
// EvaluateTier; then sets the
// member's Due to jobs.NextDue, which moves it out of the range the run reads.
// A member with more to do than one transaction holds (jobs.MaxChanges) gets
// several transactions in a row.
//
// So a run reads and writes only the members that have work, and the index is
// its own pagination state: a run that stops (its context's deadline, less
// Margin, or an error) leaves the members it did not reach due, and the next
// run starts with them. Running twice, or two runs at once, changes nothing
// the second time: the second transaction of a member re-reads it (the
// version check makes a concurrent run retry on fresh data), its planners find
// nothing left at now, and NextDue gives the Due already written, so nothing
// is written.
//
// Events (points.expired, points.expiring, tier.changed) are not published
// here: the table's stream carries the committed changes to shared/domainevents,
// which publishes them with the same ids the plans carry.
//
// # What is not visited
//
// A member is visited when its Due comes. Program changes do not move Due:
// a new warn_days, inactivity_days or qualifying window applies to a member
// at its next visit or write (lot expiry dates were fixed when earned and do
// not change). Without a qualifying window, qualifying points never leave it,
// so there is no downgrade to evaluate and tiers are not visited.
package memberjobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/metrics"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// Store is what the member jobs need of the store.
type Store interface {
	ForEachDue(ctx context.Context, shard int, now time.Time, fn func(store.DueMember) error) error
	Program(ctx context.Context, partner string) (*program.Program, error)
	UpdateLedger(ctx context.Context, partner, member string, fn func(*store.LedgerTx) error) (ledger.Member, error)
}

// Counter records a metric (shared/metrics.EMF); nil records nothing.
type Counter interface {
	Count(name string, value int64, dims map[string]string)
}

// DefaultWorkers is how many members a run handles at once: twice the due
// index's shards, so that every shard's backlog is worked off in parallel.
// Each is one member's transaction (a few items of its own partition), so
// the bound is the function's network and the table's capacity, not a hot
// key: 32 workers at ~20 ms a transaction are ~1,600 members/s.
const DefaultWorkers = 2 * store.DueShards

// Runner runs the member jobs.
type Runner struct {
	store Store
	log   *slog.Logger
	now   func() time.Time
	// Margin: a run stops taking members when its context's deadline is
	// closer than this (the Lambda's remaining time).
	Margin time.Duration
	// Workers: members handled at once (DefaultWorkers).
	Workers int
	metrics Counter
	// visited, when set, is called after each member (tests interrupt runs
	// with it).
	visited func(store.DueMember)
}

// Option configures a Runner.
type Option func(*Runner)

// WithClock sets the clock a run takes its now from (default time.Now).
func WithClock(now func() time.Time) Option { return func(r *Runner) { r.now = now } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(r *Runner) { r.log = l } }

// WithMetrics sets where the run's counts go.
func WithMetrics(c Counter) Option { return func(r *Runner) { r.metrics = c } }

// WithVisited calls f after every member a run handled (successfully or not).
func WithVisited(f func(store.DueMember)) Option { return func(r *Runner) { r.visited = f } }

// New returns a Runner on st.
func New(st Store, opts ...Option) *Runner {
	r := &Runner{store: st, log: slog.Default(), now: time.Now, Margin: 10 * time.Second, Workers: DefaultWorkers}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Report says what a run did.
type Report struct {
	Now time.Time `json:"now"`
	// Members visited, and those of them whose items changed.
	Members int `json:"members"`
	Changed int `json:"changed"`
	// Failed: members whose transaction failed; they stay due.
	Failed int `json:"failed"`
	// Released / Expired: points moved from pending to available / expired.
	Released int64 `json:"released"`
	Expired  int64 `json:"expired"`
	// Warnings: lots announced as expiring; Holds: stale holds released;
	// TierChanges: members whose tier changed.
	Warnings    int `json:"warnings"`
	Holds       int `json:"holds"`
	TierChanges int `json:"tier_changes"`
	// Stopped: the run ended early (deadline or cancellation); the members it
	// did not reach are still due and the next run takes them.
	Stopped bool `json:"stopped"`
}

func (r *Report) add(o outcome) {
	r.Members++
	if o.changed {
		r.Changed++
	}
	r.Released += o.released
	r.Expired += o.expired
	r.Warnings += o.warnings
	r.Holds += o.holds
	if o.tier {
		r.TierChanges++
	}
}

// HandleSchedule is the Lambda handler of the member jobs' EventBridge
// schedule: one Run. The event itself carries nothing the run needs (the run
// takes its now from the clock, so a late or repeated invocation simply does
// what is due then).
func (r *Runner) HandleSchedule(ctx context.Context, ev events.EventBridgeEvent) (Report, error) {
	log := r.log.With("event_id", ev.ID)
	rep, err := r.withLogger(log).Run(ctx)
	if err != nil {
		log.ErrorContext(ctx, "member jobs run failed", "error", err)
	}
	return rep, err
}

func (r *Runner) withLogger(l *slog.Logger) *Runner {
	c := *r
	c.log = l
	return &c
}

// errStop ends a shard's walk when the run is out of time.
var errStop = errors.New("out of time")

// Run brings every member due at the run's now up to date. Every shard of
// the due index is walked at once (one reader per shard), and the members
// they list are handled by a pool of Workers, so a backlog spread over the
// shards is worked off Workers members at a time; each member is one
// transaction on its own partition (no key the workers share). It returns
// an error when a member failed (the others are done; the failed stay due)
// or the due index could not be read; a run stopped by its deadline is not
// an error (Report.Stopped).
func (r *Runner) Run(ctx context.Context) (Report, error) {
	now := r.now().UTC().Truncate(time.Second)
	rep := Report{Now: now}
	var mu sync.Mutex
	var errs []error
	stop := func() { mu.Lock(); rep.Stopped = true; mu.Unlock() }

	due := make(chan store.DueMember)
	var walkers sync.WaitGroup
	for shard := range store.DueShards {
		walkers.Add(1)
		go func() {
			defer walkers.Done()
			err := r.store.ForEachDue(ctx, shard, now, func(dm store.DueMember) error {
				if r.outOfTime(ctx) {
					return errStop
				}
				select {
				case due <- dm:
					return nil
				case <-ctx.Done():
					return errStop
				}
			})
			switch {
			case errors.Is(err, errStop) || (err != nil && ctx.Err() != nil):
				stop()
			case err != nil:
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	go func() { walkers.Wait(); close(due) }()

	var workers sync.WaitGroup
	for range max(r.Workers, 1) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for dm := range due {
				if r.outOfTime(ctx) {
					stop() // leave it due: the next run takes it
					continue
				}
				o, err := r.member(ctx, dm.PartnerID, dm.MemberID, now)
				mu.Lock()
				switch {
				case err != nil && ctx.Err() != nil:
					rep.Stopped = true // cancelled mid-member: nothing half-written (one transaction)
				case err != nil:
					rep.Failed++
					errs = append(errs, err)
					r.log.ErrorContext(ctx, "member jobs failed", "partner_id", dm.PartnerID, "member_id", dm.MemberID, "error", err)
				default:
					rep.add(o)
				}
				mu.Unlock()
				if r.visited != nil && (err == nil || ctx.Err() == nil) {
					r.visited(dm)
				}
			}
		}()
	}
	workers.Wait()
	r.count(rep)
	r.log.InfoContext(ctx, "member jobs run", "now", now, "members", rep.Members, "changed", rep.Changed, "failed", rep.Failed,
		"released", rep.Released, "expired", rep.Expired, "warnings", rep.Warnings, "holds", rep.Holds,
		"tier_changes", rep.TierChanges, "stopped", rep.Stopped)
	if len(errs) > 0 {
		return rep, fmt.Errorf("member jobs: %d failures, first: %w", len(errs), errs[0])
	}
	return rep, nil
}

func (r *Runner) outOfTime(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < r.Margin
}

func (r *Runner) count(rep Report) {
	if r.metrics == nil {
		return
	}
	dims := map[string]string{"Job": "member-jobs"}
	r.metrics.Count("JobMembers", int64(rep.Members), dims)
	r.metrics.Count("JobMembersFailed", int64(rep.Failed), dims)
	r.metrics.Count("PointsReleased", rep.Released, dims)
	r.metrics.Count("PointsExpired", rep.Expired, dims)
}

// outcome is what the jobs did to one member.
type outcome struct {
	changed           bool
	released, expired int64
	warnings, holds   int
	tier              bool
}

// maxRounds bounds the transactions of one member in one run (each books up to
// jobs.MaxChanges changes).
const maxRounds = 50

// member brings one member up to date at now: every job, as many
// transactions as it takes, and its Due set to what comes next.
func (r *Runner) member(ctx context.Context, partner, member string, now time.Time) (outcome, error) {
	p, err := r.store.Program(ctx, partner)
	if err != nil {
		return outcome{}, err
	}
	var total outcome
	for range maxRounds {
		var o outcome
		var more bool
		_, err := r.store.UpdateLedger(ctx, partner, member, func(tx *store.LedgerTx) error {
			o, more = outcome{}, false // fn runs again on a concurrent change
			// Releases due are booked by the transaction itself, before
			// the jobs (store.LedgerTx); they count as this visit's.
			if o.released = tx.Released(); o.released > 0 {
				o.changed = true
			}
			var err error
			more, err = round(tx, p, now, &o)
			return err
		})
		if errors.Is(err, store.ErrMemberNotFound) {
			return total, nil // erased meanwhile: its items moved, with their due time
		}
		if err != nil {
			return total, fmt.Errorf("member jobs of %s/%s: %w", partner, member, err)
		}
		total.merge(o)
		if !more {
			return total, nil
		}
	}
	return total, fmt.Errorf("member jobs of %s/%s: still more to do after %d transactions", partner, member, maxRounds)
}

func (o *outcome) merge(x outcome) {
	o.changed = o.changed || x.changed
	o.released += x.released
	o.expired += x.expired
	o.warnings += x.warnings
	o.holds += x.holds
	o.tier = o.tier || x.tier
}

// round plans and books one transaction's worth of the jobs for tx.Member. It
// reports whether more remains (a plan was cut, or did not fit beside the
// others).
func round(tx *store.LedgerTx, p *program.Program, now time.Time, o *outcome) (more bool, err error) {
	m := &tx.Member
	lots, err := tx.Lots()
	if err != nil {
		return false, err
	}
	holds, err := tx.Holds()
	if err != nil {
		return false, err
	}
	var entries []ledger.Entry
	windowStart, windowed := jobs.QualifyingWindowStart(p, now)
	tiers := windowed && len(p.Tiers) > 0
	if tiers {
		if entries, err = tx.EntriesSince(windowStart); err != nil {
			return false, err
		}
	}

	used := 0
	// fits books pl unless it does not fit beside what this transaction
	// already holds; it reports whether it booked it.
	fits := func(pl *jobs.Plan) bool {
		if pl.Empty() {
			return true
		}
		n := size(pl)
		if used > 0 && used+n > jobs.MaxChanges {
			more = true
			return false
		}
		used += n
		more = more || pl.More
		pl.Apply(m, tx.Book, tx.Changed)
		o.changed = true
		return true
	}

	// Stale holds first: the points they give back go to their lots, and a
	// lot whose date has passed meanwhile expires in this same round.
	byKey, err := holdLots(tx, lots, holds, now)
	if err != nil {
		return false, err
	}
	for _, l := range byKey {
		lots = append(lots, l) // a lot spent to zero gets points back
	}
	hp, err := jobs.ReleaseStaleHolds(m, holds, byKey, now)
	if err != nil {
		return false, err
	}
	if fits(&hp) {
		for _, h := range hp.Holds {
			if err := tx.ReleaseHold(h); err != nil {
				return false, err
			}
		}
		o.holds += len(hp.Holds)
		holds = stillHeld(holds, hp.Holds)
	}

	rel := jobs.ReleasePending(m, lots, p, now)
	if fits(&rel) {
		for _, e := range rel.Entries {
			o.released += e.Delta.Available
		}
	}

	warned := func(l *ledger.Entry, at time.Time) bool { return l.WarnedFor != nil && l.WarnedFor.Equal(at) }
	exp := jobs.Expire(m, lots, p, now, warned)
	if fits(&exp) {
		for _, e := range exp.Entries {
			o.expired -= e.Delta.Available + e.Delta.Pending
		}
		for _, w := range exp.Warnings {
			at := w.ExpiresAt
			w.Lot.WarnedFor, w.Lot.WarnedValue = &at, w.Value
			tx.Changed(w.Lot)
		}
		o.warnings += len(exp.Warnings)
	}

	if tiers {
		tp := jobs.EvaluateTier(m, p, jobs.QualifyingInWindow(entries, p, now))
		if fits(&tp) && tp.Tier != nil && tp.Tier.Changed {
			o.tier = true
		}
	}

	if more {
		return true, nil // Due is set by the last round
	}
	next := jobs.NextDue(m, lots, holds, entries, p, now)
	var due int64
	if !next.IsZero() {
		due = ledger.DueSecond(next)
	}
	o.changed = o.changed || due != m.Due
	tx.SetDue(next)
	return false, nil
}

// size counts the items a plan writes (see jobs.MaxChanges).
func size(pl *jobs.Plan) int {
	n := len(pl.Entries) + len(pl.Lots) + len(pl.Warnings)
	for _, h := range pl.Holds {
		n++
		if h.RewardID != "" {
			n++
		}
	}
	return n
}

// holdLots returns, by key, the lots the due holds took points from: those
// already loaded, the others (spent to zero, so not among lots) read.
func holdLots(tx *store.LedgerTx, lots []*ledger.Entry, holds []ledger.Redemption, now time.Time) (map[string]*ledger.Entry, error) {
	byKey := map[string]*ledger.Entry{}
	for _, l := range lots {
		byKey[tx.LotKey(l)] = l
	}
	for _, h := range holds {
		if h.ExpiresAt == nil || h.ExpiresAt.After(now) {
			continue
		}
		for _, t := range h.Lots {
			if byKey[t.Lot] != nil {
				continue
			}
			l, err := tx.Lot(t.Lot)
			if err != nil {
				return nil, err
			}
			byKey[t.Lot] = l
		}
	}
	return byKey, nil
}

// stillHeld drops the released holds from holds.
func stillHeld(holds, released []ledger.Redemption) []ledger.Redemption {
	gone := map[string]bool{}
	for _, r := range released {
		gone[r.ID] = true
	}
	var out []ledger.Redemption
	for _, h := range holds {
		if !gone[h.ID] {
			out = append(out, h)
		}
	}
	return out
}

// Wire builds the runner as the jobs function runs it: a store on table,
// metrics as EMF lines on stdout.
func Wire(db store.DynamoDB, table string, log *slog.Logger) *Runner {
	return New(store.New(db, table), WithLogger(log), WithMetrics(metrics.New(os.Stdout)))
}

// Lambda is the jobs function's handler (functions/jobs): one run per
// scheduled event.
func Lambda(db *dynamodb.Client, table string, log *slog.Logger) any {
	return Wire(db, table, log).HandleSchedule
}
