// Package keys creates, lists, revokes and checks the API keys of partners
// (spec §4: "Authorization: Bearer <api key>. Keys are random, shown once,
// stored only as a hash, and carry a role").
//
// A key is "acr_" followed by 43 characters of base64url (32 bytes from
// crypto/rand). Create returns the plaintext once; it is never stored or
// logged. The table keeps only its SHA-256: a key has 256 bits of entropy, so
// a fast unsalted hash cannot be brute-forced and a slow password hash
// (bcrypt, argon2) would only add latency to every request.
//
// The items of the table (pk | sk), beside those of shared/store/schema.go:
//
//	KEYHASH#{sha256 hex}    | KEY                 partner, key id, role, label, created, revoked (when
//	                                              revoked): what Authenticate reads, one GetItem by hash
//	P#{partner}             | KEY#{key id}        the same metadata, the last 4 characters of the key and
//	                                              its hash: a partner's keys, for listing and revoking
//
// The KEYHASH# item is the only one not under its partner's key: a request
// knows its key before it knows its partner. Both items are written in one
// transaction and revoked in one transaction, so they never disagree; the
// same transaction writes the change's audit record (key.create, key.revoke:
// the key id, role and label, never the key) through the store
// (store.CommitAudited), and, for a creation under an Idempotency-Key, the
// response, which holds the key's metadata and not the key.
//
// A partner's last active admin key. RevokeUnlessLastAdmin (the API's
// revocation) never revokes it: revoking an admin key commits only with a
// check, in the same transaction, that another admin key of the partner
// (the witness, read just before) is active. DynamoDB transactions are
// serializable and a ConditionCheck holds its item like a write, so two
// admins revoking the last two admin keys at once cannot both commit: the
// one serialized second finds its witness revoked, reads again, and finds no
// other active admin key (ErrLastAdminKey). Every committed revocation
// leaves its witness active, so a partner that has an active admin key keeps
// one. No counter to keep in step with creations and revocations, and no
// item every revocation of the partner writes: only the two keys meet.
// Revoke (the operator CLI's) has no such check: an operator may revoke a
// compromised last admin key and create another.
//
// Key ids grow with the creation time (48-bit milliseconds, then 80 random
// bits, in a sortable base32), so a partner's keys list in creation order.
package keys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/store"
)

// Roles of a key.
const (
	// RoleAdmin: program, rewards, keys, review.
	RoleAdmin = "admin"
	// RoleApp: member operations.
	RoleApp = "app"
)

// ValidRole reports whether r is a role.
func ValidRole(r string) bool { return r == RoleAdmin || r == RoleApp }

// Format of a key.
const (
	// Prefix starts every key (it lets secret scanners recognise a leaked one).
	Prefix = "acr_"
	// secretBytes of randomness in a key.
	secretBytes = 32
	// Len is the length of a key: the prefix and 43 characters of base64url.
	Len = len(Prefix) + 43
	// MaxLabelLen is the longest label, in characters.
	MaxLabelLen = 100
)

// Errors a caller can act on (test with errors.Is).
var (
	// ErrUnauthenticated: a bearer token that is malformed, unknown or revoked.
	// The wrapping error says which, for logs; a caller must answer all three
	// the same way (401) so a client cannot probe which keys exist.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrNotFound: no such key for this partner (keys of other partners are
	// not found either).
	ErrNotFound = errors.New("key not found")
	// ErrInvalid: a bad partner id, role or label.
	ErrInvalid = errors.New("invalid key request")
	// ErrBadCursor: a pagination cursor that List did not hand out.
	ErrBadCursor = errors.New("invalid cursor")
	// ErrLastAdminKey: the key is its partner's last active admin key
	// (RevokeUnlessLastAdmin).
	ErrLastAdminKey = errors.New("the partner's last active admin key cannot be revoked")
)

