package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// fakeSTS answers AssumeRole (the query protocol's XML) on 127.0.0.1 and
// keeps the form of every request.
type fakeSTS struct {
	mu    sync.Mutex
	forms []url.Values
}

func (f *fakeSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "AssumeRole" {
		http.Error(w, "not AssumeRole", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.forms = append(f.forms, r.PostForm)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprint(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>ASIAFAKEASSUMED</AccessKeyId>
      <SecretAccessKey>assumed-secret</SecretAccessKey>
      <SessionToken>assumed-token</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <AssumedRoleId>AROAFAKE:accrue</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/operator/accrue</Arn>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
</AssumeRoleResponse>`)
}

func (f *fakeSTS) requests() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.forms...)
}

// An AWS profile that assumes a role with MFA (role_arn, source_profile,
// mfa_serial) works: the CLI asks for the code and the code reaches STS's
// AssumeRole as TokenCode, with the device as SerialNumber; the assumed
// credentials then serve the command (issue #9, item 12).
func TestMFAProfile(t *testing.T) {
	t.Parallel()
	e := newTenv(t)
	sts := &fakeSTS{}
	srv := httptest.NewServer(sts)
	t.Cleanup(srv.Close)
	const serial = "arn:aws:iam::123456789012:mfa/operator"
	const role = "arn:aws:iam::123456789012:role/operator"
	cfgFile := e.file("config", fmt.Sprintf(`[profile base]
aws_access_key_id = AKIAFAKEBASE
aws_secret_access_key = base-secret

[profile ops-mfa]
role_arn = %s
source_profile = base
mfa_serial = %s
role_session_name = accrue
services = fake-sts

[services fake-sts]
sts =
  endpoint_url = %s
`, role, serial, srv.URL))
	// Only the profile: no keys in the environment.
	delete(e.vars, "AWS_ACCESS_KEY_ID")
	delete(e.vars, "AWS_SECRET_ACCESS_KEY")
	e.vars["AWS_PROFILE"] = "ops-mfa"
	e.vars["AWS_CONFIG_FILE"] = cfgFile
	e.vars["AWS_SHARED_CREDENTIALS_FILE"] = e.file("credentials", "")
	e.vars["AWS_EC2_METADATA_DISABLED"] = "true"

	run := func(token func() (string, error), args ...string) result {
		var out, errOut bytes.Buffer
		c := &cli{stdout: &out, stderr: &errOut, env: e.env, mfaToken: token}
		return result{c.main(t.Context(), args), out.String(), errOut.String()}
	}
	asked := 0
	r := run(func() (string, error) { asked++; return "123456", nil }, "key", "list", "--partner", "telco")
	if r.code != 0 || asked != 1 {
		t.Fatalf("key list with an MFA profile: exit %d, asked %d times\nstdout: %s\nstderr: %s", r.code, asked, r.stdout, r.stderr)
	}
	reqs := sts.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d AssumeRole requests, want 1", len(reqs))
	}
	if f := reqs[0]; f.Get("TokenCode") != "123456" || f.Get("SerialNumber") != serial || f.Get("RoleArn") != role || f.Get("RoleSessionName") != "accrue" {
		t.Fatalf("AssumeRole form %v, want TokenCode 123456, SerialNumber %s, RoleArn %s", f, serial, role)
	}

	// A prompt that fails (no terminal, a bad code) is the command's error.
	r = run(func() (string, error) { return "", errors.New("no terminal to ask on") }, "key", "list", "--partner", "telco")
	if r.code != 1 || !strings.Contains(r.stderr, "no terminal to ask on") {
		t.Fatalf("failing prompt: exit %d, stderr %q", r.code, r.stderr)
	}
	if n := len(sts.requests()); n != 1 {
		t.Fatalf("%d AssumeRole requests after a failed prompt, want still 1", n)
	}
}

// The terminal prompt reads a six-digit code and says which profile wants it.
func TestPromptMFA(t *testing.T) {
	for _, c := range []struct {
		in, code string
		ok       bool
	}{
		{"123456\n", "123456", true},
		{" 012345 \r\n", "012345", true},
		{"654321", "654321", true}, // end of input without a newline
		{"12345\n", "", false},
		{"abcdef\n", "", false},
		{"", "", false},
	} {
		var w bytes.Buffer
		code, err := promptMFA(strings.NewReader(c.in), &w, "ops-mfa")
		if (err == nil) != c.ok || code != c.code || !strings.Contains(w.String(), "MFA code for AWS profile ops-mfa") {
			t.Errorf("promptMFA(%q) = %q, %v (prompt %q)", c.in, code, err, w.String())
		}
	}
}
