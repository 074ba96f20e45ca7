package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/store"
)

// gdprProgram: 1 point per 100.00, a 2-period streak bonus of 50, payments of
// 10000.00 or more held for review.
const gdprProgram = `{
  "name": "GDPR", "auto_enroll": true,
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 10000}}],
  "streaks": [{"id": "two", "periods": 2, "bonus": 50}],
  "fraud": {"large_payment_minor": {"RUB": 1000000}},
  "point_value": {"minor": "1", "currency": "RUB"}
}`

// personal is the string every personal datum of the seeded member contains:
// member id, tags, payment / event / subscription ids, adjustment reason.
const personal = "ivan"

func recurringPay(partner, member, id, period, due string) payment.Payment {
	p := pay(partner, member, id, 100000)
	p.Recurring = &payment.Recurring{SubscriptionID: "plan-ivan", Period: period, DueDate: due}
	return p
}

// seedPersonal gives a member every kind of item: tags, recurring payments
// with a streak bonus, a partial refund, an adjustment with a reason, an open
// hold, a captured redemption and a payment held for review. It returns the
// member and the open hold's id.
func seedPersonal(t *testing.T, e *env, partner, member string) (ledger.Member, string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.st.Enroll(ctx, partner, member, []string{"vip", "ivan-tag"}); err != nil {
		t.Fatal(err)
	}
	mustApply(t, e.st, recurringPay(partner, member, "pay-ivan-1", "2026-11", "2026-11-10")) // 10
	mustApply(t, e.st, recurringPay(partner, member, "pay-ivan-2", "2026-12", "2026-12-10")) // 10 + 50
	mustApply(t, e.st, refund(partner, member, "ref-ivan-1", "pay-ivan-1", 50000))           // −5
	if _, _, err := e.st.Adjust(ctx, partner, member, ledger.Adjustment{Points: 7, Reason: "goodwill for Ivan Petrov", Actor: "key_admin"}); err != nil {
		t.Fatal(err)
	}
	red, _, err := e.st.Redeem(ctx, partner, member, ledger.RedeemRequest{Points: 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.st.Redeem(ctx, partner, member, ledger.RedeemRequest{Points: 5, Capture: true}); err != nil {
		t.Fatal(err)
	}
	mustApply(t, e.st, pay(partner, member, "pay-ivan-big", 2000000)) // 200 held
	m := e.member(t, partner, member)
	if m.Available != 47 || m.Held != 20 || m.Review != 200 {
		t.Fatalf("seeded member: %+v", m.Balances)
	}
	e.audit(t, partner, member)
	return m, red.ID
}

func memberPartition(partner, member string) string { return "P#" + partner + "#M#" + member }

// tableText renders every item of the table as JSON, lower case.
func tableText(t *testing.T, e *env) string {
	t.Helper()
	var b strings.Builder
	p := dynamodb.NewScanPaginator(e.client, &dynamodb.ScanInput{TableName: aws.String(e.table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			var v map[string]any
			if err := attributevalue.UnmarshalMap(it, &v); err != nil {
				t.Fatal(err)
			}
			js, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(js)
			b.WriteByte('\n')
		}
	}
	return strings.ToLower(b.String())
}

func TestExport(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": gdprProgram})
	m, rid := seedPersonal(t, e, "telco", "cust-ivan")
	x, err := e.st.Export(context.Background(), "telco", "cust-ivan")
	if err != nil {
		t.Fatal(err)
	}
	if x.MemberID != "cust-ivan" || x.PartnerID != "telco" || x.Status != ledger.StatusActive || x.Balances != m.Balances ||
		len(x.Tags) != 2 || x.Tags[1] != "ivan-tag" || !x.CreatedAt.Equal(m.CreatedAt) || len(x.Rules.Streaks) != 1 {
		t.Fatalf("export = %+v", x)
	}
	if int64(len(x.Entries)) != m.Seq || x.Entries[0].PaymentID != "pay-ivan-1" || x.Entries[len(x.Entries)-1].PaymentID != "pay-ivan-big" {
		t.Fatalf("export has %d entries, member seq %d: %+v", len(x.Entries), m.Seq, x.Entries)
	}
	if len(x.Redemptions) != 2 || (x.Redemptions[0].ID != rid && x.Redemptions[1].ID != rid) {
		t.Fatalf("export redemptions = %+v", x.Redemptions)
	}
	if len(x.Review) != 1 || x.Review[0].PaymentID != "pay-ivan-big" || x.Review[0].ID == "" {
		t.Fatalf("export review items = %+v", x.Review)
	}
	js, err := json.Marshal(x)
	if err != nil || !strings.Contains(string(js), `"member_id":"cust-ivan"`) {
		t.Fatalf("export JSON: %v %s", err, js)
	}
	if _, err := e.st.Export(context.Background(), "telco", "nobody"); !errors.Is(err, store.ErrMemberNotFound) {
		t.Fatalf("export of an unknown member: err = %v", err)
	}
}

// checkErased verifies a finished erasure of member into anon.
func checkErased(t *testing.T, e *env, partner, member, anon string, before ledger.Member) {
	t.Helper()
	ctx := context.Background()
	if !strings.HasPrefix(anon, store.AnonPrefix) || anon == store.AnonPrefix {
		t.Fatalf("anonymous id %q", anon)
	}
	if _, err := e.st.Member(ctx, partner, member); !errors.Is(err, store.ErrMemberNotFound) {
		t.Fatalf("original member after erase: err = %v", err)
	}
	if left := partitionItems(t, e, memberPartition(partner, member)); len(left) != 0 {
		t.Fatalf("%d items left in the original partition: %v", len(left), left)
	}
	am := e.member(t, partner, anon)
	if am.Status != ledger.StatusErased || am.Balances != before.Balances || am.Seq != before.Seq ||
		am.Rules.Tags != nil || am.Rules.Tier != "" || am.Rules.Streaks != nil || am.Activities != nil ||
		!am.CreatedAt.Equal(before.CreatedAt) || !am.LastActivity.Equal(before.LastActivity) {
		t.Fatalf("anonymous member = %+v, before %+v", am, before)
	}
	e.audit(t, partner, anon)
	es, err := e.st.Entries(ctx, partner, anon)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range es {
		if en.MemberID != anon || en.PaymentID != "" || en.EventID != "" || en.RefundOf != "" || en.Recurring != nil || en.Reason != "" {
			t.Fatalf("entry %d keeps personal data: %+v", en.Seq, en)
		}
	}
}

func TestErase(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": gdprProgram})
	ctx := context.Background()
	before, rid := seedPersonal(t, e, "telco", "cust-ivan")
	if !strings.Contains(tableText(t, e), personal) {
		t.Fatal("the seeded data should contain the personal marker")
	}
	anon, err := e.st.Erase(ctx, "telco", "cust-ivan", "key_admin")
	if err != nil {
		t.Fatalf("erase: %v", err)
	}
	checkErased(t, e, "telco", "cust-ivan", anon, before)
	if text := tableText(t, e); strings.Contains(text, personal) {
		i := strings.Index(text, personal)
		t.Fatalf("personal data left in the table: …%s…", text[max(i-200, 0):min(i+100, len(text))])
	}
	es, err := e.st.Entries(ctx, "telco", anon)
	if err != nil {
		t.Fatal(err)
	}
	if first := es[0]; first.Kind != ledger.KindEarn || first.AmountMinor != 100000 || first.Currency != "RUB" || first.Category != "telecom" || first.PaidAt.IsZero() {
		t.Fatalf("an anonymised payment entry keeps amount, currency, category and time: %+v", first.PaymentRef)
	}

	// The audit trail names only the anonymous member; the erasure is in it.
	var erased bool
	for _, r := range auditTrail(t, e, "telco") {
		if r.MemberID != anon {
			t.Fatalf("audit record of %q after erase: %+v", r.MemberID, r)
		}
		switch r.Action {
		case store.AuditMemberErase:
			erased = r.Actor == "key_admin"
		case "adjust":
			if r.Reason != store.RedactedReason || r.Points != 7 || r.Actor != "key_admin" {
				t.Fatalf("adjust audit record after erase: %+v", r)
			}
		}
	}
	if !erased {
		t.Fatal("no member.erase audit record")
	}

	// Held points stay decidable, the open hold cancellable: the ledger works.
	it := onlyReviewItem(t, e.st, "telco")
	if it.MemberID != anon || it.PaymentID != "" || it.EventID != "" {
		t.Fatalf("review item after erase: %+v", it)
	}
	if _, _, err := e.st.Approve(ctx, "telco", it.ID, "key_admin"); err != nil {
		t.Fatalf("approve after erase: %v", err)
	}
	if _, _, err := e.st.Cancel(ctx, "telco", anon, rid); err != nil {
		t.Fatalf("cancel an open hold after erase: %v", err)
	}
	if am := e.member(t, "telco", anon); am.Available != 47+200+20 || am.Held != 0 {
		t.Fatalf("anonymous member after approve and cancel: %+v", am.Balances)
	}
	e.audit(t, "telco", anon)

	// Erasing again: the original id is gone; the anonymous one is already erased.
	if _, err := e.st.Erase(ctx, "telco", "cust-ivan", "key_admin"); !errors.Is(err, store.ErrMemberNotFound) {
		t.Fatalf("second erase: err = %v", err)
	}
	if again, err := e.st.Erase(ctx, "telco", anon, "key_admin"); err != nil || again != anon {
		t.Fatalf("erase of the anonymous member = %q, %v", again, err)
	}
	if _, err := e.st.Export(ctx, "telco", "cust-ivan"); !errors.Is(err, store.ErrMemberNotFound) {
		t.Fatalf("export after erase: err = %v", err)
	}
	// The erased id never comes back (issue #9, item 2): neither a later
	// payment nor an enrolment creates a member under it.
	if _, err := e.st.Apply(ctx, pay("telco", "cust-ivan", "pay-new", 100000)); !errors.Is(err, store.ErrMemberErased) {
		t.Fatalf("payment after erase: err = %v, want ErrMemberErased", err)
	}
	if _, err := e.st.Enroll(ctx, "telco", "cust-ivan", nil); !errors.Is(err, store.ErrMemberErased) {
		t.Fatalf("enrol after erase: err = %v, want ErrMemberErased", err)
	}
	if erased, err := e.st.Erased(ctx, "telco", "cust-ivan"); err != nil || !erased {
		t.Fatalf("Erased = %v, %v", erased, err)
	}
	if _, err := e.st.Member(ctx, "telco", "cust-ivan"); !errors.Is(err, store.ErrMemberNotFound) {
		t.Fatalf("member after erase: %v", err)
	}
	e.audit(t, "telco", anon)
}

// crashingDB fails the TransactWriteItems calls crash picks, as a process
// dying at that point would; everything else reaches DynamoDB Local.
type crashingDB struct {
	*dynamodb.Client
	crash func(*dynamodb.TransactWriteItemsInput) bool
}

var errCrash = errors.New("injected crash")

func (c crashingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if c.crash(in) {
		return nil, errCrash
	}
	return c.Client.TransactWriteItems(ctx, in, opts...)
}

func hasDelete(in *dynamodb.TransactWriteItemsInput, sk string) bool {
	for _, it := range in.TransactItems {
		if it.Delete == nil {
			continue
		}
		if v, ok := it.Delete.Key["sk"].(*types.AttributeValueMemberS); sk == "" || (ok && v.Value == sk) {
			return true
		}
	}
	return false
}

func TestEraseResumesAfterCrash(t *testing.T) {
	cases := []struct {
		name  string
		crash func(*dynamodb.TransactWriteItemsInput) bool
		// left: the items still in the original partition after the crash (-1: all)
		left int
	}{
		{"after the copy, before any delete", func(in *dynamodb.TransactWriteItemsInput) bool { return hasDelete(in, "") }, -1},
		{"before the last step", func(in *dynamodb.TransactWriteItemsInput) bool { return hasDelete(in, "MEMBER") }, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, map[string]string{"telco": gdprProgram})
			ctx := context.Background()
			before, _ := seedPersonal(t, e, "telco", "cust-ivan")
			all := len(partitionItems(t, e, memberPartition("telco", "cust-ivan")))
			crashing := store.New(crashingDB{Client: e.client, crash: tc.crash}, e.table)
			if _, err := crashing.Erase(ctx, "telco", "cust-ivan", "key_admin"); !errors.Is(err, errCrash) {
				t.Fatalf("erase with a crash: err = %v", err)
			}
			// Half-way: the member is marked and refuses new points.
			m := e.member(t, "telco", "cust-ivan")
			if m.Status != ledger.StatusErasing || m.Balances != before.Balances {
				t.Fatalf("member after the crash: %s %+v", m.Status, m.Balances)
			}
			left := partitionItems(t, e, memberPartition("telco", "cust-ivan"))
			if want := tc.left; (want < 0 && len(left) != all+1) || (want >= 0 && len(left) != want) {
				t.Fatalf("%d items left in the original partition (of %d + marker)", len(left), all)
			}
			var marker struct {
				Anon string `dynamodbav:"anon"`
			}
			for _, it := range left {
				if it["sk"].(*types.AttributeValueMemberS).Value == "ERASE" {
					if err := attributevalue.UnmarshalMap(it, &marker); err != nil {
						t.Fatal(err)
					}
				}
			}
			if copies := partitionItems(t, e, memberPartition("telco", marker.Anon)); marker.Anon == "" || len(copies) != all-1 {
				t.Fatalf("anonymous copies: %d items under %q, want %d", len(copies), marker.Anon, all-1)
			}
			if _, err := e.st.Apply(ctx, pay("telco", "cust-ivan", "pay-during", 100000)); !errors.Is(err, ledger.ErrMemberInactive) {
				t.Fatalf("payment while erasing: err = %v", err)
			}
			if _, _, err := e.st.Redeem(ctx, "telco", "cust-ivan", ledger.RedeemRequest{Points: 1}); !errors.Is(err, ledger.ErrMemberInactive) {
				t.Fatalf("redemption while erasing: err = %v", err)
			}

			anon, err := e.st.Erase(ctx, "telco", "cust-ivan", "key_admin")
			if err != nil {
				t.Fatalf("resumed erase: %v", err)
			}
			if anon != marker.Anon {
				t.Fatalf("resumed erase made %q, started as %q", anon, marker.Anon)
			}
			checkErased(t, e, "telco", "cust-ivan", anon, before)
			if text := tableText(t, e); strings.Contains(text, personal) {
				t.Fatal("personal data left after a resumed erase")
			}
		})
	}
}

// Writers that do not check the member's status (here: adjustments) run
// during the erasure: every change they commit ends up on the anonymous
// member, and its invariants hold.
func TestEraseWithConcurrentWriters(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": gdprProgram})
	ctx := context.Background()
	for i := range 5 {
		mustApply(t, e.st, pay("telco", "m", fmt.Sprintf("p%d", i), 100000)) // 5 × 10
	}
	var credited atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range 8 {
				_, _, err := e.st.Adjust(ctx, "telco", "m", ledger.Adjustment{Points: 1, Reason: fmt.Sprintf("writer %d", w), Actor: "k"})
				time.Sleep(time.Duration(20+20*w) * time.Millisecond)
				switch {
				case err == nil:
					credited.Add(1)
				case errors.Is(err, store.ErrMemberNotFound):
					return
				default:
					t.Errorf("adjust: %v", err)
					return
				}
			}
		}()
	}
	close(start)
	anon, err := e.st.Erase(ctx, "telco", "m", "key_admin")
	wg.Wait()
	if err != nil {
		t.Fatalf("erase: %v", err)
	}
	if left := partitionItems(t, e, memberPartition("telco", "m")); len(left) != 0 {
		t.Fatalf("%d items left in the original partition", len(left))
	}
	am := e.member(t, "telco", anon)
	if am.Available != 50+credited.Load() || am.Seq != 5+credited.Load() {
		t.Fatalf("anonymous member: available %d seq %d; %d adjustments committed", am.Available, am.Seq, credited.Load())
	}
	e.audit(t, "telco", anon)
	n := 0
	for _, r := range auditTrail(t, e, "telco") {
		if r.MemberID != anon {
			t.Fatalf("audit record names %q", r.MemberID)
		}
		if r.Action == "adjust" {
			n++
		}
	}
	if int64(n) != credited.Load() {
		t.Fatalf("%d adjust audit records, %d adjustments", n, credited.Load())
	}
	t.Logf("%d adjustments committed before the erasure finished", credited.Load())
}

