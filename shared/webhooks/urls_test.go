package webhooks

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// fakeResolver answers host names from a map (no DNS in tests).
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	as, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range as {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestCheckURL(t *testing.T) {
	r := fakeResolver{
		"hooks.example.com":  {"93.184.215.14"},
		"internal.example":   {"10.1.2.3"},
		"mixed.example":      {"93.184.215.14", "127.0.0.1"},
		"metadata.example":   {"169.254.169.254"},
		"v6private.example":  {"fd00:ec2::254"},
		"v6public.example":   {"2606:4700::1111"},
		"mapped.example":     {"::ffff:192.168.1.1"},
		"carriernat.example": {"100.64.0.1"},
	}
	for _, tc := range []struct {
		url    string
		policy URLPolicy
		want   string // "" accepted, else a word of the refusal
	}{
		{"https://hooks.example.com/accrue", PolicyHTTPS, ""},
		{"https://hooks.example.com:8443/a?b=c", PolicyHTTPS, ""},
		{"https://v6public.example/", PolicyHTTPS, ""},
		{"https://not-registered-yet.example/", PolicyHTTPS, ""}, // checked again at each connection
		{"https://93.184.215.14/", PolicyHTTPS, ""},
		{"http://hooks.example.com/", PolicyHTTPS, "https"},
		{"http://hooks.example.com/", PolicyHTTP, ""},
		{"ftp://hooks.example.com/", PolicyHTTPS, "https"},
		{"ftp://hooks.example.com/", PolicyLocal, "http or https"},
		{"", PolicyHTTPS, "required"},
		{"hooks.example.com/x", PolicyHTTPS, "https"},
		{"https:///x", PolicyHTTPS, "host"},
		{"https:opaque", PolicyHTTPS, "host"},
		{"https://user:pw@hooks.example.com/", PolicyHTTPS, "password"},
		{"https://hooks.example.com/#frag", PolicyHTTPS, "fragment"},
		{"https://hooks.example.com:0/", PolicyHTTPS, "port"},
		{"https://hooks.example.com:99999/", PolicyHTTPS, "port"},
		{"https://hooks.example.com/" + strings.Repeat("a", MaxURLLen), PolicyHTTPS, "bytes"},
		{"https://hooks.example.com/\x7f", PolicyHTTPS, "URL"},
		// SSRF: not public.
		{"https://127.0.0.1/", PolicyHTTPS, "not a public"},
		{"https://[::1]:8080/", PolicyHTTPS, "not a public"},
		{"https://localhost/", PolicyHTTPS, "not public"},
		{"https://api.localhost/", PolicyHTTPS, "not public"},
		{"https://10.0.0.5/", PolicyHTTPS, "not a public"},
		{"https://192.168.1.10/", PolicyHTTP, "not a public"},
		{"https://169.254.169.254/latest/meta-data/", PolicyHTTPS, "not a public"},
		{"https://0.0.0.0/", PolicyHTTPS, "not a public"},
		{"https://internal.example/", PolicyHTTPS, "10.1.2.3"},
		{"https://mixed.example/", PolicyHTTPS, "127.0.0.1"},
		{"https://metadata.example/", PolicyHTTPS, "169.254.169.254"},
		{"https://v6private.example/", PolicyHTTPS, "fd00:ec2::254"},
		{"https://mapped.example/", PolicyHTTPS, "192.168.1.1"},
		{"https://carriernat.example/", PolicyHTTPS, "100.64.0.1"},
		// Local: anything http(s).
		{"http://127.0.0.1:8080/hook", PolicyLocal, ""},
		{"http://localhost/hook", PolicyLocal, ""},
		{"http://internal.example/", PolicyLocal, ""},
	} {
		err := CheckURL(context.Background(), tc.url, tc.policy, r)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q (%s): refused: %v", tc.url, tc.policy.Name(), err)
		case tc.want != "" && err == nil:
			t.Errorf("%q (%s): accepted, want refused (%s)", tc.url, tc.policy.Name(), tc.want)
		case tc.want != "" && !strings.Contains(err.Error(), tc.want):
			t.Errorf("%q (%s): %v, want it to say %q", tc.url, tc.policy.Name(), err, tc.want)
		}
		var ue *URLError
		if err != nil && !errors.As(err, &ue) {
			t.Errorf("%q: error of type %T", tc.url, err)
		}
	}
}

func TestPublicAddr(t *testing.T) {
	for a, want := range map[string]bool{
		"93.184.215.14": true, "8.8.8.8": true, "2606:4700::1111": true, "::ffff:8.8.8.8": true,
		"127.0.0.1": false, "127.1.2.3": false, "::1": false, "10.0.0.1": false, "172.16.0.1": false, "172.31.255.255": false,
		"192.168.0.1": false, "169.254.169.254": false, "fe80::1": false, "fd00:ec2::254": false, "fc00::1": false,
		"0.0.0.0": false, "::": false, "0.1.2.3": false, "100.64.0.1": false, "100.127.255.254": false,
		"224.0.0.1": false, "ff02::1": false, "255.255.255.255": false, "240.0.0.1": false, "198.18.0.1": false,
		"192.0.2.1": false, "::ffff:10.0.0.1": false, "::ffff:127.0.0.1": false, "64:ff9b::a00:1": false,
		"2002:a00:1::": false, "2001::1": false, "2001:db8::1": false,
		"172.32.0.1": true, "100.128.0.1": true,
	} {
		if got := PublicAddr(netip.MustParseAddr(a)); got != want {
			t.Errorf("PublicAddr(%s) = %v, want %v", a, got, want)
		}
	}
}

// A delivery never connects to a non-public address unless the policy
// allows private ones: the address connected to is checked, after DNS.
func TestDialerRefusesPrivateAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	for _, tc := range []struct {
		policy URLPolicy
		url    string
		ok     bool
	}{
		{PolicyLocal, srv.URL, true},
		{PolicyHTTP, srv.URL, false},
		{PolicyHTTP, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), false},
	} {
		o := NewPoster(tc.policy, 2*time.Second).Post(context.Background(), tc.url, "evt_1", time.Now(), "v1,x", []byte("{}"))
		if o.OK() != tc.ok {
			t.Errorf("%s with policy %s: %+v, want ok %v", tc.url, tc.policy.Name(), o, tc.ok)
		}
		if !tc.ok && !strings.Contains(o.Err, "not public") {
			t.Errorf("%s with policy %s: error %q, want a refusal of the address", tc.url, tc.policy.Name(), o.Err)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for _, p := range []URLPolicy{PolicyHTTPS, PolicyHTTP, PolicyLocal} {
		got, err := ParsePolicy(p.Name())
		if err != nil || got != p {
			t.Errorf("ParsePolicy(%q) = %+v, %v", p.Name(), got, err)
		}
	}
	if got, err := ParsePolicy(""); err != nil || got != PolicyHTTPS {
		t.Errorf(`ParsePolicy("") = %+v, %v; want https`, got, err)
	}
	if _, err := ParsePolicy("any"); err == nil {
		t.Error(`ParsePolicy("any"): no error`)
	}
}
