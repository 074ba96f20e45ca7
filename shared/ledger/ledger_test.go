package ledger

import (
	"errors"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/payment"
)

var now = time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC)

func at(days int) *time.Time { t := now.AddDate(0, 0, days); return &t }

// book is a member and every entry booked on it, for Check.
type book struct {
	m       Member
	entries []*Entry
}

func newBook() *book { return &book{m: NewMember("telco", "m", nil, now)} }

// earn books an earn entry of pts available points for payment id, then spends
// `spent` of them with a redemption entry (as a redemption would leave the lot).
func (b *book) earn(id string, amount, pts, spent int64, expires *time.Time) *Entry {
	d, lot := b.m.Credit(pts, LotAvailable)
	lot.ExpiresAt = expires
	e := &Entry{Kind: KindEarn, Points: pts, Delta: d, Lot: lot,
		PaymentRef: PaymentRef{PaymentID: id, AmountMinor: amount, Currency: "RUB"}}
	b.m.Apply(e)
	b.entries = append(b.entries, e)
	if spent > 0 {
		took, d := e.Lot.take(spent)
		r := &Entry{Kind: KindRedeem, Points: -took, Delta: d}
		b.m.Apply(r)
		b.entries = append(b.entries, r)
	}
	return e
}

func (b *book) check(t *testing.T, extra ...Entry) {
	t.Helper()
	var es []Entry
	for _, e := range b.entries {
		es = append(es, *e)
	}
	if err := Check(b.m, append(es, extra...)); err != nil {
		t.Fatal(err)
	}
}

func refundOf(id string, amount int64) payment.Payment {
	return payment.Payment{Type: payment.TypeRefunded, PaymentID: "r-" + id, RefundOf: id, AmountMinor: amount, Currency: "RUB"}
}

func TestReverse(t *testing.T) {
	cases := []struct {
		name string
		// setup returns the member, the refunded payment's entry and the other lots
		setup                           func(b *book) (*Entry, []*Entry)
		refund                          int64
		wantPoints, wantAvail, wantDebt int64
		wantOwn                         int64 // remaining of the original lot after
		wantOthers                      []int64
	}{
		{
			name:   "own lot untouched before: all from it",
			setup:  func(b *book) (*Entry, []*Entry) { return b.earn("p1", 1000, 10, 0, at(30)), nil },
			refund: 1000, wantPoints: -10, wantAvail: 0, wantOwn: 0,
		},
		{
			name: "own lot partly spent: rest from other lots, earliest expiry first",
			setup: func(b *book) (*Entry, []*Entry) {
				late := b.earn("late", 100, 5, 0, at(300))
				never := b.earn("never", 100, 5, 0, nil)
				early := b.earn("early", 100, 5, 0, at(10))
				own := b.earn("p1", 1000, 10, 7, at(30))
				return own, []*Entry{late, never, early}
			},
			refund: 1000, wantPoints: -10, wantAvail: 8, wantOwn: 0, wantOthers: []int64{3, 5, 0}, // early 5, late 2
		},
		{
			name:   "points already spent and nothing else left: debt",
			setup:  func(b *book) (*Entry, []*Entry) { return b.earn("p1", 1000, 10, 10, at(30)), nil },
			refund: 500, wantPoints: -5, wantAvail: -5, wantDebt: 5, wantOwn: 0,
		},
		{
			name:   "partial refund: floor of the proportional share",
			setup:  func(b *book) (*Entry, []*Entry) { return b.earn("p1", 129900, 12, 0, at(30)), nil },
			refund: 50000, wantPoints: -4, wantAvail: 8, wantOwn: 8,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBook()
			own, others := tc.setup(b)
			m := &b.m
			rev, err := Reverse(m, own, others, refundOf("p1", tc.refund), now)
			if err != nil {
				t.Fatal(err)
			}
			if rev.Entry.Points != tc.wantPoints || m.Available != tc.wantAvail || m.Debt != tc.wantDebt || own.Remaining != tc.wantOwn {
				t.Fatalf("points %d avail %d debt %d own %d; want %d %d %d %d",
					rev.Entry.Points, m.Available, m.Debt, own.Remaining, tc.wantPoints, tc.wantAvail, tc.wantDebt, tc.wantOwn)
			}
			for i, w := range tc.wantOthers {
				if others[i].Remaining != w {
					t.Fatalf("other lot %d (%s): remaining %d, want %d", i, others[i].PaymentID, others[i].Remaining, w)
				}
			}
			var sum int64
			for _, l := range rev.Entry.Breakdown {
				sum += l.Points
			}
			if sum != rev.Entry.Points {
				t.Fatalf("breakdown sums to %d, entry is %d", sum, rev.Entry.Points)
			}
			b.check(t, rev.Entry)
		})
	}
}

