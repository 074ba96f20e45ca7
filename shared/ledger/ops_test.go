package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/program"
)

// opsProgram: rolling expiry 365 days, two tiers, an activity once-only and
// one repeatable, a point value of 0.5.
func opsProgram(t *testing.T) *program.Program {
	t.Helper()
	p, err := program.Parse([]byte(`{
	  "name": "Ops", "timezone": "UTC",
	  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 100}}],
	  "activities": [{"name": "autopay_enabled", "points": 300, "once": true}, {"name": "referral", "points": 50}],
	  "tiers": [{"name": "base", "threshold": 0, "multiplier": "1"}, {"name": "gold", "threshold": 1000, "multiplier": "2"}],
	  "qualifying_window_days": 365,
	  "expiry": {"rolling_days": 365},
	  "point_value": {"minor": "0.5", "currency": "RUB"}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// entries returns the book's entries plus extra, for Check.
func (b *book) all(extra ...Entry) []Entry {
	var es []Entry
	for _, e := range b.entries {
		es = append(es, *e)
	}
	return append(es, extra...)
}

func keyBySeq(e *Entry) string { return "lot-" + string(rune('0'+e.Seq)) }

func TestActivity(t *testing.T) {
	p := opsProgram(t)
	cases := []struct {
		name    string
		setup   func(b *book)
		act     string
		wantErr error
		want    int64
	}{
		{"credits a lot with the program's expiry", nil, "referral", nil, 50},
		{"repeatable twice", func(b *book) { _, _ = Activity(&b.m, p, "referral", now) }, "referral", nil, 50},
		{"once-only the second time", func(b *book) { _, _ = Activity(&b.m, p, "autopay_enabled", now) }, "autopay_enabled", ErrActivityDone, 0},
		{"unknown", nil, "moon_landing", ErrUnknownActivity, 0},
		{"suspended member", func(b *book) { b.m.Status = StatusSuspended }, "referral", ErrMemberInactive, 0},
		{"erasing member", func(b *book) { b.m.Status = StatusErasing }, "referral", ErrMemberInactive, 0},
		{"repays debt first", func(b *book) { b.m.Debt, b.m.Available = 20, -20 }, "referral", nil, 50},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBook()
			if tc.setup != nil {
				tc.setup(b)
			}
			before := b.m
			e, err := Activity(&b.m, p, tc.act, now.Add(time.Hour))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if b.m.Balances != before.Balances || b.m.Seq != before.Seq {
					t.Fatalf("a refused activity changed the member: %+v", b.m.Balances)
				}
				return
			}
			if e.Points != tc.want || e.Kind != KindBonus || len(e.Breakdown) != 1 || e.Breakdown[0].Rule != tc.act {
				t.Fatalf("entry %+v", e)
			}
			if e.ExpiresAt == nil && e.State != LotNone || e.ExpiresAt != nil && !e.ExpiresAt.Equal(now.Add(time.Hour).AddDate(0, 0, 365)) {
				t.Fatalf("lot expires at %v", e.ExpiresAt)
			}
			if !b.m.LastActivity.Equal(now.Add(time.Hour)) {
				t.Fatalf("last activity %v", b.m.LastActivity)
			}
		})
	}
}

func TestAdjust(t *testing.T) {
	p := opsProgram(t)
	cases := []struct {
		name     string
		points   int64
		wantErr  error
		wantLots [2]int64 // remaining of the later and the earlier expiring lot
	}{
		{"credit", 40, nil, [2]int64{100, 100}},
		{"debit takes the earliest expiring lot first", -30, nil, [2]int64{100, 70}},
		{"debit spills into the next lot", -150, nil, [2]int64{50, 0}},
		{"debit beyond available", -201, ErrInsufficientPoints, [2]int64{100, 100}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBook()
			later := b.earn("p1", 10000, 100, 0, at(300))
			earlier := b.earn("p2", 10000, 100, 0, at(10))
			lots := []*Entry{later, earlier} // key order is not expiry order
			e, takes, err := Adjust(&b.m, lots, p, Adjustment{Points: tc.points, Reason: "goodwill", Actor: "key_1"}, now, keyBySeq)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if later.Remaining != tc.wantLots[0] || earlier.Remaining != tc.wantLots[1] {
				t.Fatalf("lots %d/%d, want %v", later.Remaining, earlier.Remaining, tc.wantLots)
			}
			if err != nil {
				return
			}
			if e.Reason != "goodwill" || e.Actor != "key_1" || e.Kind != KindAdjust || e.Points != tc.points {
				t.Fatalf("entry %+v", e)
			}
			if tc.points < 0 && (e.Delta.Lifetime != 0 || len(takes) == 0 || takes[0].Lot != keyBySeq(earlier)) {
				t.Fatalf("debit: delta %+v, takes %+v", e.Delta, takes)
			}
			if err := Check(b.m, b.all(e)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRedeemCaptureCancel(t *testing.T) {
	p := opsProgram(t)
	stock := func(n int64) *int64 { return &n }
	cases := []struct {
		name    string
		reward  *Reward
		tier    string
		req     RedeemRequest
		wantErr error
		// after: what the member holds
		wantAvail, wantHeld int64
		wantValue           int64 // the bill credit's amount_minor (-1: no value)
	}{
		{"hold", nil, "", RedeemRequest{Points: 120}, nil, 80, 120, -1},
		{"capture at once", nil, "", RedeemRequest{Points: 120, Capture: true}, nil, 80, 0, -1},
		// 3 × 0.5 kopeck = 1.5: whole kopecks, rounded down.
		{"bill credit carries its money value", nil, "", RedeemRequest{Points: 3, As: AsBillCredit, Capture: true}, nil, 197, 0, 1},
		{"bill credit hold", nil, "", RedeemRequest{Points: 150, As: AsBillCredit}, nil, 50, 150, 75},
		{"too many points", nil, "", RedeemRequest{Points: 201}, ErrInsufficientPoints, 200, 0, -1},
		{"reward at its cost", &Reward{ID: "mug", Cost: 50, Stock: stock(1)}, "", RedeemRequest{RewardID: "mug"}, nil, 150, 50, -1},
		{"reward out of stock", &Reward{ID: "mug", Cost: 50, Stock: stock(0)}, "", RedeemRequest{RewardID: "mug"}, ErrOutOfStock, 200, 0, -1},
		{"reward above the tier", &Reward{ID: "vip", Cost: 50, MinTier: "gold"}, "base", RedeemRequest{RewardID: "vip"}, ErrTierTooLow, 200, 0, -1},
		{"reward within the tier", &Reward{ID: "vip", Cost: 50, MinTier: "gold"}, "gold", RedeemRequest{RewardID: "vip"}, nil, 150, 50, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBook()
			b.m.Rules.Tier = tc.tier
			later := b.earn("p1", 10000, 100, 0, at(300))
			earlier := b.earn("p2", 10000, 100, 0, at(10))
			lots := []*Entry{later, earlier}
			r, e, err := Redeem(&b.m, lots, tc.reward, p, tc.req, "rdm_1", now, keyBySeq)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if b.m.Available != tc.wantAvail || b.m.Held != tc.wantHeld {
				t.Fatalf("available %d held %d, want %d %d", b.m.Available, b.m.Held, tc.wantAvail, tc.wantHeld)
			}
			if err != nil {
				return
			}
			if r.Lots[0].Lot != keyBySeq(earlier) {
				t.Fatalf("took %+v first, want the earliest expiring lot", r.Lots)
			}
			switch {
			case tc.wantValue < 0 && r.Value != nil:
				t.Fatalf("value %+v, want none", r.Value)
			case tc.wantValue >= 0 && (r.Value == nil || r.Value.AmountMinor != tc.wantValue || r.Value.Currency != "RUB"):
				t.Fatalf("value %+v, want %d RUB", r.Value, tc.wantValue)
			}
			if !tc.req.Capture && (r.Status != RedemptionHeld || r.ExpiresAt == nil || !r.ExpiresAt.Equal(now.Add(DefaultHold)) || b.m.Due != now.Add(DefaultHold).Unix()) {
				t.Fatalf("hold %+v due %d", r, b.m.Due)
			}
			if err := Check(b.m, b.all(e)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSettleHold(t *testing.T) {
	hold := func(t *testing.T) (*book, Redemption, []Entry, map[string]*Entry) {
		p := opsProgram(t)
		b := newBook()
		later := b.earn("p1", 10000, 100, 0, at(300))
		earlier := b.earn("p2", 10000, 100, 0, at(10))
		r, e, err := Redeem(&b.m, []*Entry{later, earlier}, nil, p, RedeemRequest{Points: 150}, "rdm_1", now, keyBySeq)
		if err != nil {
			t.Fatal(err)
		}
		return b, r, []Entry{e}, map[string]*Entry{keyBySeq(later): later, keyBySeq(earlier): earlier}
	}
	t.Run("capture spends the held points", func(t *testing.T) {
		b, r, es, _ := hold(t)
		e, err := Capture(&b.m, &r, now.Add(time.Minute))
		if err != nil || r.Status != RedemptionCaptured || b.m.Held != 0 || b.m.Available != 50 {
			t.Fatalf("capture: %v %+v %+v", err, r, b.m.Balances)
		}
		if err := Check(b.m, b.all(append(es, e)...)); err != nil {
			t.Fatal(err)
		}
		if _, err := Capture(&b.m, &r, now); !errors.Is(err, ErrNotHeld) {
			t.Fatalf("second capture: %v", err)
		}
	})
	t.Run("capture after the hold's expiry", func(t *testing.T) {
		b, r, _, _ := hold(t)
		if _, err := Capture(&b.m, &r, now.Add(DefaultHold)); !errors.Is(err, ErrHoldExpired) || r.Status != RedemptionHeld {
			t.Fatalf("capture at expiry: %v %+v", err, r)
		}
	})
	t.Run("cancel gives the points back to their lots", func(t *testing.T) {
		b, r, es, lots := hold(t)
		e, err := Cancel(&b.m, &r, lots, now.Add(time.Minute))
		if err != nil || r.Status != RedemptionCancelled || b.m.Available != 200 || b.m.Held != 0 {
			t.Fatalf("cancel: %v %+v %+v", err, r, b.m.Balances)
		}
		if err := Check(b.m, b.all(append(es, e)...)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("cancel repays debt a refund created meanwhile", func(t *testing.T) {
		b, r, es, lots := hold(t)
		// A clawback of 80 points while held: the 50 available left go, and
		// 30 become debt (available −30).
		claw := Entry{Kind: KindReverse, Points: -80, Delta: Balances{Available: -80, Debt: 30, Lifetime: -80}}
		for _, l := range lots {
			l.Remaining, l.State = 0, LotNone
		}
		b.m.Apply(&claw)
		es = append(es, claw)
		e, err := Cancel(&b.m, &r, lots, now)
		if err != nil || b.m.Debt != 0 || b.m.Available != 120 {
			t.Fatalf("cancel: %v %+v", err, b.m.Balances)
		}
		if err := Check(b.m, b.all(append(es, e)...)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("cancel of a missing lot", func(t *testing.T) {
		b, r, _, _ := hold(t)
		if _, err := Cancel(&b.m, &r, map[string]*Entry{}, now); err == nil {
			t.Fatal("cancel without the hold's lots succeeded")
		}
	})
}

func TestReviewDecisions(t *testing.T) {
	p := opsProgram(t)
	held := func(b *book, pts int64, at time.Time) *Entry {
		d, lot := b.m.Credit(pts, LotReview)
		e := &Entry{Kind: KindEarn, At: at, Points: pts, Delta: d, Lot: lot, PaymentRef: PaymentRef{PaymentID: "big"}, HoldReasons: []string{"large_payment"}}
		b.m.Apply(e)
		b.entries = append(b.entries, e)
		return e
	}
	t.Run("approve releases to available and upgrades the tier", func(t *testing.T) {
		b := newBook()
		lot := held(b, 1200, now)
		e, err := Approve(&b.m, lot, p, "key_admin", now.Add(time.Hour))
		if err != nil || b.m.Available != 1200 || b.m.Review != 0 || b.m.Lifetime != 1200 || b.m.Rules.Tier != "gold" {
			t.Fatalf("approve: %v %+v tier %q", err, b.m.Balances, b.m.Rules.Tier)
		}
		if e.Actor != "key_admin" || e.PaymentID != "big" || len(e.HoldReasons) != 1 || e.Kind != KindRelease {
			t.Fatalf("entry %+v", e)
		}
		if err := Check(b.m, b.all(e)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("approve within the pending period makes the points pending", func(t *testing.T) {
		pp := *p
		pp.PendingDays = 14
		b := newBook()
		lot := held(b, 100, now)
		e, err := Approve(&b.m, lot, &pp, "k", now.AddDate(0, 0, 3))
		if err != nil || b.m.Pending != 100 || lot.AvailableAt == nil || !lot.AvailableAt.Equal(now.AddDate(0, 0, 14)) {
			t.Fatalf("approve: %v %+v %+v", err, b.m.Balances, lot.Lot)
		}
		if err := Check(b.m, b.all(e)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reject takes the held points back", func(t *testing.T) {
		b := newBook()
		lot := held(b, 100, now)
		e, err := Reject(&b.m, lot, "chargeback risk", "k", now)
		if err != nil || b.m.Review != 0 || b.m.Lifetime != 0 || e.Reason != "chargeback risk" || lot.State != LotNone {
			t.Fatalf("reject: %v %+v %+v", err, b.m.Balances, e)
		}
		if err := Check(b.m, b.all(e)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a lot no longer in review", func(t *testing.T) {
		b := newBook()
		lot := b.earn("p", 100, 100, 0, nil)
		if _, err := Approve(&b.m, lot, p, "k", now); !errors.Is(err, ErrNotInReview) {
			t.Fatalf("approve of an available lot: %v", err)
		}
		if _, err := Reject(&b.m, lot, "", "k", now); !errors.Is(err, ErrNotInReview) {
			t.Fatalf("reject of an available lot: %v", err)
		}
	})
}

// A bill credit is whole minor units of the point value's currency, rounded
// down once (money.Floor), whatever the currency's exponent: JPY has none, so
// 0.5 yen a point × 3 is 1 yen; KWD has three, and 0.5 fils × 3 is 1 fils
// (0.001 KWD). Nothing is spent when the value cannot be paid.
func TestBillCreditIsWholeMinorUnits(t *testing.T) {
	for _, c := range []struct {
		minor, currency string
		points, want    int64
		err             error
	}{
		{"0.5", "JPY", 3, 1, nil},
		{"0.5", "JPY", 4, 2, nil},
		{"1.999999999", "JPY", 1, 1, nil}, // never rounded up
		{"0.5", "KWD", 3, 1, nil},
		{"0.333333333", "EUR", 3, 0, nil}, // 0.999999999 cent
		{"0.333333333", "EUR", 100, 33, nil},
		{"12", "EUR", 7, 84, nil},
		{"999999999999.999999999", "RUB", 10_000_000, 0, ErrValueOutOfRange}, // 10^19 kopecks
	} {
		t.Run(fmt.Sprintf("%d × %s %s", c.points, c.minor, c.currency), func(t *testing.T) {
			p := opsProgram(t)
			p.PointValue = program.PointValue{Minor: program.MustRatio(c.minor), Currency: c.currency}
			b := newBook()
			lot := b.earn("p1", 10000, 100, 0, at(10))
			r, _, err := Redeem(&b.m, []*Entry{lot}, nil, p, RedeemRequest{Points: c.points, As: AsBillCredit, Capture: true}, "rdm_1", now, keyBySeq)
			if !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if err != nil {
				if b.m.Available != 100 || lot.Remaining != 100 {
					t.Fatalf("a refused bill credit spent points: available %d, lot %d", b.m.Available, lot.Remaining)
				}
				return
			}
			if r.Value == nil || r.Value.AmountMinor != c.want || r.Value.Currency != c.currency {
				t.Fatalf("value %+v, want %d %s", r.Value, c.want, c.currency)
			}
			b2, err := json.Marshal(r.Value)
			if err != nil || string(b2) != fmt.Sprintf(`{"amount_minor":%d,"currency":%q}`, c.want, c.currency) {
				t.Fatalf("JSON %s, %v: amount_minor must be a JSON integer", b2, err)
			}
		})
	}
}

// ReportedValue rounds half to even (a reported figure), where a bill credit
// rounds down (money paid out); beyond int64 it states nothing.
func TestReportedValue(t *testing.T) {
	p := &program.Program{PointValue: program.PointValue{Minor: program.MustRatio("0.5"), Currency: "JPY"}}
	for points, want := range map[int64]int64{0: 0, 1: 0, 3: 2, 5: 2, 7: 4, 100: 50} {
		v := ReportedValue(p, points)
		if v == nil || *v != (Money{AmountMinor: want, Currency: "JPY"}) {
			t.Errorf("%d points: %+v, want %d JPY", points, v, want)
		}
		if bc, _ := BillCreditValue(p, points); bc.AmountMinor != points/2 {
			t.Errorf("%d points: bill credit %d", points, bc.AmountMinor)
		}
	}
	huge := &program.Program{PointValue: program.PointValue{Minor: program.MustRatio("999999999999"), Currency: "JPY"}}
	if v := ReportedValue(huge, 1<<62); v != nil {
		t.Errorf("out of range: %+v", v)
	}
	if v := ReportedValue(&program.Program{}, 10); v != nil {
		t.Errorf("no point value: %+v", v)
	}
}
