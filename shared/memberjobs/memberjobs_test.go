package memberjobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/memberjobs"
	"github.com/accrue/accrue/shared/store"
)

func mskAt(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, msk)
}

// TestBoundaries follows one payment of 150 points through every job on a
// clock set to the second before and the second of each boundary: release
// after 14 days, the warning 7 days before expiry, expiry 30 days after
// earning, the downgrade when the payment leaves the 30-day window. The
// instants are written out (Moscow time), not computed by the code under
// test: across a leap day, a month end at 23:30 and a leap February.
func TestBoundaries(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                          string
		earned, release, warn, expiry time.Time
	}{
		{"leap day release", mskAt(2028, 2, 15, 12, 0, 0), mskAt(2028, 2, 29, 12, 0, 0), mskAt(2028, 3, 9, 12, 0, 0), mskAt(2028, 3, 16, 12, 0, 0)},
		{"month end late evening", mskAt(2027, 1, 31, 23, 30, 0), mskAt(2027, 2, 14, 23, 30, 0), mskAt(2027, 2, 23, 23, 30, 0), mskAt(2027, 3, 2, 23, 30, 0)},
		{"expiry across a leap February", mskAt(2028, 1, 31, 0, 0, 0), mskAt(2028, 2, 14, 0, 0, 0), mskAt(2028, 2, 23, 0, 0, 0), mskAt(2028, 3, 1, 0, 0, 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, jobsProgram)
			e.set(c.earned)
			out := e.pay(t, "m1", 15000)
			if out.Entry.Lot.State != ledger.LotPending || out.Member.Rules.Tier != "silver" {
				t.Fatalf("accrual: %+v tier %q", out.Entry.Lot, out.Member.Rules.Tier)
			}
			tierExit := c.expiry.Add(time.Second) // the 30-day window: the payment counts through expiry's second
			steps := []struct {
				at              time.Time
				visited         bool // the due index lists the member at this instant
				avail, pend     int64
				warned, tier    bool // lot announced; still silver
				release, expire int  // entries of these kinds so far
				due             time.Time
				describe        string
			}{
				// A release is no visit's work: the points count as available
				// from their second (what every read shows), and the first
				// write after it — here the warning's visit — books it.
				{c.release.Add(-time.Second), false, 0, 150, false, true, 0, 0, c.warn, "the second before release: still pending"},
				{c.release, false, 150, 0, false, true, 0, 0, c.warn, "available at its second, without a visit"},
				{c.warn.Add(-time.Second), false, 150, 0, false, true, 0, 0, c.warn, "no warning yet"},
				{c.warn, true, 150, 0, true, true, 1, 0, c.expiry, "announced 7 days before; the visit books the release"},
				{c.expiry.Add(-time.Second), false, 150, 0, true, true, 1, 0, c.expiry, "not expired the second before"},
				{c.expiry, true, 0, 0, true, true, 1, 1, tierExit, "expired at its second; the payment still counts for the tier"},
				{tierExit, true, 0, 0, true, false, 1, 1, time.Time{}, "left the window: downgraded, nothing more due"},
			}
			for _, s := range steps {
				e.set(s.at)
				rep := e.jobs(t, "m1")
				if (rep.Members == 1) != s.visited {
					t.Errorf("%s (%s): visited %d members", s.describe, s.at, rep.Members)
				}
				if again := e.jobs(t, "m1"); again.Changed != 0 {
					t.Errorf("%s: a second run changed %d members", s.describe, again.Changed)
				}
				m := e.asOf(t, "m1")
				lot := e.lots(t, "m1")[0]
				k := e.kinds(t, "m1")
				if m.Available != s.avail || m.Pending != s.pend || k[ledger.KindRelease] != s.release || k[ledger.KindExpire] != s.expire {
					t.Errorf("%s: available %d pending %d, %d releases %d expiries", s.describe, m.Available, m.Pending, k[ledger.KindRelease], k[ledger.KindExpire])
				}
				if warned := lot.WarnedFor != nil && lot.WarnedFor.Equal(c.expiry); warned != s.warned {
					t.Errorf("%s: lot warned for %v", s.describe, lot.WarnedFor)
				}
				if (m.Rules.Tier == "silver") != s.tier {
					t.Errorf("%s: tier %q (qualifying %d)", s.describe, m.Rules.Tier, m.Rules.Qualifying)
				}
				wantDue := int64(0)
				if !s.due.IsZero() {
					wantDue = s.due.Unix()
				}
				if m.Due != wantDue {
					t.Errorf("%s: due %s, want %s", s.describe, time.Unix(m.Due, 0).In(msk), s.due)
				}
			}
		})
	}
}