// Key is a key's metadata; it never contains the key itself.
type Key struct {
	ID        string     `json:"id"`
	PartnerID string     `json:"partner_id"`
	Role      string     `json:"role"`
	Label     string     `json:"label"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	// Last4 is the end of the key, so people can tell their keys apart.
	Last4 string `json:"last4"`
}

// Revoked reports whether the key was revoked.
func (k Key) Revoked() bool { return k.RevokedAt != nil }

// Principal is who a request authenticated as.
type Principal struct {
	PartnerID string
	KeyID     string
	Role      string
}

// DynamoDB is the part of the DynamoDB client the store uses (the store's:
// writes commit through it).
type DynamoDB = store.DynamoDB

// Store keeps API keys in the Accrue table.
type Store struct {
	db    DynamoDB
	table string
	now   func() time.Time
	// st commits the writes with their audit records.
	st *store.Store
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock (creation and revocation times).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a Store on table.
func New(db DynamoDB, table string, opts ...Option) *Store {
	s := &Store{db: db, table: table, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	s.st = store.New(db, table, store.WithClock(s.now))
	return s
}

// Keys of the items: the store's key schema (shared/store/keys.go).
func listPK(partner string) string { pk, _ := store.APIKeyKey(partner, ""); return pk }

var (
	hashKey    = store.APIKeyHashKey
	partnerKey = store.APIKeyKey
	itemKey    = store.Key
)

// keyItem is both items' attributes; Last4 and Hash are only on the partner's item.
type keyItem struct {
	PartnerID string     `dynamodbav:"partner"`
	ID        string     `dynamodbav:"kid"`
	Role      string     `dynamodbav:"role"`
	Label     string     `dynamodbav:"label"`
	CreatedAt time.Time  `dynamodbav:"created"`
	RevokedAt *time.Time `dynamodbav:"revoked,omitempty"`
	Last4     string     `dynamodbav:"last4,omitempty"`
	Hash      string     `dynamodbav:"hash,omitempty"`
}

func (it *keyItem) key() Key {
	return Key{ID: it.ID, PartnerID: it.PartnerID, Role: it.Role, Label: it.Label, CreatedAt: it.CreatedAt, RevokedAt: it.RevokedAt, Last4: it.Last4}
}

func (it *keyItem) marshal(pk, sk string) (map[string]types.AttributeValue, error) {
	m, err := attributevalue.MarshalMap(it)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", sk, err)
	}
	m[store.AttrPK] = &types.AttributeValueMemberS{Value: pk}
	m[store.AttrSK] = &types.AttributeValueMemberS{Value: sk}
	return m, nil
}

// Hash returns the stored form of a key: its SHA-256 in hex.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// generate returns a new key.
func generate() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("crypto/rand: %w", err)
	}
	return Prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// idEncoding is base32 with an ascending alphabet, so ids sort like their bytes.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

const idLen = 26 // 16 bytes in base32

// newID returns a key id: 6 bytes of Unix milliseconds and 10 random bytes.
func newID(now time.Time) (string, error) {
	var b [16]byte
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(max(now.UnixMilli(), 0)))
	copy(b[:6], ms[2:])
	if _, err := rand.Read(b[6:]); err != nil {
		return "", fmt.Errorf("crypto/rand: %w", err)
	}
	return idEncoding.EncodeToString(b[:]), nil
}

// ValidID reports whether id has the form of a key id (it may still be
// unknown).
func ValidID(id string) bool { return validID(id) }

// ValidLabel reports whether l is an acceptable label: up to MaxLabelLen
// printable characters.
func ValidLabel(l string) bool { return validLabel(l) }

func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for _, r := range id {
		if !strings.ContainsRune("0123456789abcdefghjkmnpqrstvwxyz", r) {
			return false
		}
	}
	return true
}

func validLabel(l string) bool {
	if !utf8.ValidString(l) || utf8.RuneCountInString(l) > MaxLabelLen {
		return false
	}
	for _, r := range l {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func checkPartner(partner string) error {
	if !payment.ValidPartnerID(partner) {
		return fmt.Errorf("%w: partner id %q: lower-case letters, digits and dashes, 2 to 63 characters", ErrInvalid, partner)
	}
	return nil
}

// Create makes a key for partner with role and an optional label (up to
// MaxLabelLen printable characters). It returns the key — the only time
// it exists outside the caller — and its metadata. Create does not check that
// the partner exists; callers create the partner first.
func (s *Store) Create(ctx context.Context, partner, role, label string) (string, Key, error) {
	if err := checkPartner(partner); err != nil {
		return "", Key{}, err
	}
	if !ValidRole(role) {
		return "", Key{}, fmt.Errorf("%w: role %q: must be %q or %q", ErrInvalid, role, RoleAdmin, RoleApp)
	}
	if !validLabel(label) {
		return "", Key{}, fmt.Errorf("%w: label: up to %d printable characters", ErrInvalid, MaxLabelLen)
	}
	// A collision of either item's key is astronomically unlikely; the
	// conditions make one fail loudly instead of overwriting, and a retry
	// draws new values.
	for attempt := 0; ; attempt++ {
		plain, k, err := s.create(ctx, partner, role, label)
		if errors.Is(err, errCollision) && attempt < 2 {
			continue
		}
		if err != nil {
			return "", Key{}, err
		}
		return plain, k, nil
	}
}

var errCollision = errors.New("key or key id already exists")

func (s *Store) create(ctx context.Context, partner, role, label string) (string, Key, error) {
	now := s.now().UTC()
	plain, err := generate()
	if err != nil {
		return "", Key{}, err
	}
	id, err := newID(now)
	if err != nil {
		return "", Key{}, err
	}
	hash := Hash(plain)
	it := keyItem{PartnerID: partner, ID: id, Role: role, Label: label, CreatedAt: now}
	hashItem, err := it.marshal(hashKey(hash))
	if err != nil {
		return "", Key{}, err
	}
	it.Last4, it.Hash = plain[len(plain)-4:], hash
	partnerItem, err := it.marshal(partnerKey(partner, id))
	if err != nil {
		return "", Key{}, err
	}
	absent := aws.String("attribute_not_exists(" + store.AttrPK + ")")
	k := it.key()
	change, err := store.ChangeOf("key", nil, auditedKey{Role: role, Label: label})
	if err != nil {
		return "", Key{}, err
	}
	rec := store.AuditRecord{At: now, Actor: store.ActorFrom(ctx), Action: store.AuditKeyCreate, Target: id, Changes: []store.AuditChange{change}}
	err = s.st.CommitAudited(ctx, partner, []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.table), Item: hashItem, ConditionExpression: absent}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: partnerItem, ConditionExpression: absent}},
	}, rec, store.Written{Result: k})
	if errors.Is(err, store.ErrConcurrentChange) {
		return "", Key{}, errCollision
	}
	if err != nil {
		return "", Key{}, fmt.Errorf("create key for %s: %w", partner, err)
	}
	return plain, k, nil
}

// auditedKey is what the audit trail keeps of a key: never the key.
type auditedKey struct {
	Role      string     `json:"role"`
	Label     string     `json:"label"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// DefaultListLimit and MaxListLimit bound a page of List.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

// List returns partner's keys (revoked ones too) in creation order, up to
// limit (DefaultListLimit when ≤ 0, at most MaxListLimit), starting after
// cursor (empty for the first page). next is the cursor of the following
// page, empty on the last page.
func (s *Store) List(ctx context.Context, partner string, limit int32, cursor string) ([]Key, string, error) {
	if err := checkPartner(partner); err != nil {
		return nil, "", err
	}
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("#pk = :pk AND begins_with(#sk, :sk)"),
		ExpressionAttributeNames: map[string]string{
			"#pk": store.AttrPK, "#sk": store.AttrSK,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: listPK(partner)},
			":sk": &types.AttributeValueMemberS{Value: store.APIKeyListPrefix},
		},
		ConsistentRead: aws.Bool(true),
		// One more than asked tells whether another page follows.
		Limit: aws.Int32(limit + 1),
	}
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !validID(string(b)) {
			return nil, "", fmt.Errorf("%w: %q", ErrBadCursor, cursor)
		}
		in.ExclusiveStartKey = itemKey(partnerKey(partner, string(b)))
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("list keys of %s: %w", partner, err)
	}
	var items []keyItem
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
		return nil, "", fmt.Errorf("unmarshal keys of %s: %w", partner, err)
	}
	next := ""
	switch {
	case len(items) > int(limit):
		items = items[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(items[limit-1].ID))
	case out.LastEvaluatedKey != nil && len(items) > 0:
		// The query stopped at its size limit before reaching limit+1 items.
		next = base64.RawURLEncoding.EncodeToString([]byte(items[len(items)-1].ID))
	}
	ks := make([]Key, len(items))
	for i := range items {
		ks[i] = items[i].key()
	}
	return ks, next, nil
}

