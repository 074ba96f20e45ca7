package ingest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/accrue/accrue/shared/ingest"
	"github.com/accrue/accrue/shared/store"
)

// After a GDPR erase, the queue never brings the id back (issue #9, item 2):
// the payment applied before, delivered again, and a new payment, a refund of
// the old one, each is a recorded member_erased rejection (acknowledged, not
// retried), no member exists under the id, and the anonymous member's
// balances are untouched.
func TestErasedMemberStaysErasedOnTheQueue(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, failed := h.invoke(t, "sqs-payment.json"); len(failed) > 0 {
		t.Fatalf("failed: %v", failed)
	}
	anon, err := h.st.Erase(ctx, "telco", "cust-42", "key_admin")
	if err != nil {
		t.Fatal(err)
	}
	before, err := h.st.Member(ctx, "telco", anon)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"sqs-payment.json", "sqs-duplicate.json", "sqs-partial-refund.json"} {
		ev, failed := h.invoke(t, file)
		if len(failed) > 0 {
			t.Fatalf("%s after the erase: retried %v, want recorded rejections", file, failed)
		}
		rs, _, err := h.st.Rejections(ctx, "telco", 100, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range ev.Records {
			found := false
			for _, r := range rs {
				found = found || (r.MessageID == rec.MessageId && r.Reason == ingest.ReasonMemberErased)
			}
			if !found {
				t.Fatalf("%s: message %s has no member_erased rejection: %+v", file, rec.MessageId, rs)
			}
		}
	}
	if _, err := h.st.Member(ctx, "telco", "cust-42"); !errors.Is(err, store.ErrMemberNotFound) {
		t.Fatalf("the erased id came back: %v", err)
	}
	after, err := h.st.Member(ctx, "telco", anon)
	if err != nil || after.Balances != before.Balances || after.Seq != before.Seq {
		t.Fatalf("anonymous member changed: %+v → %+v (%v)", before.Balances, after.Balances, err)
	}
}
