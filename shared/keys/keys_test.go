package keys_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/shared/keys"
	"github.com/accrue/accrue/shared/store"
)

type env struct {
	c     *dynamodb.Client
	table string
	ks    *keys.Store
}

func newEnv(t *testing.T, opts ...keys.Option) *env {
	t.Helper()
	c := awstest.Client(t)
	table := awstest.NewTable(t, c, store.CreateTableInput)
	return &env{c: c, table: table, ks: keys.New(c, table, opts...)}
}

func (e *env) create(t *testing.T, partner, role, label string) (string, keys.Key) {
	t.Helper()
	plain, k, err := e.ks.Create(t.Context(), partner, role, label)
	if err != nil {
		t.Fatalf("Create(%s, %s, %q): %v", partner, role, label, err)
	}
	return plain, k
}

// scan returns every item of the table as JSON-ish strings of its attributes.
func (e *env) scan(t *testing.T) []map[string]types.AttributeValue {
	t.Helper()
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(e.c, &dynamodb.ScanInput{TableName: aws.String(e.table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		items = append(items, out.Items...)
	}
	return items
}

func TestCreateAndAuthenticate(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC)
	e := newEnv(t, keys.WithClock(func() time.Time { return t0 }))
	ctx := t.Context()

	admin, ak := e.create(t, "telco", keys.RoleAdmin, "ops laptop")
	app, pk := e.create(t, "telco", keys.RoleApp, "")
	other, ok := e.create(t, "bank-2", keys.RoleApp, "mobile")

	for _, plain := range []string{admin, app, other} {
		if len(plain) != keys.Len || !strings.HasPrefix(plain, keys.Prefix) {
			t.Fatalf("key %q: want %s + 43 characters", plain, keys.Prefix)
		}
	}
	if admin == app || ak.ID == pk.ID {
		t.Fatal("two creates returned the same key or id")
	}
	if ak.PartnerID != "telco" || ak.Role != keys.RoleAdmin || ak.Label != "ops laptop" || !ak.CreatedAt.Equal(t0) ||
		ak.RevokedAt != nil || ak.Last4 != admin[len(admin)-4:] {
		t.Fatalf("admin key metadata: %+v", ak)
	}

	tests := []struct {
		name  string
		token string
		want  keys.Principal
	}{
		{"admin bare", admin, keys.Principal{PartnerID: "telco", KeyID: ak.ID, Role: keys.RoleAdmin}},
		{"admin header", "Bearer " + admin, keys.Principal{PartnerID: "telco", KeyID: ak.ID, Role: keys.RoleAdmin}},
		{"scheme any case", "bearer " + admin, keys.Principal{PartnerID: "telco", KeyID: ak.ID, Role: keys.RoleAdmin}},
		{"extra spaces", "  Bearer   " + admin + " ", keys.Principal{PartnerID: "telco", KeyID: ak.ID, Role: keys.RoleAdmin}},
		{"app", "Bearer " + app, keys.Principal{PartnerID: "telco", KeyID: pk.ID, Role: keys.RoleApp}},
		{"other partner", "Bearer " + other, keys.Principal{PartnerID: "bank-2", KeyID: ok.ID, Role: keys.RoleApp}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.ks.Authenticate(ctx, tc.token)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if got != tc.want {
				t.Fatalf("Authenticate = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestAuthenticateRejects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	plain, _ := e.create(t, "telco", keys.RoleAdmin, "")
	// A well-formed key that was never created.
	unknown := keys.Prefix + strings.Repeat("A", 43)
	// The right key with one character changed.
	flipped := []byte(plain)
	if flipped[10] == 'x' {
		flipped[10] = 'y'
	} else {
		flipped[10] = 'x'
	}

	tests := []struct{ name, token string }{
		{"empty", ""},
		{"spaces", "   "},
		{"scheme only", "Bearer"},
		{"scheme and space", "Bearer "},
		{"basic scheme", "Basic " + plain},
		{"token scheme", "Token " + plain},
		{"two keys", "Bearer " + plain + " " + plain},
		{"tab separator", "Bearer\t" + plain},
		{"no prefix", "Bearer " + plain[len(keys.Prefix):]},
		{"other prefix", "Bearer sk_" + plain[len(keys.Prefix):]},
		{"truncated", "Bearer " + plain[:len(plain)-1]},
		{"too long", "Bearer " + plain + "A"},
		{"not base64url", "Bearer " + keys.Prefix + strings.Repeat("+", 43)},
		{"padding", "Bearer " + plain[:len(plain)-1] + "="},
		{"newline", "Bearer " + plain[:20] + "\n" + plain[21:]},
		{"unknown", "Bearer " + unknown},
		{"one character changed", "Bearer " + string(flipped)},
		{"hash instead of key", "Bearer " + keys.Hash(plain)},
		{"upper-cased key", "Bearer " + strings.ToUpper(plain)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := e.ks.Authenticate(t.Context(), tc.token)
			if !errors.Is(err, keys.ErrUnauthenticated) {
				t.Fatalf("Authenticate(%q) = %+v, %v; want ErrUnauthenticated", tc.token, p, err)
			}
			if p != (keys.Principal{}) {
				t.Fatalf("Authenticate returned a principal with its error: %+v", p)
			}
			if strings.Contains(err.Error(), plain) {
				t.Fatalf("the error repeats the key: %v", err)
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	plain, k := e.create(t, "telco", keys.RoleAdmin, "")
	keep, kk := e.create(t, "telco", keys.RoleApp, "")
	if _, err := e.ks.Authenticate(ctx, "Bearer "+plain); err != nil {
		t.Fatalf("before revoke: %v", err)
	}

	r, err := e.ks.Revoke(ctx, "telco", k.ID)
	if err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if r.RevokedAt == nil || r.ID != k.ID || !r.Revoked() {
		t.Fatalf("Revoke returned %+v", r)
	}
	// At once: no cache, consistent reads.
	if _, err := e.ks.Authenticate(ctx, "Bearer "+plain); !errors.Is(err, keys.ErrUnauthenticated) {
		t.Fatalf("revoked key: Authenticate err = %v, want ErrUnauthenticated", err)
	} else if !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("the error should say why, for logs: %v", err)
	}
	// The other key still works.
	if p, err := e.ks.Authenticate(ctx, "Bearer "+keep); err != nil || p.KeyID != kk.ID {
		t.Fatalf("other key after revoke: %+v, %v", p, err)
	}

	// Twice: idempotent, the first revocation time stays.
	r2, err := e.ks.Revoke(ctx, "telco", k.ID)
	if err != nil {
		t.Fatalf("second Revoke: %v", err)
	}
	if r2.RevokedAt == nil || !r2.RevokedAt.Equal(*r.RevokedAt) {
		t.Fatalf("second Revoke changed revoked_at: %v then %v", r.RevokedAt, r2.RevokedAt)
	}
	ks, _, err := e.ks.List(ctx, "telco", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range ks {
		if (got.ID == k.ID) != got.Revoked() {
			t.Fatalf("List after revoke: %+v", got)
		}
	}

	for _, tc := range []struct{ name, partner, id string }{
		{"unknown id", "telco", "0000000000000000000000000a"},
		{"malformed id", "telco", "nope"},
		{"empty id", "telco", ""},
		{"the key itself", "telco", keep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.ks.Revoke(ctx, tc.partner, tc.id); !errors.Is(err, keys.ErrNotFound) {
				t.Fatalf("Revoke(%s, %q) err = %v, want ErrNotFound", tc.partner, tc.id, err)
			}
		})
	}
}

func TestRevokeConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	plain, k := e.create(t, "telco", keys.RoleAdmin, "")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = e.ks.Revoke(t.Context(), "telco", k.ID) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Revoke: %v", err)
		}
	}
	if _, err := e.ks.Authenticate(t.Context(), plain); !errors.Is(err, keys.ErrUnauthenticated) {
		t.Fatalf("after concurrent revokes: %v", err)
	}
}

func TestPartnerIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	plainA, a := e.create(t, "partner-a", keys.RoleAdmin, "a")
	_, b := e.create(t, "partner-b", keys.RoleAdmin, "b")

	if _, err := e.ks.Revoke(ctx, "partner-b", a.ID); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("B revoking A's key: err = %v, want ErrNotFound", err)
	}
	if _, err := e.ks.Authenticate(ctx, plainA); err != nil {
		t.Fatalf("A's key after B's attempt: %v", err)
	}
	for partner, want := range map[string]keys.Key{"partner-a": a, "partner-b": b} {
		ks, next, err := e.ks.List(ctx, partner, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) != 1 || ks[0].ID != want.ID || ks[0].PartnerID != partner || next != "" {
			t.Fatalf("List(%s) = %+v, %q; want only %s", partner, ks, next, want.ID)
		}
	}
	// A cursor of A's list does not open B's partition: the partner is
	// part of the query, the cursor only a position in it.
	for range 3 {
		e.create(t, "partner-a", keys.RoleApp, "")
	}
	_, next, err := e.ks.List(ctx, "partner-a", 1, "")
	if err != nil || next == "" {
		t.Fatalf("List(partner-a, 1): next %q, %v", next, err)
	}
	ks, _, err := e.ks.List(ctx, "partner-b", 10, next)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if k.PartnerID != "partner-b" {
			t.Fatalf("B listed a key of %s", k.PartnerID)
		}
	}
}

func TestInvalidRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	for _, tc := range []struct{ name, partner, role, label string }{
		{"empty partner", "", keys.RoleAdmin, ""},
		{"upper-case partner", "Telco", keys.RoleAdmin, ""},
		{"partner with #", "tel#co", keys.RoleAdmin, ""},
		{"unknown role", "telco", "root", ""},
		{"empty role", "telco", "", ""},
		{"label too long", "telco", keys.RoleApp, strings.Repeat("x", keys.MaxLabelLen+1)},
		{"label with control", "telco", keys.RoleApp, "a\nb"},
		{"label not utf-8", "telco", keys.RoleApp, "\xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain, _, err := e.ks.Create(ctx, tc.partner, tc.role, tc.label)
			if !errors.Is(err, keys.ErrInvalid) || plain != "" {
				t.Fatalf("Create = %q, %v; want ErrInvalid", plain, err)
			}
		})
	}
	if _, _, err := e.ks.List(ctx, "Bad", 10, ""); !errors.Is(err, keys.ErrInvalid) {
		t.Fatalf("List(bad partner): %v", err)
	}
	if _, err := e.ks.Revoke(ctx, "Bad", "x"); !errors.Is(err, keys.ErrInvalid) {
		t.Fatalf("Revoke(bad partner): %v", err)
	}
	for _, c := range []string{"!!", "Zm9v", "S0VZIw"} {
		if _, _, err := e.ks.List(ctx, "telco", 10, c); !errors.Is(err, keys.ErrBadCursor) {
			t.Fatalf("List(cursor %q): %v, want ErrBadCursor", c, err)
		}
	}
	if items := e.scan(t); len(items) != 0 {
		t.Fatalf("invalid requests wrote %d items", len(items))
	}
}