// get reads one item consistently; found is false when it is absent.
func (s *Store) get(ctx context.Context, pk, sk string, out *keyItem) (found bool, err error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: itemKey(pk, sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, err
	}
	if res.Item == nil {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return false, fmt.Errorf("unmarshal %s: %w", sk, err)
	}
	return true, nil
}

// Revoke revokes partner's key id at once: Authenticate refuses it from then
// on. Revoking a revoked key changes nothing and returns it. An unknown id,
// or the id of another partner's key, is ErrNotFound. It revokes any key,
// the partner's last admin key too (the operator's break-glass: the API
// uses RevokeUnlessLastAdmin).
func (s *Store) Revoke(ctx context.Context, partner, keyID string) (Key, error) {
	return s.revoke(ctx, partner, keyID, false)
}

// RevokeUnlessLastAdmin is Revoke, except that it never revokes the
// partner's last active admin key (ErrLastAdminKey), also when admins revoke
// keys concurrently (see the package doc).
func (s *Store) RevokeUnlessLastAdmin(ctx context.Context, partner, keyID string) (Key, error) {
	return s.revoke(ctx, partner, keyID, true)
}

// revokeAttempts bounds the re-reads of a revocation that met a concurrent
// change (the key revoked meanwhile, the witness revoked, a conflict).
const revokeAttempts = 10