func TestDebtIsRepaidFirst(t *testing.T) {
	b := newBook()
	m := &b.m
	own := b.earn("p1", 1000, 10, 10, at(30))
	rev, err := Reverse(m, own, nil, refundOf("p1", 1000), now)
	if err != nil {
		t.Fatal(err)
	}
	b.check(t, rev.Entry)
	if m.Available != -10 || m.Debt != 10 {
		t.Fatalf("avail %d debt %d, want -10 and 10", m.Available, m.Debt)
	}
	// Pending points do not repay debt (they are not available yet).
	d, lot := m.Credit(4, LotPending)
	if d.Debt != 0 || lot.Remaining != 4 {
		t.Fatalf("pending credit: %+v %+v", d, lot)
	}
	// An available credit of 15 repays the 10 owed; its lot keeps 5.
	d, lot = m.Credit(15, LotAvailable)
	if d.Debt != -10 || d.Available != 15 || lot.Remaining != 5 {
		t.Fatalf("available credit: delta %+v lot %+v", d, lot)
	}
	// A credit that only partly repays leaves no lot.
	m2 := Member{Balances: Balances{Debt: 20, Available: -20}}
	d, lot = m2.Credit(5, LotAvailable)
	if d.Debt != -5 || lot.Remaining != 0 || lot.State != LotNone {
		t.Fatalf("partial repayment: delta %+v lot %+v", d, lot)
	}
}

func TestReverseErrorsAndReview(t *testing.T) {
	b := newBook()
	own := b.earn("p1", 1000, 10, 0, at(30))
	usd := refundOf("p1", 10)
	usd.Currency = "USD"
	if _, err := Reverse(&b.m, own, nil, usd, now); !errors.Is(err, ErrRefundCurrency) {
		t.Fatalf("currency: %v", err)
	}
	if _, err := Reverse(&b.m, own, nil, refundOf("p1", 1001), now); !errors.Is(err, ErrRefundExceeds) {
		t.Fatalf("exceeds: %v", err)
	}

	// Points held for review never counted in lifetime: reversing them leaves it.
	r := NewMember("telco", "r", nil, now)
	d, lot := r.Credit(10, LotReview)
	held := &Entry{Kind: KindEarn, Points: 10, Delta: d, Lot: lot, PaymentRef: PaymentRef{PaymentID: "p1", AmountMinor: 1000, Currency: "RUB"}}
	r.Apply(held)
	rev, err := Reverse(&r, held, nil, refundOf("p1", 1000), now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Review != 0 || r.Lifetime != 0 || r.Available != 0 || r.Debt != 0 {
		t.Fatalf("after reversing a held payment: %+v", r.Balances)
	}
	if err := Check(r, []Entry{*held, rev.Entry}); err != nil {
		t.Fatal(err)
	}
}

func TestCheckFindsBrokenInvariants(t *testing.T) {
	b := newBook()
	e := b.earn("p1", 1000, 10, 0, nil)
	m := b.m
	good := []Entry{*e}
	if err := Check(m, good); err != nil {
		t.Fatalf("consistent ledger: %v", err)
	}
	cases := map[string]func(m *Member, es []Entry){
		"balance changed without an entry": func(m *Member, es []Entry) { m.Available++ },
		"entry missing":                    func(m *Member, es []Entry) { m.Seq++ },
		"lot out of step with available":   func(m *Member, es []Entry) { es[0].Remaining-- },
		"negative lot":                     func(m *Member, es []Entry) { es[0].Remaining = -1 },
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			mm, es := m, append([]Entry(nil), good...)
			breakIt(&mm, es)
			if err := Check(mm, es); err == nil {
				t.Fatal("Check did not notice")
			}
		})
	}
}
