package keys_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/accrue/accrue/internal/ddbsim"
	"github.com/accrue/accrue/shared/keys"
	"github.com/accrue/accrue/shared/store"
)

// activeAdmins lists partner's active admin key ids.
func (e *env) activeAdmins(t *testing.T, partner string) []string {
	t.Helper()
	ks, _, err := e.ks.List(t.Context(), partner, keys.MaxListLimit, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range ks {
		if k.Role == keys.RoleAdmin && !k.Revoked() {
			out = append(out, k.ID)
		}
	}
	return out
}

// RevokeUnlessLastAdmin never revokes a partner's last active admin key;
// only active admin keys of the same partner count as another one.
func TestRevokeUnlessLastAdmin(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// keys of partner telco (and other) before: role per key; the one to
		// revoke is the first.
		roles    []string
		revoked  []bool // revoked before, per key
		other    []string
		wantErr  error
		wantLeft int // active admin keys of telco after
	}{
		{name: "the only admin key", roles: []string{"admin"}, wantErr: keys.ErrLastAdminKey, wantLeft: 1},
		{name: "the only admin key beside app keys", roles: []string{"admin", "app", "app"}, wantErr: keys.ErrLastAdminKey, wantLeft: 1},
		{name: "beside a revoked admin key", roles: []string{"admin", "admin"}, revoked: []bool{false, true}, wantErr: keys.ErrLastAdminKey, wantLeft: 1},
		{name: "another partner's admin key does not count", roles: []string{"admin"}, other: []string{"admin"}, wantErr: keys.ErrLastAdminKey, wantLeft: 1},
		{name: "one of two admin keys", roles: []string{"admin", "admin"}, wantLeft: 1},
		{name: "one of three admin keys", roles: []string{"admin", "admin", "admin"}, wantLeft: 2},
		{name: "an app key, the admin key stays", roles: []string{"app", "admin"}, wantLeft: 1},
		{name: "an already revoked last admin key: returned as is", roles: []string{"admin", "admin"}, revoked: []bool{true, false}, wantLeft: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := t.Context()
			var ids []string
			for i, role := range tc.roles {
				_, k := e.create(t, "telco", role, fmt.Sprint("k", i))
				ids = append(ids, k.ID)
				if i < len(tc.revoked) && tc.revoked[i] {
					if _, err := e.ks.Revoke(ctx, "telco", k.ID); err != nil {
						t.Fatal(err)
					}
				}
			}
			for i, role := range tc.other {
				e.create(t, "other", role, fmt.Sprint("o", i))
			}
			k, err := e.ks.RevokeUnlessLastAdmin(ctx, "telco", ids[0])
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && !k.Revoked() {
				t.Fatalf("returned %+v, not revoked", k)
			}
			if got := e.activeAdmins(t, "telco"); len(got) != tc.wantLeft {
				t.Fatalf("%d active admin keys left, want %d", len(got), tc.wantLeft)
			}
		})
	}
}

// The operator's Revoke has no such guard: a compromised last admin key
// can be revoked (and another created).
func TestOperatorRevokesTheLastAdminKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, k := e.create(t, "telco", keys.RoleAdmin, "")
	if _, err := e.ks.Revoke(t.Context(), "telco", k.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.activeAdmins(t, "telco"); len(got) != 0 {
		t.Fatalf("active admin keys %v", got)
	}
}

// Admins revoking every admin key of their partner at once, against
// DynamoDB Local made to conflict the way DynamoDB does (a transaction in
// flight holds its items, ConditionChecks included) and against DynamoDB
// Local alone (transactions one after the other): every round ends with
// exactly one active admin key, and every refused revocation is
// ErrLastAdminKey.
func TestRevokeAdminKeysConcurrently(t *testing.T) {
	t.Parallel()
	for _, conflicting := range []bool{true, false} {
		t.Run(fmt.Sprint("conflicting ", conflicting), func(t *testing.T) {
			t.Parallel()
			base := newEnv(t)
			ks := base.ks
			if conflicting {
				conflicts, err := ddbsim.NewConflicts(store.CreateTableInput(base.table))
				if err != nil {
					t.Fatal(err)
				}
				ks = keys.New(dynamodb.New(base.c.Options(), conflicts.Option), base.table)
			}
			for round := range 4 {
				partner := fmt.Sprintf("p-%d", round)
				const n = 6
				var ids []string
				for i := range n {
					_, k := base.create(t, partner, keys.RoleAdmin, fmt.Sprint("admin ", i))
					ids = append(ids, k.ID)
				}
				errs := make([]error, n)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range n {
					wg.Go(func() {
						<-start
						_, errs[i] = ks.RevokeUnlessLastAdmin(t.Context(), partner, ids[i])
					})
				}
				close(start)
				wg.Wait()
				refused := 0
				for i, err := range errs {
					switch {
					case errors.Is(err, keys.ErrLastAdminKey):
						refused++
					case err != nil:
						t.Fatalf("round %d, key %d: %v", round, i, err)
					}
				}
				left := base.activeAdmins(t, partner)
				if len(left) != 1 || refused != 1 {
					t.Fatalf("round %d: %d active admin keys left (%v), %d revocations refused; want 1 and 1", round, len(left), left, refused)
				}
			}
		})
	}
}

// Creating and revoking a key writes its audit record in the same
// transaction: the actor of the context (the operator without one), the key
// id, role and label — never the key.
func TestKeyAuditRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := store.WithActor(t.Context(), "key_admin_1")
	plain, k, err := e.ks.Create(ctx, "telco", keys.RoleApp, "mobile backend")
	if err != nil {
		t.Fatal(err)
	}
	e.create(t, "telco", keys.RoleAdmin, "by the operator")
	if _, err := e.ks.RevokeUnlessLastAdmin(ctx, "telco", k.ID); err != nil {
		t.Fatal(err)
	}
	page, err := store.New(e.c, e.table).AuditTrail(t.Context(), "telco", store.AuditQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 3 {
		t.Fatalf("%d audit records, want 3: %+v", len(page.Items), page.Items)
	}
	type keyChange struct {
		Role, Label string
		RevokedAt   *string `json:"revoked_at"`
	}
	for i, want := range []struct {
		action      store.AuditAction
		actor, role string
		revoked     bool
	}{
		{store.AuditKeyRevoke, "key_admin_1", keys.RoleApp, true}, // newest first
		{store.AuditKeyCreate, store.ActorOperator, keys.RoleAdmin, false},
		{store.AuditKeyCreate, "key_admin_1", keys.RoleApp, false},
	} {
		r := page.Items[i]
		if r.Action != want.action || r.Actor != want.actor || r.Target == "" || len(r.Changes) != 1 || r.Changes[0].Field != "key" || r.MemberID != "" {
			t.Fatalf("record %d = %+v, want %s by %s", i, r, want.action, want.actor)
		}
		var after keyChange
		if err := json.Unmarshal(r.Changes[0].After, &after); err != nil || after.Role != want.role || (after.RevokedAt != nil) != want.revoked {
			t.Fatalf("record %d: after = %s (%v)", i, r.Changes[0].After, err)
		}
		if want.action == store.AuditKeyRevoke && (r.Target != k.ID || r.Changes[0].Before == nil) {
			t.Fatalf("revocation record %+v", r)
		}
		b, _ := json.Marshal(r)
		if secret := plain[len(keys.Prefix):]; strings.Contains(string(b), secret[:20]) {
			t.Fatalf("an audit record holds the key: %s", b)
		}
	}
}
