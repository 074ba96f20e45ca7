package imports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/internal/importtest"
	"github.com/accrue/accrue/shared/imports"
	"github.com/accrue/accrue/shared/store"
)

// s3env is the imports function's world on moto: the bucket, the queue.
type s3env struct {
	*env
	s3       *s3.Client
	sqs      *sqs.Client
	bucket   string
	queueURL string
	h        *imports.Handler
}

func newS3Env(t *testing.T) *s3env {
	e := &s3env{env: newEnv(t, "telco", "other"), s3: awstest.S3Client(t), sqs: awstest.SQSClient(t)}
	e.bucket = awstest.NewBucket(t, e.s3)
	e.queueURL = awstest.NewQueue(t, e.sqs, "imports", nil)
	e.h = &imports.Handler{Runner: e.runner(), S3: e.s3, SQS: e.sqs, Bucket: e.bucket, QueueURL: e.queueURL, Log: quiet()}
	return e
}

// upload creates an import of partner the way POST /v1/imports does and
// PUTs body to its presigned URL, as a partner would.
func (e *s3env) upload(partner string, body []byte) string {
	e.t.Helper()
	id := imports.NewID()
	if _, err := e.st.CreateImport(context.Background(), store.ImportJob{ID: id, PartnerID: partner, Format: "jsonl",
		Status: store.ImportAwaitingUpload, Actor: "key", At: at}); err != nil {
		e.t.Fatal(err)
	}
	up, err := (&imports.Uploads{Presign: s3.NewPresignClient(e.s3), Bucket: e.bucket, Now: time.Now}).UploadURL(context.Background(), partner, id)
	if err != nil {
		e.t.Fatal(err)
	}
	if up.Method != http.MethodPut || !strings.Contains(up.URL, imports.ObjectKey(partner, id)) || !strings.Contains(up.URL, "X-Amz-Signature=") {
		e.t.Fatalf("upload %+v", up)
	}
	req, _ := http.NewRequest(up.Method, up.URL, bytes.NewReader(body))
	for k, v := range up.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		e.t.Fatalf("PUT the file: %v %v", resp, err)
	}
	resp.Body.Close()
	return id
}

// notification is the S3 event notification of an object created.
func (e *s3env) notification(key string) events.SQSEvent {
	body, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{
		"eventName": "ObjectCreated:Put",
		"s3":        map[string]any{"bucket": map[string]any{"name": e.bucket}, "object": map[string]any{"key": key}},
	}}})
	return events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m-1", Body: string(body)}}}
}

// An uploaded file's notification starts its import; an invocation that
// nears its deadline stops, queues its continuation, and the next one goes
// on until the import is complete.
func TestHandlerRunsUploadInInvocations(t *testing.T) {
	e := newS3Env(t)
	var b bytes.Buffer
	if err := importtest.Write(&b, "jsonl", 0, 300, at, false, nil); err != nil {
		t.Fatal(err)
	}
	id := e.upload("telco", b.Bytes())
	ev := e.notification(imports.ObjectKey("telco", id))
	invocations := 0
	for {
		invocations++
		if invocations > 50 {
			t.Fatal("the import never completed")
		}
		// An invocation with 300 ms to work after its margin.
		e.h.Margin = time.Second
		ctx, cancel := context.WithTimeout(t.Context(), e.h.Margin+300*time.Millisecond)
		resp, err := e.h.HandleSQS(ctx, ev)
		cancel()
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("invocation %d: %+v, %v", invocations, resp, err)
		}
		job, err := e.st.Import(t.Context(), "telco", id)
		if err != nil {
			t.Fatal(err)
		}
		if job.Status == store.ImportCompleted {
			if job.Imported != 300 || job.ETag == "" {
				t.Fatalf("completed import %+v", job)
			}
			break
		}
		// The continuation is the next invocation's message.
		out, err := e.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queueURL), WaitTimeSeconds: 1})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("invocation %d left no continuation: %+v, %v (job %+v)", invocations, out, err, job)
		}
		m := out.Messages[0]
		if !strings.Contains(aws.ToString(m.Body), id) {
			t.Fatalf("continuation %s", aws.ToString(m.Body))
		}
		_, _ = e.sqs.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(e.queueURL), ReceiptHandle: m.ReceiptHandle})
		ev = events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m", Body: aws.ToString(m.Body)}}}
	}
	if invocations < 2 {
		t.Fatalf("%d invocations: the deadline did not cut the import", invocations)
	}
	e.checkAll(t, "telco", id, 300, nil)
}

// Objects that are no import's file, another bucket, or an import of
// another partner than the key names: nothing is imported.
func TestHandlerIgnoresOtherObjects(t *testing.T) {
	e := newS3Env(t)
	var b bytes.Buffer
	if err := importtest.Write(&b, "jsonl", 0, 5, at, false, nil); err != nil {
		t.Fatal(err)
	}
	id := e.upload("telco", b.Bytes())
	for _, key := range []string{"other/file", "imports/telco/not-an-id", imports.ObjectKey("other", id)} {
		if resp, err := e.h.HandleSQS(t.Context(), e.notification(key)); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%s: %+v, %v", key, resp, err)
		}
	}
	wrongBucket := e.notification(imports.ObjectKey("telco", id))
	wrongBucket.Records[0].Body = strings.ReplaceAll(wrongBucket.Records[0].Body, e.bucket, "elsewhere")
	for _, ev := range []events.SQSEvent{wrongBucket, {Records: []events.SQSMessage{{MessageId: "t", Body: `{"Event":"s3:TestEvent"}`}, {MessageId: "x", Body: "not json"}}}} {
		if resp, err := e.h.HandleSQS(t.Context(), ev); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%+v, %v", resp, err)
		}
	}
	job, err := e.st.Import(t.Context(), "telco", id)
	if err != nil || job.Status != store.ImportAwaitingUpload {
		t.Fatalf("%+v, %v", job, err)
	}
	if _, err := e.st.Member(t.Context(), "other", importtest.MemberID(0)); err == nil {
		t.Fatal("a member was imported into another partner")
	}
}

// A file replaced after its import started fails the import instead of
// mixing two files.
func TestHandlerFileChanged(t *testing.T) {
	e := newS3Env(t)
	var b bytes.Buffer
	if err := importtest.Write(&b, "jsonl", 0, 200, at, false, nil); err != nil {
		t.Fatal(err)
	}
	id := e.upload("telco", b.Bytes())
	e.h.Margin = time.Second
	ctx, cancel := context.WithTimeout(t.Context(), e.h.Margin+200*time.Millisecond)
	if _, err := e.h.HandleSQS(ctx, e.notification(imports.ObjectKey("telco", id))); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := e.s3.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(imports.ObjectKey("telco", id)),
		Body: strings.NewReader(`{"member_id":"someone-else"}` + "\n")}); err != nil {
		t.Fatal(err)
	}
	if resp, err := e.h.HandleSQS(t.Context(), e.notification(imports.ObjectKey("telco", id))); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%+v, %v", resp, err)
	}
	job, err := e.st.Import(t.Context(), "telco", id)
	if err != nil || job.Status != store.ImportFailed || !strings.Contains(job.Error, "changed") {
		t.Fatalf("%+v, %v", job, err)
	}
}
