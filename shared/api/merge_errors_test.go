package api

import (
	"fmt"
	"testing"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/store"
)

// The store's merge errors are the route's problems: the status and type of
// each, and a detail that says why when the cause is the client's to fix.
func TestMergeErrorsAreProblems(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		slug   string
		detail string
		field  string
	}{
		{fmt.Errorf("x: %w", ledger.ErrMergeSame), 400, "validation-error", "absorbed_member_id: " + ledger.ErrMergeSame.Error(), "absorbed_member_id"},
		{fmt.Errorf("telco/m2 into m1: %w", ledger.ErrAlreadyMerged), 409, "member-merged", ledger.ErrAlreadyMerged.Error(), ""},
		{fmt.Errorf("%w: telco/m2 has 1 open holds", ledger.ErrMergeBlocked), 409, "merge-blocked", ledger.ErrMergeBlocked.Error() + ": telco/m2 has 1 open holds", ""},
		{fmt.Errorf("%w: telco/m2 has 47 open lots", ledger.ErrMergeLimit), 422, "merge-limit", ledger.ErrMergeLimit.Error() + ": telco/m2 has 47 open lots", ""},
		{fmt.Errorf("%w: %w", store.ErrOtherMemberNotFound, store.ErrMemberNotFound), 404, "not-found", store.ErrOtherMemberNotFound.Error(), ""},
	} {
		p, _ := toProblem(tc.err)
		if p.Status != tc.status || p.Type != ProblemBase+tc.slug || p.Detail != tc.detail {
			t.Errorf("%v: %d %s %q, want %d %s %q", tc.err, p.Status, p.Type, p.Detail, tc.status, tc.slug, tc.detail)
		}
		if tc.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tc.field) {
			t.Errorf("%v: errors %+v, want the field %s", tc.err, p.Errors, tc.field)
		}
	}
}