// hookDB runs each hook once, before the first TransactWriteItems call its
// when picks, then lets the call through: a writer committing at that point.
type hookDB struct {
	*dynamodb.Client
	mu    sync.Mutex
	hooks []*hook
}

type hook struct {
	when func(*dynamodb.TransactWriteItemsInput) bool
	run  func()
	done bool
}

func (h *hookDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	h.mu.Lock()
	for _, k := range h.hooks {
		if !k.done && k.when(in) {
			k.done = true
			k.run()
		}
	}
	h.mu.Unlock()
	return h.Client.TransactWriteItems(ctx, in, opts...)
}

// A change committed between the copy and the deletes, or just before the
// last step, is not lost: the fenced step fails and the move starts again.
func TestEraseFencesConcurrentChanges(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": gdprProgram})
	ctx := context.Background()
	before, rid := seedPersonal(t, e, "telco", "cust-ivan")
	var moveHits, finishHits int
	db := &hookDB{Client: e.client, hooks: []*hook{
		{ // the first delete chunk of the move: a hold is cancelled (lots, redemption, member change)
			when: func(in *dynamodb.TransactWriteItemsInput) bool { return hasDelete(in, "") && !hasDelete(in, "MEMBER") },
			run: func() {
				moveHits++
				if _, _, err := e.st.Cancel(ctx, "telco", "cust-ivan", rid); err != nil {
					t.Errorf("cancel during the move: %v", err)
				}
			},
		},
		{ // the last step: an adjustment adds an entry and an audit record
			when: func(in *dynamodb.TransactWriteItemsInput) bool { return hasDelete(in, "MEMBER") },
			run: func() {
				finishHits++
				if _, _, err := e.st.Adjust(ctx, "telco", "cust-ivan", ledger.Adjustment{Points: 3, Reason: "late", Actor: "k"}); err != nil {
					t.Errorf("adjust before the last step: %v", err)
				}
			},
		},
	}}
	st := store.New(db, e.table)
	anon, err := st.Erase(ctx, "telco", "cust-ivan", "key_admin")
	if err != nil {
		t.Fatal(err)
	}
	if moveHits != 1 || finishHits != 1 {
		t.Fatalf("hooks ran %d and %d times, want once each", moveHits, finishHits)
	}
	am := e.member(t, "telco", anon)
	if am.Held != 0 || am.Available != before.Available+20+3 || am.Seq != before.Seq+2 {
		t.Fatalf("anonymous member %+v seq %d; before %+v seq %d", am.Balances, am.Seq, before.Balances, before.Seq)
	}
	e.audit(t, "telco", anon)
	red, err := e.st.Redemption(ctx, "telco", anon, rid)
	if err != nil || red.Status != ledger.RedemptionCancelled {
		t.Fatalf("the hold cancelled during the erasure: %+v %v", red, err)
	}
	if left := partitionItems(t, e, memberPartition("telco", "cust-ivan")); len(left) != 0 {
		t.Fatalf("%d items left in the original partition", len(left))
	}
}

