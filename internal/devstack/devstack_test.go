package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/internal/devstack"
	"github.com/accrue/accrue/shared/eventschema/eventschematest"
	"github.com/accrue/accrue/shared/webhooks"
)

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func need(t *testing.T, tool, install string) string {
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s not found: %s", tool, install)
	}
	return p
}

// The README's client journey against a real local stack: the aws CLI drops a
// payment on the queue, curl reads the balance and redeems.
func TestClientJourney(t *testing.T) {
	awsCLI := need(t, "aws", "pip install awscli")
	curl := need(t, "curl", "apt-get install curl")
	dir := t.TempDir()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	ctx, cancel := context.WithCancel(context.Background())
	envCh := make(chan devstack.Env, 1)
	done := make(chan error, 1)
	go func() {
		done <- devstack.Run(ctx, devstack.Config{
			Addr: freeAddr(t), Dir: dir, Fresh: true, ProgramFile: filepath.Join(root, "events", "program-telco.json"),
			Visibility: time.Second,
		}, func(e devstack.Env) { envCh <- e })
	}()
	var env devstack.Env
	select {
	case env = <-envCh:
	case err := <-done:
		t.Fatalf("local stack did not start: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("local stack did not start in 90s")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("local stack stopped with %v", err)
		}
	}()
	// dev.env is written for scripts.
	raw, err := os.ReadFile(filepath.Join(dir, "dev.env"))
	if err != nil || !strings.Contains(string(raw), "ACCRUE_API_KEY="+env.APIKey) || !strings.Contains(string(raw), "ACCRUE_QUEUE_URL=") {
		t.Fatalf("dev.env: %s %v", raw, err)
	}

	run := func(name string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION="+env.Region, "AWS_PAGER=")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return out
	}
	run(awsCLI, "--endpoint-url", env.MotoEndpoint, "--region", env.Region, "sqs", "send-message", "--queue-url", env.QueueURL,
		"--message-body", "file://events/payment.json")

	auth := "Authorization: Bearer " + env.APIKey
	var member struct {
		Balances struct{ Available int64 } `json:"balances"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for member.Balances.Available == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the payment was not consumed from the queue within 30s")
		}
		time.Sleep(300 * time.Millisecond)
		out := run(curl, "-s", "-H", auth, env.APIURL+"/v1/members/cust-42")
		_ = json.Unmarshal(out, &member)
	}
	if member.Balances.Available != 12 {
		t.Fatalf("available %d, want 12", member.Balances.Available)
	}
	out := run(curl, "-s", "-X", "POST", "-H", auth, "-H", "Content-Type: application/json",
		"-d", `{"points":5,"capture":true}`, env.APIURL+"/v1/members/cust-42/redemptions")
	var red struct {
		Balances struct{ Available int64 } `json:"balances"`
	}
	if err := json.Unmarshal(out, &red); err != nil || red.Balances.Available != 7 {
		t.Fatalf("redemption: %s", out)
	}

	// Both changes reach the local event bus as domain events (stream → EventBridge),
	// where a rule copies them to ACCRUE_EVENTS_QUEUE_URL.
	seen := map[string]bool{}
	deadline = time.Now().Add(30 * time.Second)
	for !(seen["points.earned"] && seen["points.redeemed"]) {
		if time.Now().After(deadline) {
			t.Fatalf("domain events seen: %v; want points.earned and points.redeemed", seen)
		}
		out := run(awsCLI, "--endpoint-url", env.MotoEndpoint, "--region", env.Region, "sqs", "receive-message",
			"--queue-url", env.EventsQueueURL, "--max-number-of-messages", "10", "--wait-time-seconds", "1")
		var msgs struct{ Messages []struct{ Body string } }
		_ = json.Unmarshal(out, &msgs)
		for _, m := range msgs.Messages {
			var ev struct {
				DetailType string `json:"detail-type"`
				Detail     struct {
					MemberID string `json:"member_id"`
				} `json:"detail"`
			}
			if json.Unmarshal([]byte(m.Body), &ev) == nil && ev.Detail.MemberID == "cust-42" {
				seen[ev.DetailType] = true
				// Each is what the event catalogue describes.
				var raw struct {
					Detail json.RawMessage `json:"detail"`
				}
				_ = json.Unmarshal([]byte(m.Body), &raw)
				if err := eventschematest.Check(raw.Detail); err != nil {
					t.Error(err)
				}
			}
		}
	}

	// A bulk import through the API, as the README shows it: POST
	// /v1/imports gives an upload URL; curl PUTs the sample file to it (moto's
	// S3); the bucket notifies the imports queue, which the local stack
	// consumes as the imports function does; GET /v1/imports/{id} follows it.
	out = run(curl, "-s", "-X", "POST", "-H", auth, "-H", "Content-Type: application/json",
		"-d", `{"file_name":"import-members.csv"}`, env.APIURL+"/v1/imports")
	var imp struct {
		ID     string `json:"id"`
		Upload struct {
			URL string `json:"url"`
		} `json:"upload"`
	}
	if err := json.Unmarshal(out, &imp); err != nil || imp.ID == "" || imp.Upload.URL == "" {
		t.Fatalf("POST /v1/imports: %s", out)
	}
	run(curl, "-s", "-f", "-X", "PUT", "--upload-file", "events/import-members.csv", imp.Upload.URL)
	var job struct {
		Status   string `json:"status"`
		Imported int64  `json:"imported"`
		Rejected int64  `json:"rejected"`
	}
	deadline = time.Now().Add(60 * time.Second)
	for job.Status != "completed" {
		if time.Now().After(deadline) {
			t.Fatalf("the uploaded import did not complete within 60s: %+v", job)
		}
		time.Sleep(300 * time.Millisecond)
		_ = json.Unmarshal(run(curl, "-s", "-H", auth, env.APIURL+"/v1/imports/"+imp.ID), &job)
	}
	if job.Imported != 3 || job.Rejected != 0 {
		t.Fatalf("import %+v, want the sample's 3 members", job)
	}
	out = run(curl, "-s", "-H", auth, env.APIURL+"/v1/members/cust-1001")
	if err := json.Unmarshal(out, &member); err != nil || member.Balances.Available != 1550 {
		t.Fatalf("imported member: %s", out)
	}

	// make invoke FN=imports on the sample notification: an upload of an
	// import that does not exist is ignored (no batch item failure).
	var ibuf bytes.Buffer
	if err := devstack.Invoke(ctx, dir, "imports", filepath.Join(root, "events", "sqs-import-upload.json"), &ibuf); err != nil {
		t.Fatalf("invoke imports: %v", err)
	}
	if strings.Contains(ibuf.String(), `"itemIdentifier"`) {
		t.Fatalf("imports response: %s", ibuf.Bytes())
	}

	// make invoke runs a scheduled job against the running stack: nothing is
	// due yet (the demo program has no pending period; points expire in a year).
	var buf bytes.Buffer
	if err := devstack.Invoke(ctx, dir, "jobs", filepath.Join(root, "events", "schedule-member-jobs.json"), &buf); err != nil {
		t.Fatalf("invoke jobs: %v", err)
	}
	var rep struct {
		Members *int `json:"members"`
		Failed  int  `json:"failed"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rep); err != nil || rep.Members == nil || rep.Failed != 0 {
		t.Fatalf("jobs report: %s %v", buf.Bytes(), err)
	}

	// The stats roll-up, invoked the same way, writes today's figures so far
	// (program time zone) that GET /v1/stats reads, from what the stack's
	// stats consumer summed of the stream (it reads it as the events
	// publisher does, on its own: the roll-up is run until it shows it).
	msk, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		buf.Reset()
		if err := devstack.Invoke(ctx, dir, "rollup", filepath.Join(root, "events", "schedule-rollup.json"), &buf); err != nil {
			t.Fatalf("invoke rollup: %v", err)
		}
		today := time.Now().In(msk).Format(time.DateOnly)
		out = run(curl, "-s", "-H", auth, env.APIURL+"/v1/stats?from="+today+"&to="+today)
		var stats struct {
			Data []struct {
				Day      string `json:"day"`
				Issued   int64  `json:"issued"`
				Redeemed int64  `json:"redeemed"`
			} `json:"data"`
		}
		err := json.Unmarshal(out, &stats)
		if err == nil && len(stats.Data) == 1 && stats.Data[0].Issued == 12 && stats.Data[0].Redeemed == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats after the roll-up: %s, %v (rollup report %s)", out, err, buf.Bytes())
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The stats consumer on a sample windowed stream batch (the sample's day
	// is in the past: today's figures above are not touched).
	buf.Reset()
	if err := devstack.Invoke(ctx, dir, "stats", filepath.Join(root, "events", "stream-stats.json"), &buf); err != nil {
		t.Fatalf("invoke stats: %v", err)
	}
	if !strings.Contains(buf.String(), `"state":{}`) || strings.Contains(buf.String(), `"itemIdentifier"`) {
		t.Fatalf("stats response: %s", buf.Bytes())
	}

	// The events function on a sample stream batch (a payment's member and
	// entry inserts): its points.earned reaches the local bus and its queue.
	buf.Reset()
	if err := devstack.Invoke(ctx, dir, "events", filepath.Join(root, "events", "stream-payment-earned.json"), &buf); err != nil {
		t.Fatalf("invoke events: %v", err)
	}
	if strings.Contains(buf.String(), `"itemIdentifier"`) {
		t.Fatalf("events response: %s", buf.Bytes())
	}
	deadline = time.Now().Add(30 * time.Second)
	for found := false; !found; {
		if time.Now().After(deadline) {
			t.Fatal("the sample's points.earned did not reach the events queue")
		}
		out := run(awsCLI, "--endpoint-url", env.MotoEndpoint, "--region", env.Region, "sqs", "receive-message",
			"--queue-url", env.EventsQueueURL, "--max-number-of-messages", "10", "--wait-time-seconds", "1")
		var msgs struct{ Messages []struct{ Body string } }
		_ = json.Unmarshal(out, &msgs)
		for _, m := range msgs.Messages {
			found = found || (strings.Contains(m.Body, `"points.earned"`) && strings.Contains(m.Body, `2026-11-05T10:00:00Z`))
		}
	}

	// Webhooks, as the README's make dev section shows them: a webhook to a
	// local receiver (accrue webhook listen), which prints the redemption's
	// event, verified.
	listenAddr := freeAddr(t)
	out = run(curl, "-s", "-X", "POST", "-H", auth, "-H", "Content-Type: application/json",
		"-d", `{"url":"http://`+listenAddr+`/","event_types":["points.redeemed"]}`, env.APIURL+"/v1/webhooks")
	var wh struct{ ID, Secret string }
	if err := json.Unmarshal(out, &wh); err != nil || wh.Secret == "" {
		t.Fatalf("POST /v1/webhooks: %s", out)
	}
	bin := filepath.Join(dir, "accrue")
	run("go", "build", "-o", bin, "./cmd/accrue")
	listened, err := os.Create(filepath.Join(dir, "listen.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer listened.Close()
	printed := func() string { b, _ := os.ReadFile(listened.Name()); return string(b) }
	listener := exec.Command(bin, "webhook", "listen", "--addr", listenAddr, "--secret", wh.Secret)
	listener.Stdout, listener.Stderr = listened, listened
	if err := listener.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = listener.Process.Kill(); _ = listener.Wait() }()
	time.Sleep(webhooks.DefaultCacheTTL) // a new endpoint is seen by deliveries within it
	run(curl, "-s", "-X", "POST", "-H", auth, "-H", "Content-Type: application/json",
		"-d", `{"points":2,"capture":true}`, env.APIURL+"/v1/members/cust-42/redemptions")
	deadline = time.Now().Add(60 * time.Second)
	for !strings.Contains(printed(), "points.redeemed member=cust-42") {
		if time.Now().After(deadline) {
			t.Fatalf("the receiver printed no verified points.redeemed:\n%s", printed())
		}
		time.Sleep(200 * time.Millisecond)
	}
	out = run(curl, "-s", "-H", auth, env.APIURL+"/v1/webhooks/"+wh.ID+"/deliveries?status=delivered")
	if !strings.Contains(string(out), `"event_type":"points.redeemed"`) {
		t.Errorf("the delivery log: %s", out)
	}
}