func (s *Store) revoke(ctx context.Context, partner, keyID string, keepAdmin bool) (Key, error) {
	if err := checkPartner(partner); err != nil {
		return Key{}, err
	}
	if !validID(keyID) {
		return Key{}, fmt.Errorf("key %q of %s: %w", keyID, partner, ErrNotFound)
	}
	for attempt := 0; ; attempt++ {
		var it keyItem
		pk, sk := partnerKey(partner, keyID)
		found, err := s.get(ctx, pk, sk, &it)
		if err != nil {
			return Key{}, fmt.Errorf("read key %s of %s: %w", keyID, partner, err)
		}
		if !found {
			return Key{}, fmt.Errorf("key %q of %s: %w", keyID, partner, ErrNotFound)
		}
		if it.RevokedAt != nil {
			return it.key(), nil
		}
		if it.Hash == "" {
			return Key{}, fmt.Errorf("key %s of %s has no hash", keyID, partner)
		}
		now := s.now().UTC()
		items, err := s.revocation(partner, &it, now)
		if err != nil {
			return Key{}, err
		}
		if keepAdmin && it.Role == RoleAdmin {
			witness, err := s.activeAdmin(ctx, partner, keyID)
			if err != nil {
				return Key{}, err
			}
			if witness == "" {
				return Key{}, fmt.Errorf("key %s of %s: %w", keyID, partner, ErrLastAdminKey)
			}
			items = append(items, s.stillActiveAdmin(partner, witness))
		}
		before := auditedKey{Role: it.Role, Label: it.Label}
		after := before
		after.RevokedAt = &now
		change, err := store.ChangeOf("key", before, after)
		if err != nil {
			return Key{}, err
		}
		revoked := it.key()
		revoked.RevokedAt = &now
		rec := store.AuditRecord{At: now, Actor: store.ActorFrom(ctx), Action: store.AuditKeyRevoke, Target: keyID, Changes: []store.AuditChange{change}}
		err = s.st.CommitAudited(ctx, partner, items, rec, store.Written{Result: revoked})
		if errors.Is(err, store.ErrConcurrentChange) && attempt+1 < revokeAttempts {
			// Revoked concurrently (the next read returns it), or the witness
			// was: read again. A short pause lets the other transaction end.
			if err := pause(ctx, attempt); err != nil {
				return Key{}, err
			}
			continue
		}
		if errors.Is(err, store.ErrConcurrentChange) {
			return Key{}, fmt.Errorf("revoke key %s of %s: %w", keyID, partner, store.ErrContention)
		}
		if err != nil {
			return Key{}, fmt.Errorf("revoke key %s of %s: %w", keyID, partner, err)
		}
		return revoked, nil
	}
}