// Members with more items than one transaction holds.
func TestEraseManyItems(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": gdprProgram})
	ctx := context.Background()
	const n = 230
	for i := range n {
		mustApply(t, e.st, pay("telco", "ivan", fmt.Sprintf("pay-ivan-%03d", i), 100000))
	}
	before := e.member(t, "telco", "ivan")
	anon, err := e.st.Erase(ctx, "telco", "ivan", "key_admin")
	if err != nil {
		t.Fatal(err)
	}
	checkErased(t, e, "telco", "ivan", anon, before)
	if am := e.member(t, "telco", anon); am.Available != 10*n {
		t.Fatalf("anonymous member available %d", am.Available)
	}
	if strings.Contains(tableText(t, e), personal) {
		t.Fatal("personal data left")
	}
}

// Concurrent erasures of one member make one anonymous member.
func TestConcurrentErase(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": gdprProgram})
	before, _ := seedPersonal(t, e, "telco", "cust-ivan")
	anons := make([]string, 4)
	errs := make([]error, len(anons))
	var wg sync.WaitGroup
	for i := range anons {
		wg.Add(1)
		go func() {
			defer wg.Done()
			anons[i], errs[i] = e.st.Erase(context.Background(), "telco", "cust-ivan", "key_admin")
		}()
	}
	wg.Wait()
	anon := ""
	for i, err := range errs {
		switch {
		case err == nil && (anon == "" || anon == anons[i]):
			anon = anons[i]
		case errors.Is(err, store.ErrMemberNotFound): // started after another call had finished
		default:
			t.Fatalf("erase %d: %q, %v (others: %q)", i, anons[i], err, anons)
		}
	}
	if anon == "" {
		t.Fatalf("no erasure succeeded: %v", errs)
	}
	checkErased(t, e, "telco", "cust-ivan", anon, before)
	n := 0
	for _, it := range partitionItems(t, e, "P#telco#REVIEW") {
		if it["member"].(*types.AttributeValueMemberS).Value != anon {
			t.Fatalf("review item of %v", it["member"])
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d review items, want 1", n)
	}
}

// An Erase call that stalls before its first copy, while another call
// finishes the erasure and an admin decides the held points on the anonymous
// member, writes nothing stale when it wakes: its copies are fenced.
func TestEraseStaleCallFenced(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": gdprProgram})
	ctx := context.Background()
	before, _ := seedPersonal(t, e, "telco", "cust-ivan")
	var other string
	copies := func(in *dynamodb.TransactWriteItemsInput) bool {
		for _, it := range in.TransactItems {
			if it.Put != nil && strings.HasPrefix(it.Put.Item["pk"].(*types.AttributeValueMemberS).Value, "P#telco#M#"+store.AnonPrefix) {
				return true
			}
		}
		return false
	}
	db := &hookDB{Client: e.client, hooks: []*hook{{when: copies, run: func() {
		var err error
		if other, err = e.st.Erase(ctx, "telco", "cust-ivan", "other_admin"); err != nil {
			t.Errorf("the other erase: %v", err)
			return
		}
		if _, _, err := e.st.Reject(ctx, "telco", onlyReviewItem(t, e.st, "telco").ID, "k", "no"); err != nil {
			t.Errorf("reject on the anonymous member: %v", err)
		}
	}}}}
	anon, err := store.New(db, e.table).Erase(ctx, "telco", "cust-ivan", "key_admin")
	if err != nil || anon != other {
		t.Fatalf("stalled erase = %q, %v; the other made %q", anon, err, other)
	}
	am := e.member(t, "telco", anon)
	if am.Review != 0 || am.Seq != before.Seq+1 {
		t.Fatalf("anonymous member after the stale call: %+v seq %d", am.Balances, am.Seq)
	}
	e.audit(t, "telco", anon)
	if q := reviewQueueAll(t, e.st, "telco"); len(q) != 0 {
		t.Fatalf("a decided review item came back: %+v", q)
	}
}

func TestErasePartnerIsolation(t *testing.T) {
	e := newEnv(t, map[string]string{"alpha": gdprProgram, "beta": gdprProgram})
	ctx := context.Background()
	before, _ := seedPersonal(t, e, "alpha", "cust-ivan")
	betaBefore, _ := seedPersonal(t, e, "beta", "cust-ivan")
	mustApply(t, e.st, pay("alpha", "only-alpha", "p1", 100000))
	if _, err := e.st.Erase(ctx, "beta", "only-alpha", "beta_admin"); !errors.Is(err, store.ErrMemberNotFound) {
		t.Fatalf("beta erasing alpha's member: err = %v", err)
	}
	if _, err := e.st.Export(ctx, "beta", "only-alpha"); !errors.Is(err, store.ErrMemberNotFound) {
		t.Fatalf("beta exporting alpha's member: err = %v", err)
	}
	anon, err := e.st.Erase(ctx, "alpha", "cust-ivan", "alpha_admin")
	if err != nil {
		t.Fatal(err)
	}
	checkErased(t, e, "alpha", "cust-ivan", anon, before)
	if _, err := e.st.Member(ctx, "beta", anon); !errors.Is(err, store.ErrMemberNotFound) {
		t.Fatalf("alpha's anonymous member visible to beta: err = %v", err)
	}
	// Beta's member of the same id, its review item and audit trail are untouched.
	if b := e.member(t, "beta", "cust-ivan"); b.Status != ledger.StatusActive || b.Balances != betaBefore.Balances || b.Seq != betaBefore.Seq {
		t.Fatalf("beta's member after alpha's erase: %+v", b)
	}
	e.audit(t, "beta", "cust-ivan")
	if it := onlyReviewItem(t, e.st, "beta"); it.MemberID != "cust-ivan" || it.PaymentID != "pay-ivan-big" {
		t.Fatalf("beta's review item after alpha's erase: %+v", it)
	}
	for _, r := range auditTrail(t, e, "beta") {
		if r.MemberID != "cust-ivan" || r.Reason == store.RedactedReason {
			t.Fatalf("beta's audit record changed: %+v", r)
		}
	}
	e.member(t, "alpha", "only-alpha")
}
