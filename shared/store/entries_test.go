package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/store"
)

// The ledger is read from the member's partition (no index): its E# entries
// and its payments' PAY# entries merged by seq. Paged at any size, the pages
// are the whole ledger newest first, each entry once; a cursor continues only
// its own member's ledger.
func TestLedgerPages(t *testing.T) {
	e := newEnv(t, map[string]string{"telco": testProgram})
	ctx := context.Background()
	// Payments (PAY#…#S), refunds (PAY#…#R) and adjustments (E#…),
	// interleaved, so that neither range alone is in seq order with the other.
	for i := range 9 {
		id := fmt.Sprint("p", i)
		mustApply(t, e.st, pay("telco", "m1", id, 100000))
		if i%3 == 1 {
			mustApply(t, e.st, refund("telco", "m1", "r"+id, id, 50000))
		}
		if i%2 == 0 {
			if _, _, err := e.st.Adjust(ctx, "telco", "m1", ledger.Adjustment{Points: 1, Reason: "r", Actor: "k"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustApply(t, e.st, pay("telco", "m2", "q1", 100000))
	all, err := e.st.Entries(ctx, "telco", "m1")
	if err != nil {
		t.Fatal(err)
	}
	m := e.member(t, "telco", "m1")
	if int64(len(all)) != m.Seq || m.Seq != 9+3+5 {
		t.Fatalf("%d entries, member seq %d, want 17", len(all), m.Seq)
	}
	for i, en := range all {
		if en.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d: Entries is not oldest first", i, en.Seq)
		}
	}
	for _, limit := range []int32{1, 2, 3, 5, 16, 17, 18, 100} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			var got []int64
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("pages never end")
				}
				page, err := e.st.Ledger(ctx, "telco", "m1", limit, cursor)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Items) > int(limit) || (page.Next != "" && len(page.Items) != int(limit)) {
					t.Fatalf("page of %d entries (limit %d), next %q", len(page.Items), limit, page.Next)
				}
				for _, en := range page.Items {
					got = append(got, en.Seq)
				}
				if page.Next == "" {
					break
				}
				cursor = page.Next
			}
			want := make([]int64, 0, len(all))
			for i := len(all); i > 0; i-- {
				want = append(want, int64(i))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("seqs %v, want %v", got, want)
			}
		})
	}
	first, err := e.st.Ledger(ctx, "telco", "m1", 4, "")
	if err != nil || first.Next == "" {
		t.Fatalf("%+v %v", first, err)
	}
	for _, tc := range []struct{ partner, member, cursor string }{
		{"telco", "m2", first.Next}, // another member's ledger
		{"other", "m1", first.Next}, // another partner's
		{"telco", "m1", "bm90IGEgY3Vyc29y"},
	} {
		if _, err := e.st.Ledger(ctx, tc.partner, tc.member, 4, tc.cursor); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("%s/%s with cursor %q: %v, want ErrBadCursor", tc.partner, tc.member, tc.cursor, err)
		}
	}
}
