package memberjobs_test

import (
	"testing"
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
)

// The member jobs treat an imported member's lots and qualifying points like
// earned ones, through the due index the import set: nothing is due before
// the warning; the lot is announced at its warning, expired at its date; the
// pending lot counts as available from its time and is booked by the visit;
// the history payment's qualifying points leave the window when theirs would
// (silver falls to base); and the member is visited only then.
func TestImportedMemberUnderTheJobs(t *testing.T) {
	e := newEnv(t, jobsProgram)
	p, err := e.st.Program(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	at := e.now()
	exp := at.AddDate(0, 0, 20)
	avl := at.AddDate(0, 0, 3)
	paid := at.AddDate(0, 0, -25) // in the 30-day window for 5 more days
	life := int64(1000)
	o := ledger.Opening{MemberID: "imp", Lifetime: &life, Qualifying: 20,
		Available: []ledger.OpeningLot{{Points: 300, ExpiresAt: &exp}},
		Pending:   []ledger.OpeningLot{{Points: 40, AvailableAt: &avl}},
		Payments: []ledger.HistoryPayment{{Points: 150, Payment: payment.Payment{Type: payment.TypeSucceeded, PaymentID: "old",
			Time: paid, AmountMinor: 15000, Currency: "RUB", Category: "telecom"}}}}
	if _, err := e.st.ImportMember(t.Context(), "acme", p, o, "imp_t/1", at); err != nil {
		t.Fatal(err)
	}
	if m := e.member(t, "imp"); m.Rules.Tier != "silver" || m.Rules.Qualifying != 170 {
		t.Fatalf("imported: tier %q, qualifying %d", m.Rules.Tier, m.Rules.Qualifying)
	}

	e.set(at.Add(time.Hour))
	if rep := e.jobs(t, "imp"); rep.Members != 0 {
		t.Fatalf("an hour after the import: %+v", rep)
	}
	// The pending lot counts as available from its time, without a visit.
	e.set(avl)
	if m := e.asOf(t, "imp"); m.Available != 340 || m.Pending != 0 {
		t.Fatalf("at the release time: %+v", m.Balances)
	}
	// The history payment leaves the window: the tier falls; the visit also
	// books the pending lot's release.
	e.set(paid.In(msk).AddDate(0, 0, 30).Add(time.Second))
	rep := e.jobs(t, "imp")
	m := e.member(t, "imp")
	if rep.TierChanges != 1 || m.Rules.Tier != "base" || m.Rules.Qualifying != 20 || m.Pending != 0 || m.Available != 340 {
		t.Fatalf("at the window exit: %+v, member %+v", rep, m)
	}
	// The warning 7 days before the lot's date, then its expiry.
	e.set(exp.In(msk).AddDate(0, 0, -7))
	if rep := e.jobs(t, "imp"); rep.Warnings != 1 {
		t.Fatalf("at the warning: %+v", rep)
	}
	e.set(exp)
	if rep := e.jobs(t, "imp"); rep.Expired != 300 {
		t.Fatalf("at the expiry: %+v", rep)
	}
	if m := e.member(t, "imp"); m.Available != 40 || m.Lifetime != 1000 {
		t.Fatalf("after the expiry: %+v", m.Balances)
	}
}