// TestInactivityExpiry: with inactivity expiry, points expire 60 days after
// the last activity; an activity and a redemption each move the deadline,
// and the runs at the old deadlines expire nothing.
func TestInactivityExpiry(t *testing.T) {
	t.Parallel()
	prog := strings.Replace(jobsProgram, `"expiry": {"rolling_days": 30, "warn_days": 7}`, `"expiry": {"inactivity_days": 60}`, 1)
	prog = strings.Replace(prog, `"pending_days": 14,`, ``, 1)
	e := newEnv(t, prog)
	start := mskAt(2027, 12, 31, 10, 0, 0)
	e.set(start)
	e.pay(t, "m1", 5000)
	e.set(start.AddDate(0, 0, 20))
	if _, _, err := e.st.Activity(t.Context(), "acme", "m1", "app_install"); err != nil {
		t.Fatal(err)
	}
	e.set(start.AddDate(0, 0, 40))
	if _, _, err := e.st.Redeem(t.Context(), "acme", "m1", ledger.RedeemRequest{Points: 5, Capture: true}); err != nil {
		t.Fatal(err)
	}
	deadline := mskAt(2028, 4, 9, 10, 0, 0) // 60 days after the redemption of 2028-02-09
	for _, s := range []struct {
		at    time.Time
		avail int64
	}{
		{start.AddDate(0, 0, 60), 55}, // the deadline after the payment
		{start.AddDate(0, 0, 80), 55}, // the deadline after the activity
		{deadline.Add(-time.Second), 55},
		{deadline, 0},
	} {
		e.set(s.at)
		e.jobs(t, "m1")
		if m := e.member(t, "m1"); m.Available != s.avail {
			t.Fatalf("at %s: available %d, want %d", s.at, m.Available, s.avail)
		}
	}
	es, err := e.st.Entries(t.Context(), "acme", "m1")
	if err != nil {
		t.Fatal(err)
	}
	last := es[len(es)-1]
	if last.Kind != ledger.KindExpire || last.Points != -55 || last.Breakdown[0].Rule != "inactivity" {
		t.Fatalf("expiry entry %+v", last)
	}
}

