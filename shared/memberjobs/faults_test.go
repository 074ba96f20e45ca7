package memberjobs_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/shared/memberjobs"
	"github.com/accrue/accrue/shared/store"
)

func validation() error {
	return &types.ResourceNotFoundException{Message: aws.String("Requested resource not found")}
}

// TestFaults: transaction conflicts are retried and end as a clean run
// does; a member whose transaction keeps failing is reported, the run goes
// on with the others, and the failed stay due for the next run.
func TestFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		n          int64
		err        func() error
		wantFailed bool
	}{
		{"conflicts are retried", 10, awstest.TransactionConflict, false},
		{"a failing member is reported and stays due", 3, validation, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clean, faulty := newEnv(t, jobsProgram), newEnv(t, jobsProgram)
			members, at := dataset(t, clean)
			dataset(t, faulty)
			clean.set(at)
			faulty.set(at)
			clean.jobs(t, members...)

			f := &awstest.Faults{Make: c.err}
			f.Remaining.Store(c.n)
			st := store.New(dynamodb.New(faulty.db.Options(), f.Option), faulty.table, store.WithClock(faulty.now))
			r := memberjobs.New(st, memberjobs.WithClock(faulty.now), memberjobs.WithLogger(quiet()))
			r.Workers = 1
			rep, err := r.Run(t.Context())
			if c.wantFailed != (err != nil) || (rep.Failed == 3) != c.wantFailed {
				t.Fatalf("run with faults: %+v, %v", rep, err)
			}
			for _, m := range members {
				if err := faulty.st.Audit(t.Context(), "acme", m); err != nil {
					t.Fatal(err)
				}
			}
			if c.wantFailed {
				if again := faulty.jobs(t, members...); again.Members != 3 {
					t.Fatalf("the next run took %d members, want the 3 that failed", again.Members)
				}
			}
			if a, b := clean.state(t, members), faulty.state(t, members); a != b {
				t.Fatalf("with faults the end state differs:\n%s\n%s", a, b)
			}
		})
	}
}
