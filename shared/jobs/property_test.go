package jobs_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
)

// ops of the property test, each as often as it is listed.
var ops = []string{
	"wait", "wait", "boundary", "boundary", "earn", "earn", "earn", "activity", "hold", "spend", "spend",
	"capture", "refund", "refund", "approve", "commute", "job", "job", "job", "job", "program", "due",
}

func genProgram(t *rapid.T) *program.Program {
	p := prog(rapid.SampledFrom([]string{"UTC", "Europe/Moscow", "America/New_York"}).Draw(t, "tz"))
	p.PendingDays = rapid.SampledFrom([]int{0, 0, 3, 14}).Draw(t, "pending")
	p.Expiry = program.Expiry{
		RollingDays:    rapid.SampledFrom([]int{0, 1, 30, 365}).Draw(t, "rolling"),
		FixedDate:      rapid.SampledFrom([]string{"", "03-01", "12-31", "02-28"}).Draw(t, "fixed"),
		InactivityDays: rapid.SampledFrom([]int{0, 20, 90}).Draw(t, "inactivity"),
		WarnDays:       rapid.SampledFrom([]int{0, 1, 7}).Draw(t, "warn"),
	}
	p.QualifyingWindowDays = rapid.SampledFrom([]int{0, 30, 365}).Draw(t, "window")
	return p
}

// boundaries lists the instants at which some job's decision changes.
func (b *book) boundaries() []time.Time {
	var out []time.Time
	for _, e := range b.es {
		for _, at := range []*time.Time{e.ExpiresAt, e.AvailableAt} {
			if at != nil {
				out = append(out, *at, at.AddDate(0, 0, -b.p.Expiry.WarnDays))
			}
		}
		if b.p.QualifyingWindowDays > 0 && !e.At.IsZero() {
			out = append(out, e.At.AddDate(0, 0, b.p.QualifyingWindowDays))
		}
	}
	for _, r := range b.holds {
		if r.ExpiresAt != nil {
			out = append(out, *r.ExpiresAt)
		}
	}
	if b.p.Expiry.InactivityDays > 0 {
		out = append(out, b.m.LastActivity.AddDate(0, 0, b.p.Expiry.InactivityDays))
	}
	return out
}

// clone deep-copies the book (lots are new entries: nothing is shared).
func (b *book) clone() *book {
	c := *b
	c.es = nil
	for _, e := range b.es {
		cp := *e
		c.es = append(c.es, &cp)
	}
	c.holds = nil
	for _, r := range b.holds {
		r.Lots = append([]ledger.LotTake(nil), r.Lots...)
		c.holds = append(c.holds, r)
	}
	c.warned = map[int64]time.Time{}
	for k, v := range b.warned {
		c.warned[k] = v
	}
	return &c
}