// TestStaleHold: a hold on a reward is released the second its expiry comes:
// points back, status expired, the reward's stock given back.
func TestStaleHold(t *testing.T) {
	t.Parallel()
	e := newEnv(t, strings.Replace(jobsProgram, `"pending_days": 14,`, ``, 1))
	ctx := t.Context()
	e.pay(t, "m1", 10000)
	one := int64(1)
	if _, err := e.st.PutRewards(ctx, "acme", []ledger.Reward{{ID: "mug", Name: "Mug", Cost: 60, Stock: &one}}); err != nil {
		t.Fatal(err)
	}
	red, _, err := e.st.Redeem(ctx, "acme", "m1", ledger.RedeemRequest{RewardID: "mug", HoldFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	stock := func() int64 {
		rs, err := e.st.Rewards(ctx, "acme")
		if err != nil || len(rs) != 1 {
			t.Fatalf("rewards %v %v", rs, err)
		}
		return *rs[0].Stock
	}
	for _, s := range []struct {
		at          time.Time
		held, avail int64
		status      string
		stock       int64
	}{
		{red.ExpiresAt.Add(-time.Second), 60, 40, ledger.RedemptionHeld, 0},
		{*red.ExpiresAt, 0, 100, ledger.RedemptionExpired, 1},
	} {
		e.set(s.at)
		e.jobs(t, "m1")
		e.jobs(t, "m1") // twice: the stock goes back once
		m := e.member(t, "m1")
		r, err := e.st.Redemption(ctx, "acme", "m1", red.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Held != s.held || m.Available != s.avail || r.Status != s.status || stock() != s.stock {
			t.Fatalf("at %s: held %d available %d status %s stock %d", s.at, m.Held, m.Available, r.Status, stock())
		}
	}
	if _, _, err := e.st.Capture(ctx, "acme", "m1", red.ID); err == nil {
		t.Fatal("an expired hold was captured")
	}
}

// dataset builds the same members in any env: 24 members paying different
// amounts on day 0, released on day 15 (when a third of them open holds
// and every fifth pays again), so that on day 38 every job has work: first
// lots expire, holds are stale, second lots are announced, tiers drop.
func dataset(t *testing.T, e *env) (members []string, at time.Time) {
	t.Helper()
	t0 := mskAt(2027, 6, 1, 9, 0, 0)
	e.set(t0)
	for i := range 24 {
		id := fmt.Sprintf("m%02d", i)
		members = append(members, id)
		e.pay(t, id, int64(i+1)*1000)
	}
	e.set(t0.AddDate(0, 0, 15))
	e.jobs(t, members...)
	for i, id := range members {
		if i%3 == 0 {
			if _, _, err := e.st.Redeem(t.Context(), "acme", id, ledger.RedeemRequest{Points: int64(i+1) * 5, HoldFor: 24 * time.Hour}); err != nil {
				t.Fatalf("redeem %s: %v", id, err)
			}
		}
		if i%5 == 0 {
			e.pay(t, id, 20000)
		}
	}
	return members, t0.AddDate(0, 0, 38)
}

// TestTwiceAndConcurrent: two runs at once end in the same state as one run
// on an identical table, and a third run changes nothing.
func TestTwiceAndConcurrent(t *testing.T) {
	t.Parallel()
	one, two := newEnv(t, jobsProgram), newEnv(t, jobsProgram)
	members, at := dataset(t, one)
	dataset(t, two)
	one.set(at)
	two.set(at)

	rep := one.jobs(t, members...)
	if rep.Members != len(members) || rep.Expired == 0 || rep.Holds != 8 || rep.Warnings == 0 || rep.TierChanges == 0 {
		t.Fatalf("the run did not exercise every job: %+v", rep)
	}

	var wg sync.WaitGroup
	reps := make([]memberjobs.Report, 2)
	for i := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := two.run.Run(t.Context())
			if err != nil {
				t.Errorf("concurrent run: %v", err)
			}
			reps[i] = r
		}()
	}
	wg.Wait()
	if reps[0].Expired+reps[1].Expired != rep.Expired || reps[0].Holds+reps[1].Holds != rep.Holds || reps[0].Warnings+reps[1].Warnings != rep.Warnings {
		t.Errorf("two runs at once did the work %+v and %+v, one run %+v", reps[0], reps[1], rep)
	}
	if a, b := one.state(t, members), two.state(t, members); a != b {
		t.Fatalf("one run and two concurrent runs differ:\n%s\n%s", a, b)
	}
	before := two.state(t, members)
	if again := two.jobs(t, members...); again.Changed != 0 || again.Members != 0 {
		t.Fatalf("a run after the others: %+v", again)
	}
	if after := two.state(t, members); after != before {
		t.Fatal("a third run changed the state")
	}
}

// TestInterruptedRunResumes: a run cancelled after a few members stops
// (reporting it), the next run finishes, and the end state is that of one
// uninterrupted run.
func TestInterruptedRunResumes(t *testing.T) {
	t.Parallel()
	whole, cut := newEnv(t, jobsProgram), newEnv(t, jobsProgram)
	members, at := dataset(t, whole)
	dataset(t, cut)
	whole.set(at)
	cut.set(at)
	whole.jobs(t, members...)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	visited := 0
	r := memberjobs.New(cut.st, memberjobs.WithClock(cut.now), memberjobs.WithLogger(quiet()),
		memberjobs.WithVisited(func(store.DueMember) {
			mu.Lock()
			defer mu.Unlock()
			if visited++; visited == 7 {
				cancel()
			}
		}))
	r.Workers = 1 // so that the cancellation after 7 members leaves members undone
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatalf("interrupted run: %v", err)
	}
	if !rep.Stopped || rep.Members >= len(members) {
		t.Fatalf("the run was not interrupted: %+v", rep)
	}
	// A transaction whose answer the cancellation cut off may still be
	// committing on the server: the audit (a read of the member, then of its
	// entries) looks again until the table is still.
	for _, m := range members {
		deadline := time.Now().Add(3 * time.Second)
		for {
			err := cut.st.Audit(t.Context(), "acme", m)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the interruption: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// A member whose transaction was in flight when the context ended may or
	// may not have been written (the answer was lost): either way the next
	// run sees it as it is.
	if rest := cut.jobs(t, members...); rest.Stopped || rest.Members == 0 {
		t.Fatalf("the next run: %+v after %+v", rest, rep)
	}
	if again := cut.jobs(t, members...); again.Members != 0 {
		t.Fatalf("members still due after the resumed run: %+v", again)
	}
	if a, b := whole.state(t, members), cut.state(t, members); a != b {
		t.Fatalf("interrupted and resumed differs from one run:\n%s\n%s", a, b)
	}
}

// TestDeadline: a run whose deadline is closer than its margin takes no
// member and says it stopped; everything stays due.
func TestDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, jobsProgram)
	e.pay(t, "m1", 1000)
	e.set(e.now().AddDate(0, 0, 23)) // the warning's instant (the release, on day 14, needed no visit)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	r := memberjobs.New(e.st, memberjobs.WithClock(e.now), memberjobs.WithLogger(quiet()))
	r.Margin = 10 * time.Second
	rep, err := r.Run(ctx)
	if err != nil || !rep.Stopped || rep.Members != 0 {
		t.Fatalf("run with no time: %+v %v", rep, err)
	}
	if rep := e.jobs(t, "m1"); rep.Members != 1 || rep.Released != 10 {
		t.Fatalf("next run: %+v", rep)
	}
}

