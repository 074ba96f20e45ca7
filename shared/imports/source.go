package imports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithy "github.com/aws/smithy-go"

	"github.com/accrue/accrue/shared/payment"
)

// FileSource is a local import file (the CLI's).
type FileSource struct{ Path string }

// Open opens the file at offset.
func (f FileSource) Open(_ context.Context, offset int64) (io.ReadCloser, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("open the import file: %w", err)
	}
	if _, err := fh.Seek(offset, io.SeekStart); err != nil {
		fh.Close()
		return nil, fmt.Errorf("seek the import file to byte %d: %w", offset, err)
	}
	return fh, nil
}

// Version is "": a local import's id is its content's hash (ContentID).
func (FileSource) Version(context.Context) (string, error) { return "", nil }

// S3API is what imports use of S3.
type S3API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// S3Source is an uploaded import file: the object of an import in the
// imports bucket (ObjectKey). Reads are pinned to the version (ETag) the
// import started with.
type S3Source struct {
	Client      S3API
	Bucket, Key string
	etag        string
	size        int64
}

// ErrFileChanged: the uploaded file is not the one the import started with.
var ErrFileChanged = errors.New("the uploaded file changed while it was imported")

// Version is the object's ETag.
func (s *S3Source) Version(ctx context.Context) (string, error) {
	out, err := s.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.Key)})
	if err != nil {
		return "", fmt.Errorf("head s3://%s/%s: %w", s.Bucket, s.Key, err)
	}
	s.etag, s.size = aws.ToString(out.ETag), aws.ToInt64(out.ContentLength)
	return s.etag, nil
}

// Open reads the object from offset on (a ranged GET), on condition that it
// is still the version Version saw.
func (s *S3Source) Open(ctx context.Context, offset int64) (io.ReadCloser, error) {
	if offset >= s.size && s.etag != "" {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.Key)}
	if offset > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	if s.etag != "" {
		in.IfMatch = aws.String(s.etag)
	}
	out, err := s.Client.GetObject(ctx, in)
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed" {
		return nil, fmt.Errorf("s3://%s/%s: %w", s.Bucket, s.Key, ErrFileChanged)
	}
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s from byte %d: %w", s.Bucket, s.Key, offset, err)
	}
	return out.Body, nil
}

// Uploads are import files in the imports bucket: each import's file is the
// object ObjectKey(partner, id), written by the partner through a presigned
// PUT URL that names that key and nothing else.
const objectPrefix = "imports/"

// ObjectKey is the key of an import's file in the imports bucket.
func ObjectKey(partner, id string) string { return objectPrefix + partner + "/" + id }

// ParseObjectKey returns the partner and the import of an object key
// (ok false for any other key).
func ParseObjectKey(key string) (partner, id string, ok bool) {
	rest, found := strings.CutPrefix(key, objectPrefix)
	if !found {
		return "", "", false
	}
	partner, id, found = strings.Cut(rest, "/")
	if !found || !payment.ValidPartnerID(partner) || !ValidID(id) {
		return "", "", false
	}
	return partner, id, true
}

// UploadTTL is how long an upload URL can be used (to start the upload).
const UploadTTL = time.Hour

// Upload is where and how a partner uploads an import's file.
type Upload struct {
	URL       string            `json:"url"`
	Method    string            `json:"method"`
	Headers   map[string]string `json:"headers,omitempty"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// Uploads signs the upload URLs of imports' files.
type Uploads struct {
	Presign *s3.PresignClient
	Bucket  string
	Now     func() time.Time
}

// NewUploads signs upload URLs into bucket with client's credentials (the
// api function's role, which may put objects under the imports/ prefix of
// the bucket and nothing else).
func NewUploads(client *s3.Client, bucket string) *Uploads {
	return &Uploads{Presign: s3.NewPresignClient(client), Bucket: bucket, Now: time.Now}
}

// UploadURL is a presigned PUT of import id's file: it writes exactly the
// object ObjectKey(partner, id), for UploadTTL.
func (u *Uploads) UploadURL(ctx context.Context, partner, id string) (Upload, error) {
	req, err := u.Presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(u.Bucket), Key: aws.String(ObjectKey(partner, id))},
		s3.WithPresignExpires(UploadTTL))
	if err != nil {
		return Upload{}, fmt.Errorf("sign the upload URL of import %s: %w", id, err)
	}
	up := Upload{URL: req.URL, Method: req.Method, ExpiresAt: u.Now().Add(UploadTTL).UTC().Truncate(time.Second)}
	for k, vs := range req.SignedHeader {
		if len(vs) > 0 && !strings.EqualFold(k, "host") {
			if up.Headers == nil {
				up.Headers = map[string]string{}
			}
			up.Headers[k] = vs[0]
		}
	}
	return up, nil
}
