package jobs_test

import (
	"testing"
	"time"

	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
)

// The jobs treat imported lots and qualifying points like earned ones: an
// imported lot is announced and expires at its date, a pending one is
// released at its time, and the qualifying points of history payments leave
// the tier window when those payments' points would have; at the import
// itself the planners find nothing to do (the import is consistent with them).
func TestImportedMemberUnderTheJobs(t *testing.T) {
	p := prog("Europe/Moscow")
	p.Expiry = program.Expiry{RollingDays: 365, WarnDays: 30}
	at := date(2026, 11, 5, 12, 0, 0, time.UTC)
	exp := date(2027, 1, 31, 21, 0, 0, time.UTC)
	avl := date(2026, 11, 20, 0, 0, 0, time.UTC)
	paid := date(2026, 3, 1, 9, 0, 0, time.UTC) // leaves the window 365 days later
	life := int64(9000)
	o := ledger.Opening{
		MemberID: "cust-42", Tier: "silver", Lifetime: &life, Qualifying: 300,
		Available: []ledger.OpeningLot{{Points: 500, ExpiresAt: &exp}},
		Pending:   []ledger.OpeningLot{{Points: 200, AvailableAt: &avl}},
		Payments: []ledger.HistoryPayment{{Points: 800, Payment: payment.Payment{Type: payment.TypeSucceeded,
			PaymentID: "old-1", Time: paid, AmountMinor: 100000, Currency: "RUB", Category: "telecom"}}},
	}
	m, es, err := ledger.Import("telco", p, o, "imp_1/2", at)
	if err != nil {
		t.Fatal(err)
	}
	lots := make([]*ledger.Entry, len(es))
	for i := range es {
		lots[i] = &es[i]
	}

	// At the import: nothing to do, and the window sums to what was set.
	if q := jobs.QualifyingInWindow(es, p, at); q != 1100 || q != m.Rules.Qualifying {
		t.Fatalf("qualifying in the window %d, member's %d, want 1100", q, m.Rules.Qualifying)
	}
	if pl := jobs.EvaluateTier(&m, p, jobs.QualifyingInWindow(es, p, at)); !pl.Empty() {
		t.Fatalf("tier plan at the import: %+v", pl.Tier)
	}
	if pl := jobs.Expire(&m, lots, p, at, func(*ledger.Entry, time.Time) bool { return false }); !pl.Empty() {
		t.Fatalf("expiry plan at the import: %+v", pl)
	}
	if pl := jobs.ReleasePending(&m, lots, p, at); !pl.Empty() {
		t.Fatalf("release plan at the import: %+v", pl)
	}

	// Due times: the lot's warning 30 days before its date, the pending
	// lot's release, the history payment's window exit.
	warn := exp.In(p.Location()).AddDate(0, 0, -30).UTC()
	if got := jobs.LotDue(&m, &es[0], p); !got.Equal(warn) {
		t.Errorf("imported lot due %v, want its warning %v", got, warn)
	}
	if got := jobs.ReleaseTime(&es[1]); !got.Equal(avl) {
		t.Errorf("pending lot releases %v, want %v", got, avl)
	}
	exit := jobs.TierDue(&m, &es[3], p)
	if wantExit := time.Unix(ledger.DueSecond(paid.In(p.Location()).AddDate(0, 0, 365).Add(time.Nanosecond)), 0).UTC(); !exit.Equal(wantExit) {
		t.Errorf("history entry leaves the window %v, want %v", exit, wantExit)
	}
	if d := jobs.TierDue(&m, &es[2], p); !d.Equal(time.Unix(ledger.DueSecond(at.In(p.Location()).AddDate(0, 0, 365).Add(time.Nanosecond)), 0).UTC()) {
		t.Errorf("opening qualifying entry leaves the window %v", d)
	}
	if d := jobs.TierDue(&m, &es[0], p); !d.IsZero() || es[0].Delta.Lifetime == 0 {
		t.Errorf("the lot's entry carrying the lifetime points (%d) has a window exit %v", es[0].Delta.Lifetime, d)
	}
	next := jobs.NextDue(&m, lots, nil, es, p, at)
	if !next.Equal(warn) {
		t.Errorf("next due %v, want the warning %v", next, warn)
	}

	// Release at its time, to the second.
	if pl := jobs.ReleasePending(&m, lots, p, avl.Add(-time.Second)); !pl.Empty() {
		t.Fatal("released a second early")
	}
	if pl := jobs.ReleasePending(&m, lots, p, avl); len(pl.Entries) != 1 || pl.Entries[0].Delta.Available != 200 {
		t.Fatalf("release at its time: %+v", pl)
	}
	// Warned, then expired at its date.
	if pl := jobs.Expire(&m, lots, p, warn, func(*ledger.Entry, time.Time) bool { return false }); len(pl.Warnings) != 1 || pl.Warnings[0].Lot != lots[0] {
		t.Fatalf("warning: %+v", pl)
	}
	if pl := jobs.Expire(&m, lots[:1], p, exp, func(*ledger.Entry, time.Time) bool { return true }); len(pl.Entries) != 1 || pl.Entries[0].Delta.Available != -500 {
		t.Fatalf("expiry at its date: %+v", pl)
	}
	// The history payment's points leave the window at their exit; the
	// import's own qualifying points stay: silver (1000) falls to bronze.
	if q := jobs.QualifyingInWindow(es, p, exit.Add(-time.Second)); q != 1100 {
		t.Errorf("a second before the exit: %d", q)
	}
	q := jobs.QualifyingInWindow(es, p, exit)
	if q != 300 {
		t.Fatalf("at the exit: %d, want 300", q)
	}
	if pl := jobs.EvaluateTier(&m, p, q); pl.Tier == nil || pl.Tier.To != "bronze" || !pl.Tier.Changed {
		t.Fatalf("tier at the exit: %+v", pl.Tier)
	}
}