// TestOnlyDueMembersAreRead: of 40 members, the run reads the one that is
// due (the index, not a scan).
func TestOnlyDueMembersAreRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, jobsProgram)
	start := e.now()
	e.pay(t, "early", 1000)
	e.set(start.AddDate(0, 0, 10))
	for i := range 40 {
		e.pay(t, fmt.Sprintf("late%02d", i), 1000)
	}
	e.set(start.AddDate(0, 0, 23)) // early's warning; the others' comes on day 33
	rep := e.jobs(t, "early")
	if rep.Members != 1 || rep.Released != 10 {
		t.Fatalf("run: %+v", rep)
	}
}

// TestErasedMemberStillExpires: an erased member's points still expire
// (liability stays right) under its anonymous id.
func TestErasedMemberStillExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t, jobsProgram)
	start := e.now()
	e.pay(t, "m1", 1000)
	anon, err := e.st.Erase(t.Context(), "acme", "m1", "admin")
	if err != nil {
		t.Fatal(err)
	}
	e.set(start.AddDate(0, 0, 30))
	e.jobs(t)
	m := e.member(t, anon)
	if m.Pending != 0 || m.Available != 0 || m.Status != ledger.StatusErased {
		t.Fatalf("erased member after expiry: %+v", m)
	}
	if err := e.st.Audit(t.Context(), "acme", anon); err != nil {
		t.Fatal(err)
	}
}

// TestHandlerJSON: the Lambda handler through its JSON layer, fed the sample
// EventBridge scheduled event of events/.
func TestHandlerJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, jobsProgram)
	e.pay(t, "m1", 1000)
	e.set(e.now().AddDate(0, 0, 23)) // due for its warning; the visit books the release of day 14
	payload, err := os.ReadFile(filepath.Join("..", "..", "events", "schedule-member-jobs.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := lambda.NewHandler(e.run.HandleSchedule).Invoke(t.Context(), payload)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var rep memberjobs.Report
	if err := json.Unmarshal(out, &rep); err != nil || rep.Members != 1 || rep.Released != 10 || rep.Failed != 0 {
		t.Fatalf("report %s: %v", out, err)
	}
	if _, err := lambda.NewHandler(e.run.HandleSchedule).Invoke(t.Context(), []byte(`{"id": 7}`)); err == nil {
		t.Fatal("a malformed event was accepted")
	}
}
