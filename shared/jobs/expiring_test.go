package jobs_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
)

// ExpiringBy (the member view's "expiring soon") and Expire (the job) agree
// on which lots expire by when, inactivity deadlines included (issue #9, item
// 7: the member view looked at lot dates only, and showed nothing while every
// point was about to expire for inactivity).
func TestExpiringByAgreesWithTheExpiryJob(t *testing.T) {
	t0 := utc(2026, 11, 5, 12, 0, 0)
	at := func(days int) *time.Time { x := t0.AddDate(0, 0, days); return &x }
	lots := func() []*ledger.Entry {
		return []*ledger.Entry{
			{Seq: 1, Lot: ledger.Lot{State: ledger.LotAvailable, Remaining: 10, ExpiresAt: at(10)}},
			{Seq: 2, Lot: ledger.Lot{State: ledger.LotAvailable, Remaining: 20, ExpiresAt: at(40)}},
			{Seq: 3, Lot: ledger.Lot{State: ledger.LotPending, Remaining: 30, ExpiresAt: at(25)}},
			{Seq: 4, Lot: ledger.Lot{State: ledger.LotAvailable, Remaining: 40}}, // never expires by date
			{Seq: 5, Lot: ledger.Lot{State: ledger.LotReview, Remaining: 50, ExpiresAt: at(5)}},
			{Seq: 6, Lot: ledger.Lot{State: ledger.LotNone, ExpiresAt: at(5)}},
		}
	}
	for _, tc := range []struct {
		name       string
		inactivity int
		lastActive time.Time
		// within 30 days of t0: the seqs and why
		want map[int64]string
	}{
		{"dates only", 0, t0, map[int64]string{1: jobs.ReasonExpiry, 3: jobs.ReasonExpiry}},
		{"inactivity first, for every lot", 20, t0, map[int64]string{1: jobs.ReasonExpiry, 2: jobs.ReasonInactivity, 3: jobs.ReasonInactivity, 4: jobs.ReasonInactivity}},
		{"inactivity deadline beyond the window", 90, t0, map[int64]string{1: jobs.ReasonExpiry, 3: jobs.ReasonExpiry}},
		{"inactive for long already", 20, t0.AddDate(0, 0, -19), map[int64]string{1: jobs.ReasonInactivity, 2: jobs.ReasonInactivity, 3: jobs.ReasonInactivity, 4: jobs.ReasonInactivity}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := prog("Europe/Moscow")
			p.Expiry = program.Expiry{RollingDays: 365, InactivityDays: tc.inactivity}
			m := ledger.Member{PartnerID: "p", ID: "m", Status: ledger.StatusActive, CreatedAt: t0.AddDate(-1, 0, 0), LastActivity: tc.lastActive}
			got := map[int64]string{}
			for _, x := range jobs.ExpiringBy(&m, lots(), p, t0.AddDate(0, 0, 30)) {
				got[x.Lot.Seq] = x.Reason
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("expiring within 30 days: %v, want %v", got, tc.want)
			}
			// At every hour of the next 40 days, what the view says has
			// expired by then, and why, is what the job expires then (the
			// expire entry's lines follow the order of the lots it changes).
			for h := 0; h <= 40*24; h++ {
				now := t0.Add(time.Duration(h) * time.Hour)
				view := map[int64]string{}
				for _, x := range jobs.ExpiringBy(&m, lots(), p, now) {
					view[x.Lot.Seq] = x.Reason
				}
				job := map[int64]string{}
				if pl := jobs.Expire(&m, lots(), p, now, nil); len(pl.Entries) > 0 {
					for i, c := range pl.Lots {
						job[c.Entry.Seq] = pl.Entries[0].Breakdown[i].Rule
					}
				}
				if fmt.Sprint(view) != fmt.Sprint(job) {
					t.Fatalf("at %s the view says %v have expired, the job expires %v", now, view, job)
				}
			}
		})
	}
}