// TestPlaintextNeverStored scans the whole table after creating and revoking
// keys: no attribute holds a key or its random part, and each key's item is
// found by its hash.
func TestPlaintextNeverStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var plains []string
	for i := range 4 {
		plain, k := e.create(t, "telco", []string{keys.RoleAdmin, keys.RoleApp}[i%2], fmt.Sprintf("key %d", i))
		plains = append(plains, plain)
		if i == 0 {
			if _, err := e.ks.Revoke(t.Context(), "telco", k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Two items per key, and an audit record per creation and revocation
	// (which the dump below checks too).
	items := e.scan(t)
	audit := 0
	for _, it := range items {
		if pk, _ := it[store.AttrPK].(*types.AttributeValueMemberS); pk != nil && pk.Value == "P#telco#AUDIT" {
			audit++
		}
	}
	if len(items)-audit != 2*len(plains) || audit != len(plains)+1 {
		t.Fatalf("%d items (%d audit records) for %d keys, want two each and 5 records", len(items), audit, len(plains))
	}
	var all []string
	for _, it := range items {
		var m map[string]any
		if err := attributevalue.UnmarshalMap(it, &m); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, string(b))
	}
	dump := strings.Join(all, "\n")
	for _, plain := range plains {
		secret := plain[len(keys.Prefix):]
		for _, s := range []string{plain, secret, secret[:20], secret[20:39]} {
			if strings.Contains(dump, s) {
				t.Fatalf("the table holds (part of) a key %q:\n%s", s, dump)
			}
		}
		if !strings.Contains(dump, `"KEYHASH#`+keys.Hash(plain)+`"`) {
			t.Fatalf("no KEYHASH# item for a key:\n%s", dump)
		}
	}
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	const n = 7
	var created []string
	for i := range n {
		_, k := e.create(t, "telco", keys.RoleApp, fmt.Sprintf("k%d", i))
		created = append(created, k.ID)
		time.Sleep(2 * time.Millisecond) // ids are ordered by millisecond
	}
	e.create(t, "other", keys.RoleApp, "not listed")

	for _, limit := range []int32{1, 2, 3, 7, 8, 100} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			var got []string
			cursor, pages := "", 0
			for {
				ks, next, err := e.ks.List(ctx, "telco", limit, cursor)
				if err != nil {
					t.Fatalf("List(%d, %q): %v", limit, cursor, err)
				}
				if len(ks) > int(limit) {
					t.Fatalf("page of %d keys, limit %d", len(ks), limit)
				}
				pages++
				for _, k := range ks {
					got = append(got, k.ID)
				}
				if next == "" {
					break
				}
				if len(ks) == 0 {
					t.Fatal("empty page with a next cursor")
				}
				cursor = next
			}
			if strings.Join(got, ",") != strings.Join(created, ",") {
				t.Fatalf("listed %v, want %v (creation order)", got, created)
			}
			if want := (n + int(limit) - 1) / int(limit); pages != want {
				t.Fatalf("%d pages, want %d", pages, want)
			}
		})
	}
	ks, next, err := e.ks.List(ctx, "nobody", 10, "")
	if err != nil || len(ks) != 0 || next != "" {
		t.Fatalf("List of a partner without keys: %v, %q, %v", ks, next, err)
	}
}

