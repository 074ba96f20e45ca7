package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/internal/ddbsim"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/rules"
	"github.com/accrue/accrue/shared/store"
)

// familyProgram: 1 point per 1.00, pending for 14 days, lots expiring after
// 365 days, transfers of at most 5000 points.
const familyProgram = `{
  "name": "Family", "auto_enroll": true, "pending_days": 14,
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 100}}],
  "expiry": {"rolling_days": 365},
  "point_value": {"minor": "1", "currency": "RUB"},
  "transfers": {"enabled": true, "max_points": 5000}
}`

// poolProgram: familyProgram without the pending period.
var poolProgram = strings.Replace(familyProgram, `"pending_days": 14,`, ``, 1)

// A transfer is one transaction on both members: the releases due on each
// are booked first (pending points whose time has come are available), the
// sender's lots are taken earliest expiry first, the receiver gets one lot
// expiring with the earliest of them, each ledger has a transfer entry naming
// the other, and the audit record is in the partner's trail and in both
// members' own.
func TestTransfer(t *testing.T) {
	clock := newStepClock()
	e := newEnv(t, map[string]string{"telco": familyProgram}, clock.option())
	ctx := context.Background()
	mustApply(t, e.st, pay("telco", "anna", "a1", 100000)) // 1000, pending, expires t0+365d
	clock.advance(24 * time.Hour)
	mustApply(t, e.st, pay("telco", "anna", "a2", 50000)) // 500, expires a day later
	mustApply(t, e.st, pay("telco", "boris", "b1", 30000))
	clock.advance(15 * 24 * time.Hour) // every lot's release has come, none booked

	res, err := e.st.Transfer(ctx, "telco", "anna", "boris", ledger.TransferRequest{Points: 1200, Reason: "family pot", Actor: "key_app"})
	if err != nil {
		t.Fatalf("transfer: %v", err)
	}
	if res.From.Available != 300 || res.From.Pending != 0 || res.To.Available != 1500 || res.To.Pending != 0 {
		t.Fatalf("balances after: from %+v, to %+v", res.From.Balances, res.To.Balances)
	}
	if res.From.Lifetime != 1500 || res.To.Lifetime != 300 {
		t.Fatalf("lifetime changed: %d, %d", res.From.Lifetime, res.To.Lifetime)
	}
	if countKind(t, e, "anna", ledger.KindRelease) != 1 || countKind(t, e, "boris", ledger.KindRelease) != 1 {
		t.Fatal("the releases due were not booked on both members")
	}
	out, in := res.Out, res.In
	if out.Points != -1200 || out.Counterpart != "boris" || out.CounterpartSeq != in.Seq || in.Counterpart != "anna" || in.CounterpartSeq != out.Seq {
		t.Fatalf("entries: out %+v, in %+v", out, in)
	}
	if want := t0.AddDate(0, 0, 365); in.ExpiresAt == nil || !in.ExpiresAt.Equal(want) || in.Remaining != 1200 {
		t.Fatalf("receiver's lot: %d expiring %v, want 1200 expiring %v (the earliest lot taken)", in.Remaining, in.ExpiresAt, want)
	}
	lots, err := e.st.Lots(ctx, "telco", "anna")
	if err != nil {
		t.Fatal(err)
	}
	if len(lots) != 1 || lots[0].PaymentID != "a2" || lots[0].Remaining != 300 {
		t.Fatalf("sender's lots left: %+v (the earliest expiring one goes first)", lots)
	}
	stored, err := e.st.Entries(ctx, "telco", "boris")
	if err != nil {
		t.Fatal(err)
	}
	if last := stored[len(stored)-1]; last.Kind != ledger.KindTransfer || last.Breakdown[0].Kind != rules.KindTransfer || last.Breakdown[0].Detail != "family pot" {
		t.Fatalf("receiver's stored entry %+v", last)
	}
	e.audit(t, "telco", "anna")
	e.audit(t, "telco", "boris")

	for _, member := range []string{"", "anna", "boris"} {
		page, err := e.st.AuditTrail(ctx, "telco", store.AuditQuery{MemberID: member, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var transfers []store.AuditRecord
		for _, r := range page.Items {
			if r.Action == store.AuditTransfer {
				transfers = append(transfers, r)
			}
		}
		if len(transfers) != 1 {
			t.Fatalf("audit trail of %q: %+v", member, page.Items)
		}
		r := transfers[0]
		if r.MemberID != "anna" || r.OtherMemberID != "boris" || r.Points != 1200 || r.Actor != "key_app" || r.Entry != out.Seq || r.OtherEntry != in.Seq || r.Reason != "family pot" {
			t.Fatalf("audit record (member %q) = %+v", member, r)
		}
	}
}

// A refused transfer writes nothing: the receiver missing (or another
// partner's), the sender missing, a member not active, transfers off, the
// points spread over more lots than a transaction holds.
func TestTransferRefused(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": poolProgram, "other": poolProgram, "off": testProgram})
	ctx := context.Background()
	mustApply(t, e.st, pay("telco", "anna", "a1", 100000))
	mustApply(t, e.st, pay("telco", "boris", "b1", 100))
	mustApply(t, e.st, pay("other", "olga", "o1", 100000))
	mustApply(t, e.st, pay("off", "anna", "x1", 1000000))
	mustApply(t, e.st, pay("off", "boris", "x2", 1000000))
	mustApply(t, e.st, pay("telco", "sam", "s1", 100))
	if _, err := e.st.UpdateMember(ctx, "telco", "sam", func(m *ledger.Member) error { m.Status = ledger.StatusSuspended; return nil }); err != nil {
		t.Fatal(err)
	}
	for i := range 95 { // 95 lots of one point each
		mustApply(t, e.st, pay("telco", "many", fmt.Sprint("m", i), 100))
	}
	cases := []struct {
		name, partner, from, to string
		points                  int64
		want                    error
	}{
		{"receiver missing", "telco", "anna", "nobody", 10, store.ErrOtherMemberNotFound},
		{"receiver of another partner", "telco", "anna", "olga", 10, store.ErrMemberNotFound},
		{"sender of another partner", "other", "anna", "olga", 10, store.ErrMemberNotFound},
		{"sender missing", "telco", "nobody", "anna", 10, store.ErrMemberNotFound},
		{"to itself", "telco", "anna", "anna", 10, ledger.ErrSameMember},
		{"suspended receiver", "telco", "anna", "sam", 10, ledger.ErrMemberInactive},
		{"suspended sender", "telco", "sam", "anna", 1, ledger.ErrMemberInactive},
		{"more than available", "telco", "boris", "anna", 2, ledger.ErrInsufficientPoints},
		{"over the maximum", "telco", "anna", "boris", 5001, ledger.ErrTransferLimit},
		{"transfers off", "off", "anna", "boris", 10, ledger.ErrTransfersDisabled},
		{"more lots than a transaction holds", "telco", "many", "anna", 95, ledger.ErrTransferLimit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tableText(t, e)
			_, err := e.st.Transfer(ctx, tc.partner, tc.from, tc.to, ledger.TransferRequest{Points: tc.points})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if after := tableText(t, e); after != before {
				t.Fatal("a refused transfer changed the table")
			}
		})
	}
	// The receiver missing is also a member not found (404 either way), and
	// says which.
	_, err := e.st.Transfer(ctx, "telco", "anna", "nobody", ledger.TransferRequest{Points: 1})
	if !errors.Is(err, store.ErrMemberNotFound) || !errors.Is(err, store.ErrOtherMemberNotFound) {
		t.Fatalf("err = %v", err)
	}
	// 90 of the 95 lots fit in one transfer.
	if _, err := e.st.Transfer(ctx, "telco", "many", "anna", ledger.TransferRequest{Points: 90}); err != nil {
		t.Fatalf("90 lots: %v", err)
	}
	e.audit(t, "telco", "many")
	e.audit(t, "telco", "anna")
}

// 30 concurrent operations on two members — transfers both ways and
// redemptions of the sender — against DynamoDB Local made to conflict the
// way DynamoDB does: every operation applies once or is refused for want of
// points, no balance goes below zero, no point appears or disappears (what
// both hold is what they earned minus what was redeemed), the invariants hold
// on both members, and each transfer is one entry on each side naming the
// other, and one audit record.
func TestConcurrentTransfersConflictingLikeDynamoDB(t *testing.T) {
	base := newEnv(t, map[string]string{"telco": poolProgram})
	for i := range 5 {
		mustApply(t, base.st, pay("telco", "anna", fmt.Sprint("a", i), 20000))  // 5 lots of 200
		mustApply(t, base.st, pay("telco", "boris", fmt.Sprint("b", i), 10000)) // 5 lots of 100
	}
	conflicts, err := ddbsim.NewConflicts(store.CreateTableInput(base.table))
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(dynamodb.New(base.client.Options(), conflicts.Option), base.table, store.WithClock(func() time.Time { return t0 }))
	// All of them meet on the same two member items: they apply one after
	// another, each after its conflicts; the deadline leaves room for a
	// loaded CI machine.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	const ops = 30
	var transfers, redeemed, refused atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range ops {
		wg.Go(func() {
			<-start
			for {
				var err error
				points := int64(40 + 7*(i%9))
				switch i % 5 {
				case 0, 1:
					_, err = st.Transfer(ctx, "telco", "anna", "boris", ledger.TransferRequest{Points: points, Actor: "k"})
				case 2, 3:
					_, err = st.Transfer(ctx, "telco", "boris", "anna", ledger.TransferRequest{Points: points, Actor: "k"})
				default:
					_, _, err = st.Redeem(ctx, "telco", "anna", ledger.RedeemRequest{Points: points, Capture: true})
				}
				switch {
				case errors.Is(err, store.ErrContention) && ctx.Err() == nil:
					continue // the client retries (with its Idempotency-Key)
				case errors.Is(err, ledger.ErrInsufficientPoints):
					refused.Add(1)
				case err != nil:
					t.Errorf("op %d: %v", i, err)
				case i%5 == 4:
					redeemed.Add(points)
				default:
					transfers.Add(1)
				}
				return
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	a, b := base.member(t, "telco", "anna"), base.member(t, "telco", "boris")
	if a.Available < 0 || b.Available < 0 || a.Available+b.Available != 1500-redeemed.Load() {
		t.Fatalf("anna %d + boris %d, want 1500 − %d redeemed", a.Available, b.Available, redeemed.Load())
	}
	base.audit(t, "telco", "anna")
	base.audit(t, "telco", "boris")
	var sent [2]int
	for i, m := range []string{"anna", "boris"} {
		es, err := base.st.Entries(ctx, "telco", m)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range es {
			if en.Kind != ledger.KindTransfer {
				continue
			}
			sent[i]++
			other, err := base.st.Entries(ctx, "telco", en.Counterpart)
			if err != nil {
				t.Fatal(err)
			}
			if o := other[en.CounterpartSeq-1]; o.Kind != ledger.KindTransfer || o.Points != -en.Points || o.Counterpart != m || o.CounterpartSeq != en.Seq {
				t.Fatalf("%s's entry %d names %s's entry %d: %+v", m, en.Seq, en.Counterpart, en.CounterpartSeq, o)
			}
		}
	}
	page, err := base.st.AuditTrail(ctx, "telco", store.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	records := 0
	for _, r := range page.Items {
		if r.Action == store.AuditTransfer {
			records++
		}
	}
	if int64(sent[0]) != transfers.Load() || int64(sent[1]) != transfers.Load() || int64(records) != transfers.Load() {
		t.Fatalf("%d transfers applied: %d and %d entries, %d audit records", transfers.Load(), sent[0], sent[1], records)
	}
	t.Logf("%d transfers, %d points redeemed, %d refused; conflicts: %+v", transfers.Load(), redeemed.Load(), refused.Load(), conflicts.Stats())
}

// Erasing a member who transferred points: its anonymous entries name
// nobody, the other member's entries of the transfers name it no more and
// lose their reason, and the audit records (in the partner's trail and in
// the other member's) name its anonymous id with the reason redacted. Then
// the other member is erased too: nothing names either any more.
func TestEraseAfterTransfers(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": poolProgram})
	ctx := context.Background()
	mustApply(t, e.st, pay("telco", "cust-anna", "a1", 100000))
	mustApply(t, e.st, pay("telco", "cust-boris", "b1", 100000))
	const reason = "for cust-anna's birthday"
	if _, err := e.st.Transfer(ctx, "telco", "cust-anna", "cust-boris", ledger.TransferRequest{Points: 100, Reason: reason, Actor: "k"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Transfer(ctx, "telco", "cust-boris", "cust-anna", ledger.TransferRequest{Points: 30, Reason: reason, Actor: "k"}); err != nil {
		t.Fatal(err)
	}
	anon, err := e.st.Erase(ctx, "telco", "cust-anna", "key_admin")
	if err != nil {
		t.Fatal(err)
	}
	if text := tableText(t, e); strings.Contains(text, "cust-anna") {
		i := strings.Index(text, "cust-anna")
		t.Fatalf("the erased id is left in the table: …%s…", text[max(i-300, 0):min(i+100, len(text))])
	}
	es, err := e.st.Entries(ctx, "telco", anon)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range es {
		if en.Kind == ledger.KindTransfer && (en.Counterpart != "" || en.Reason != "" || en.Breakdown[0].Detail != "") {
			t.Fatalf("anonymous transfer entry %+v", en)
		}
	}
	es, err = e.st.Entries(ctx, "telco", "cust-boris")
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range es {
		if en.Kind == ledger.KindTransfer && (en.Counterpart != ledger.ErasedCounterpart || en.Reason != "" || en.Breakdown[0].Detail != "" || en.CounterpartSeq == 0) {
			t.Fatalf("the other member's transfer entry after the erase: %+v", en)
		}
	}
	e.audit(t, "telco", anon)
	e.audit(t, "telco", "cust-boris")
	for _, member := range []string{"", "cust-boris", anon} {
		page, err := e.st.AuditTrail(ctx, "telco", store.AuditQuery{MemberID: member, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range page.Items {
			if r.Action != store.AuditTransfer {
				continue
			}
			n++
			if (r.MemberID != anon && r.OtherMemberID != anon) || r.Reason != store.RedactedReason {
				t.Fatalf("transfer record in the trail of %q after the erase: %+v", member, r)
			}
		}
		if n != 2 {
			t.Fatalf("%d transfer records in the trail of %q, want 2", n, member)
		}
	}

	if _, err := e.st.Erase(ctx, "telco", "cust-boris", "key_admin"); err != nil {
		t.Fatal(err)
	}
	if text := tableText(t, e); strings.Contains(text, "cust-") || strings.Contains(text, "birthday") {
		i := max(strings.Index(text, "cust-"), strings.Index(text, "birthday"))
		t.Fatalf("personal data left in the table: …%s…", text[max(i-300, 0):min(i+100, len(text))])
	}
}