// TestJobsKeepInvariants: random ledgers — earnings (pending, in review,
// available), activities, holds, captures, refunds that create debt,
// approvals — interleaved with the jobs in random order on a clock that moves
// by random steps and onto the boundaries where decisions change. Every plan
// must leave ledger.Check true, write nothing into its inputs and be
// idempotent (b.run checks all three after every job); release, expiry and
// tier evaluation at one instant give the same balances in either order.
func TestJobsKeepInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genProgram(t)
		now := utc(2027, 12, 20, 0, 0, 0).Add(time.Duration(rapid.IntRange(0, 86400*30).Draw(t, "start")) * time.Second)
		b := newBook(t, p, now)
		for i := range rapid.IntRange(1, 60).Draw(t, "steps") {
			op := rapid.SampledFrom(ops).Draw(t, fmt.Sprintf("op%d", i))
			switch op {
			case "wait":
				now = now.Add(time.Duration(rapid.IntRange(0, 86400*40).Draw(t, "step")) * time.Second)
			case "boundary":
				if bs := b.boundaries(); len(bs) > 0 {
					at := rapid.SampledFrom(bs).Draw(t, "boundary").Add(time.Duration(rapid.IntRange(-1, 1).Draw(t, "off")) * time.Second)
					if at.After(now) {
						now = at
					}
				}
			case "program": // the partner edits the program
				*b.p = *genProgram(t)
			case "earn":
				b.earn(rapid.Int64Range(0, 300).Draw(t, "pts"), now, rapid.IntRange(0, 9).Draw(t, "held") == 0)
			case "activity":
				b.bonus(rapid.Int64Range(1, 50).Draw(t, "bonus"), now)
			case "hold", "spend":
				if b.m.Available > 0 {
					n := b.m.Available // often all of it: what makes refunds create debt
					if rapid.Bool().Draw(t, "some") {
						n = rapid.Int64Range(1, b.m.Available).Draw(t, "hold")
					}
					ttl := time.Duration(rapid.IntRange(1, 86400*3).Draw(t, "ttl")) * time.Second
					rid, err := b.hold(n, now, ttl)
					if err != nil {
						t.Fatalf("hold %d of %d: %v", n, b.m.Available, err)
					}
					if op == "spend" { // captured at once
						b.capture(rid, now)
					}
				}
			case "capture":
				var open []string
				for _, r := range b.holds {
					if r.Status == ledger.RedemptionHeld && now.Before(*r.ExpiresAt) {
						open = append(open, r.ID)
					}
				}
				if len(open) > 0 {
					b.capture(rapid.SampledFrom(open).Draw(t, "capture"), now)
				}
			case "refund":
				var paid, spent []*ledger.Entry
				for _, e := range b.es {
					if e.Kind == ledger.KindEarn && e.RefundedMinor < e.AmountMinor {
						paid = append(paid, e)
						if e.Remaining == 0 && e.Points > 0 {
							spent = append(spent, e)
						}
					}
				}
				if len(spent) > 0 && rapid.Bool().Draw(t, "spent") {
					paid = spent // refunding spent points is what creates debt
				}
				if len(paid) > 0 {
					e := rapid.SampledFrom(paid).Draw(t, "refund")
					amount := e.AmountMinor - e.RefundedMinor // in full, or in part
					if rapid.Bool().Draw(t, "partial") {
						amount = rapid.Int64Range(1, amount).Draw(t, "amount")
					}
					b.refund(e, amount, now)
				}
			case "approve":
				var review []*ledger.Entry
				for _, e := range b.es {
					if e.State == ledger.LotReview {
						review = append(review, e)
					}
				}
				if len(review) > 0 {
					b.approve(rapid.SampledFrom(review).Draw(t, "approve"), now)
				}
			case "commute":
				// Release, expiry and tier evaluation commute at one instant.
				other, n := b.clone(), len(b.es)
				for _, j := range []job{releaseJob, expireJob, tierJob} {
					b.run(j, now)
				}
				for _, j := range []job{tierJob, expireJob, releaseJob} {
					other.run(j, now)
				}
				if b.m.Balances != other.m.Balances || b.m.Rules.Tier != other.m.Rules.Tier || b.m.Rules.Qualifying != other.m.Rules.Qualifying {
					t.Fatalf("order matters: %+v / %+v", b.m.Balances, other.m.Balances)
				}
				for k := range n { // the entries both had before: every lot ends the same
					if !reflect.DeepEqual(b.es[k].Lot, other.es[k].Lot) {
						t.Fatalf("lot %d differs: %+v / %+v", b.es[k].Seq, b.es[k].Lot, other.es[k].Lot)
					}
				}
			case "due":
				b.checkNextDue(now)
			default:
				b.run(rapid.SampledFrom(allJobs).Draw(t, "job"), now)
			}
			b.check()
		}
		// In the end, walk the clock through the coming boundaries, running
		// every job in random order at each.
		for range 30 {
			next := now.AddDate(1, 0, 0)
			for _, at := range b.boundaries() {
				if at.After(now) && at.Before(next) {
					next = at
				}
			}
			now = next
			for _, j := range rapid.Permutation(allJobs).Draw(t, "final") {
				b.run(j, now)
			}
		}
	})
}

// checkNextDue brings the member up to date at now (every job), computes
// NextDue and checks that it is never late: at every instant where some
// decision could change between now and the due time (each boundary and the
// seconds around it, and the second before due), every job plans nothing —
// but the release of pending lots, which no visit does (ReleaseTime).
func (b *book) checkNextDue(now time.Time) {
	b.t.Helper()
	for range 10 {
		busy := false
		for _, j := range allJobs {
			if len(b.run(j, now)) > 0 {
				busy = true
			}
		}
		if !busy {
			break
		}
	}
	due := jobs.NextDue(&b.m, b.lots(), b.holds, b.values(), b.p, now)
	if !due.IsZero() && !due.After(now) {
		b.t.Fatalf("NextDue %s is not after now %s", due, now)
	}
	probes := []time.Time{now.Add(time.Second), now.AddDate(2, 0, 0)}
	if !due.IsZero() {
		probes = []time.Time{due.Add(-time.Second)}
	}
	for _, at := range b.boundaries() {
		for _, off := range []time.Duration{-time.Second, 0, time.Second} {
			probes = append(probes, at.Add(off))
		}
	}
	for _, at := range probes {
		if !at.After(now) || (!due.IsZero() && !at.Before(due)) {
			continue
		}
		c := b.clone()
		for _, j := range allJobs {
			if j.name == releaseJob.name {
				continue // no job's work: every read and write of the member applies it (AsOf)
			}
			if pl := j.plan(c, at); !pl.Empty() {
				b.t.Fatalf("NextDue at %s is %s, but %s has work at %s: %+v", now, due, j.name, at, pl)
			}
		}
	}
}