func TestConcurrentCreates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	const n = 24
	plains := make([]string, n)
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var k keys.Key
			plains[i], k, errs[i] = e.ks.Create(ctx, "telco", keys.RoleApp, "")
			ids[i] = k.ID
		})
	}
	wg.Wait()
	seenKey, seenID := map[string]bool{}, map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent Create: %v", errs[i])
		}
		if seenKey[plains[i]] || seenID[ids[i]] {
			t.Fatalf("duplicate key or id")
		}
		seenKey[plains[i]], seenID[ids[i]] = true, true
		p, err := e.ks.Authenticate(ctx, plains[i])
		if err != nil || p.KeyID != ids[i] {
			t.Fatalf("Authenticate key %d: %+v, %v", i, p, err)
		}
	}
	ks, next, err := e.ks.List(ctx, "telco", n, "")
	if err != nil || len(ks) != n || next != "" {
		t.Fatalf("List after %d creates: %d keys, next %q, %v", n, len(ks), next, err)
	}
}

func TestKeyJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b, err := json.Marshal(keys.Key{ID: "id1", PartnerID: "telco", Role: keys.RoleApp, Label: "l", CreatedAt: at, Last4: "abcd"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"id1","partner_id":"telco","role":"app","label":"l","created_at":"2026-01-02T03:04:05Z","revoked_at":null,"last4":"abcd"}`
	if string(b) != want {
		t.Fatalf("JSON:\n got %s\nwant %s", b, want)
	}
}
