package webhooks

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// KMS is the part of the KMS client the secret box uses.
type KMS interface {
	Encrypt(ctx context.Context, in *kms.EncryptInput, opts ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// KeyEnv is the environment variable naming the KMS key of the webhooks'
// secrets (its ARN, or locally its id).
const KeyEnv = "ACCRUE_WEBHOOK_KEY"

// The purposes the key is used for, in the encryption context of every
// ciphertext ("purpose"): IAM lets each function decrypt only its own (the
// stack's conditions on kms:EncryptionContext:purpose).
const (
	// PurposeSigningSecret: an endpoint's signing secret. The api function
	// encrypts it; only the webhooks function decrypts it.
	PurposeSigningSecret = "webhook-signing-secret"
	// PurposeIdempotentResponse: the stored answer of POST /v1/webhooks
	// (which shows the new secret), replayed to a retry with the same
	// Idempotency-Key. The api function encrypts and decrypts it.
	PurposeIdempotentResponse = "idempotent-response"
)

// Box encrypts and decrypts with the stack's webhook key (a customer-managed
// KMS key of its own): an endpoint's signing secret is stored in the table
// only as this ciphertext, bound by its encryption context to the partner
// and the endpoint, so it is not readable from the table, its stream, its
// backups or exports, nor by a function or person allowed to read the table
// but not to decrypt with this key.
type Box struct {
	client KMS
	key    string
}

// NewBox returns a box on the KMS key key (an ARN, id or alias).
func NewBox(client KMS, key string) *Box { return &Box{client: client, key: key} }

// ErrEmpty: KMS refuses to encrypt nothing.
var ErrEmpty = errors.New("nothing to encrypt")

// EncryptSecret encrypts an endpoint's signing secret.
func (b *Box) EncryptSecret(ctx context.Context, partner, webhook, secret string) ([]byte, error) {
	return b.encrypt(ctx, secretContext(partner, webhook), []byte(secret))
}

// DecryptSecret decrypts an endpoint's signing secret.
func (b *Box) DecryptSecret(ctx context.Context, partner, webhook string, blob []byte) (string, error) {
	p, err := b.decrypt(ctx, secretContext(partner, webhook), blob)
	return string(p), err
}

// Seal encrypts a stored response of the partner's.
func (b *Box) Seal(ctx context.Context, partner string, body []byte) ([]byte, error) {
	return b.encrypt(ctx, responseContext(partner), body)
}

// Open decrypts a response Seal encrypted.
func (b *Box) Open(ctx context.Context, partner string, blob []byte) ([]byte, error) {
	return b.decrypt(ctx, responseContext(partner), blob)
}

func secretContext(partner, webhook string) map[string]string {
	return map[string]string{"purpose": PurposeSigningSecret, "partner": partner, "webhook": webhook}
}

func responseContext(partner string) map[string]string {
	return map[string]string{"purpose": PurposeIdempotentResponse, "partner": partner}
}

func (b *Box) encrypt(ctx context.Context, ec map[string]string, plain []byte) ([]byte, error) {
	if len(plain) == 0 {
		return nil, ErrEmpty
	}
	out, err := b.client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(b.key), Plaintext: plain, EncryptionContext: ec})
	if err != nil {
		return nil, fmt.Errorf("kms encrypt (%s): %w", ec["purpose"], err)
	}
	return out.CiphertextBlob, nil
}

func (b *Box) decrypt(ctx context.Context, ec map[string]string, blob []byte) ([]byte, error) {
	out, err := b.client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(b.key), CiphertextBlob: blob, EncryptionContext: ec})
	if err != nil {
		return nil, fmt.Errorf("kms decrypt (%s): %w", ec["purpose"], err)
	}
	return out.Plaintext, nil
}