// revocation is the updates that revoke a key's two items at now, each
// conditional on the key not being revoked yet.
func (s *Store) revocation(partner string, it *keyItem, now time.Time) ([]types.TransactWriteItem, error) {
	at, err := attributevalue.Marshal(now)
	if err != nil {
		return nil, fmt.Errorf("marshal time: %w", err)
	}
	update := func(pk, sk string) types.TransactWriteItem {
		return types.TransactWriteItem{Update: &types.Update{
			TableName:                 aws.String(s.table),
			Key:                       itemKey(pk, sk),
			UpdateExpression:          aws.String("SET #rev = :now"),
			ConditionExpression:       aws.String("attribute_exists(#pk) AND attribute_not_exists(#rev)"),
			ExpressionAttributeNames:  map[string]string{"#rev": "revoked", "#pk": store.AttrPK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": at},
		}}
	}
	return []types.TransactWriteItem{update(partnerKey(partner, it.ID)), update(hashKey(it.Hash))}, nil
}

// stillActiveAdmin is the check that key id of partner is an active admin
// key: the witness of a revocation of another admin key.
func (s *Store) stillActiveAdmin(partner, id string) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                aws.String(s.table),
		Key:                      itemKey(partnerKey(partner, id)),
		ConditionExpression:      aws.String("#role = :admin AND attribute_not_exists(#rev)"),
		ExpressionAttributeNames: map[string]string{"#role": "role", "#rev": "revoked"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":admin": &types.AttributeValueMemberS{Value: RoleAdmin},
		},
	}}
}

// activeAdmin returns the id of an active admin key of partner other than
// but ("" when there is none), reading the partner's keys consistently.
func (s *Store) activeAdmin(ctx context.Context, partner, but string) (string, error) {
	for cursor := ""; ; {
		page, next, err := s.List(ctx, partner, MaxListLimit, cursor)
		if err != nil {
			return "", err
		}
		for _, k := range page {
			if k.ID != but && k.Role == RoleAdmin && !k.Revoked() {
				return k.ID, nil
			}
		}
		if next == "" {
			return "", nil
		}
		cursor = next
	}
}

// pause waits a little before attempt+1 (jittered, growing), or fails when
// ctx is done.
func pause(ctx context.Context, attempt int) error {
	d := time.Duration(1+mathrand.IntN(5<<min(attempt, 4))) * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("revoke: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

// Authenticate checks a bearer token: the value of an Authorization header
// ("Bearer acr_…", the scheme in any case) or the bare key. It reads the key's
// item strongly consistently every time — nothing is cached — so a revoked
// key stops working at once.
//
// A malformed, unknown or revoked key is ErrUnauthenticated, wrapped with the
// reason (for logs; never tell the client which). A failure to read the table
// is another error, not ErrUnauthenticated.
func (s *Store) Authenticate(ctx context.Context, bearerToken string) (Principal, error) {
	key, err := parseBearer(bearerToken)
	if err != nil {
		return Principal{}, err
	}
	var it keyItem
	hpk, hsk := hashKey(Hash(key))
	found, err := s.get(ctx, hpk, hsk, &it)
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: read key: %w", err)
	}
	if !found {
		return Principal{}, fmt.Errorf("%w: unknown key", ErrUnauthenticated)
	}
	if it.RevokedAt != nil {
		return Principal{}, fmt.Errorf("%w: key %s of %s was revoked at %s", ErrUnauthenticated, it.ID, it.PartnerID, it.RevokedAt.Format(time.RFC3339))
	}
	if !payment.ValidPartnerID(it.PartnerID) || !ValidRole(it.Role) || it.ID == "" {
		return Principal{}, fmt.Errorf("%w: key %s has a corrupt item (partner %q, role %q)", ErrUnauthenticated, it.ID, it.PartnerID, it.Role)
	}
	return Principal{PartnerID: it.PartnerID, KeyID: it.ID, Role: it.Role}, nil
}

// parseBearer extracts a well-formed key from a bearer token.
func parseBearer(token string) (string, error) {
	t := strings.TrimSpace(token)
	if t == "" {
		return "", fmt.Errorf("%w: no bearer token", ErrUnauthenticated)
	}
	if scheme, rest, ok := strings.Cut(t, " "); ok {
		if !strings.EqualFold(scheme, "Bearer") {
			return "", fmt.Errorf("%w: authorization scheme is not Bearer", ErrUnauthenticated)
		}
		t = strings.TrimLeft(rest, " ")
	}
	if len(t) != Len || !strings.HasPrefix(t, Prefix) {
		return "", fmt.Errorf("%w: malformed key (want %s and %d base64url characters)", ErrUnauthenticated, Prefix, Len-len(Prefix))
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(t[len(Prefix):])
	if err != nil || len(b) != secretBytes {
		return "", fmt.Errorf("%w: malformed key (not base64url)", ErrUnauthenticated)
	}
	return t, nil
}
