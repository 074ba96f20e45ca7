package memberjobs_test

import (
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/memberjobs"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// jobsProgram: 1 point per 1.00 RUB, Moscow time, 14 days pending, expiry 30
// days after earning with a warning 7 days before, silver from 100 qualifying
// points over 30 days, 1 point = 1.00 RUB.
const jobsProgram = `{
  "name": "Jobs",
  "timezone": "Europe/Moscow",
  "auto_enroll": true,
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 100}}],
  "activities": [{"name": "app_install", "points": 10}],
  "pending_days": 14,
  "expiry": {"rolling_days": 30, "warn_days": 7},
  "tiers": [{"name": "base", "threshold": 0, "multiplier": "1"}, {"name": "silver", "threshold": 100, "multiplier": "1"}],
  "qualifying_window_days": 30,
  "point_value": {"minor": "100", "currency": "RUB"}
}`

var msk = func() *time.Location {
	l, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		panic(err)
	}
	return l
}()

// env is a table on DynamoDB Local, a store and a runner sharing one clock
// the test sets.
type env struct {
	db    *dynamodb.Client
	table string
	st    *store.Store
	run   *memberjobs.Runner
	clock atomic.Int64
	seq   int
}

func quiet() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

func newEnv(t *testing.T, programJSON string, opts ...memberjobs.Option) *env {
	t.Helper()
	e := &env{db: awstest.Client(t)}
	e.table = awstest.NewTable(t, e.db, store.CreateTableInput)
	e.st = store.New(e.db, e.table, store.WithClock(e.now), store.WithProgramCacheTTL(0))
	e.run = memberjobs.New(e.st, append([]memberjobs.Option{memberjobs.WithClock(e.now), memberjobs.WithLogger(quiet())}, opts...)...)
	e.set(time.Date(2027, 1, 10, 12, 0, 0, 0, msk))
	p, err := program.Parse([]byte(programJSON))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.PutProgram(t.Context(), "acme", p); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) now() time.Time  { return time.Unix(0, e.clock.Load()).UTC() }
func (e *env) set(t time.Time) { e.clock.Store(t.UnixNano()) }

// pay accrues a payment of amount minor units to member now.
func (e *env) pay(t *testing.T, member string, amountMinor int64) store.Outcome {
	t.Helper()
	e.seq++
	id := fmt.Sprintf("p%d", e.seq)
	out, err := e.st.Apply(t.Context(), payment.Payment{
		EventID: "evt-" + id, Source: "test", Type: payment.TypeSucceeded, Time: e.now(),
		PartnerID: "acme", MemberID: member, PaymentID: id, AmountMinor: amountMinor, Currency: "RUB", Category: "telecom",
	})
	if err != nil {
		t.Fatalf("apply %s: %v", id, err)
	}
	return out
}

// jobs runs the member jobs now and checks the invariants of every member
// given afterwards.
func (e *env) jobs(t *testing.T, members ...string) memberjobs.Report {
	t.Helper()
	rep, err := e.run.Run(t.Context())
	if err != nil {
		t.Fatalf("run at %s: %v", e.now(), err)
	}
	for _, m := range members {
		if err := e.st.Audit(t.Context(), "acme", m); err != nil {
			t.Fatalf("after the run at %s: %v", e.now(), err)
		}
	}
	return rep
}

func (e *env) member(t *testing.T, id string) ledger.Member {
	t.Helper()
	m, err := e.st.Member(t.Context(), "acme", id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// asOf is the member as a read sees it at now: stored, with the releases due
// at now applied (pending points count as available from their release time
// without a visit; the next write books them).
func (e *env) asOf(t *testing.T, id string) ledger.Member {
	t.Helper()
	m := e.member(t, id)
	p, err := e.st.Program(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	lots, err := e.st.Lots(t.Context(), "acme", id)
	if err != nil {
		t.Fatal(err)
	}
	return jobs.AsOf(m, lots, p, e.now())
}

// lots returns the member's earn entries (lots), by sequence.
func (e *env) lots(t *testing.T, member string) []ledger.Entry {
	t.Helper()
	es, err := e.st.Entries(t.Context(), "acme", member)
	if err != nil {
		t.Fatal(err)
	}
	var out []ledger.Entry
	for _, x := range es {
		if x.Kind == ledger.KindEarn || x.Kind == ledger.KindBonus || x.Kind == ledger.KindAdjust {
			out = append(out, x)
		}
	}
	return out
}

// kinds counts the member's entries by kind.
func (e *env) kinds(t *testing.T, member string) map[ledger.Kind]int {
	t.Helper()
	es, err := e.st.Entries(t.Context(), "acme", member)
	if err != nil {
		t.Fatal(err)
	}
	out := map[ledger.Kind]int{}
	for _, x := range es {
		out[x.Kind]++
	}
	return out
}

// state is everything the jobs may change about members, in a form two
// tables can be compared by (redemption ids are random: left out).
func (e *env) state(t *testing.T, members []string) string {
	t.Helper()
	var out []string
	for _, id := range members {
		m := e.member(t, id)
		es, err := e.st.Entries(t.Context(), "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		s := fmt.Sprintf("%s %+v tier=%q q=%d due=%d ver=%d |", id, m.Balances, m.Rules.Tier, m.Rules.Qualifying, m.Due, m.Version)
		for _, x := range es {
			warned := ""
			if x.WarnedFor != nil {
				warned = x.WarnedFor.UTC().Format(time.RFC3339)
			}
			s += fmt.Sprintf(" %d:%s:%d:%+v:%s:%d:%s:v%d", x.Seq, x.Kind, x.Points, x.Delta, x.State, x.Remaining, warned, x.Version)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}
