package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"unicode/utf8"
)

// URLPolicy says which endpoint URLs a stage accepts, at registration and
// again when each delivery connects.
type URLPolicy struct {
	// AllowHTTP accepts http:// besides https:// (dev, make dev, tests).
	AllowHTTP bool
	// AllowPrivate accepts hosts on loopback, private, link-local and other
	// non-public addresses (make dev and tests, whose receivers listen on
	// 127.0.0.1). Never in AWS: such a URL would let a partner make the
	// delivery function reach the VPC, the instance metadata service or
	// 127.0.0.1 (SSRF).
	AllowPrivate bool
}

// The policies, by the name ACCRUE_WEBHOOK_URLS gives them.
var (
	// PolicyHTTPS: https only, public addresses only (prod; the default).
	PolicyHTTPS = URLPolicy{}
	// PolicyHTTP: http or https, public addresses only (the dev stage).
	PolicyHTTP = URLPolicy{AllowHTTP: true}
	// PolicyLocal: http or https, any address (make dev, tests).
	PolicyLocal = URLPolicy{AllowHTTP: true, AllowPrivate: true}
)

// PolicyEnv is the environment variable naming a function's URL policy:
// "https" (the default when unset), "http" or "local".
const PolicyEnv = "ACCRUE_WEBHOOK_URLS"

// ParsePolicy reads a policy name ("" is "https").
func ParsePolicy(name string) (URLPolicy, error) {
	switch name {
	case "", "https":
		return PolicyHTTPS, nil
	case "http":
		return PolicyHTTP, nil
	case "local":
		return PolicyLocal, nil
	}
	return URLPolicy{}, fmt.Errorf("%s=%q: want https, http or local", PolicyEnv, name)
}

// Name is the policy's name for PolicyEnv.
func (p URLPolicy) Name() string {
	switch p {
	case PolicyHTTP:
		return "http"
	case PolicyLocal:
		return "local"
	}
	return "https"
}

// MaxURLLen bounds an endpoint URL.
const MaxURLLen = 2048

// Resolver looks host names up (net.DefaultResolver).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// URLError is an endpoint URL the policy refuses; its message says why, for
// the API's validation problem.
type URLError struct{ Msg string }

func (e *URLError) Error() string { return e.Msg }

func refuse(format string, args ...any) error { return &URLError{Msg: fmt.Sprintf(format, args...)} }

// CheckURL checks an endpoint URL against the policy: an absolute http(s)
// URL (https unless AllowHTTP) with a host, no user name or password, no
// fragment, at most MaxURLLen bytes; unless AllowPrivate, a host that is a
// public address or a name none of whose addresses is non-public (r looks
// it up; a name that does not resolve is accepted: it may not exist yet,
// and every delivery checks the address it connects to, see Dialer). It
// returns a *URLError for a URL it refuses.
func CheckURL(ctx context.Context, raw string, p URLPolicy, r Resolver) error {
	if raw == "" {
		return refuse("required")
	}
	if len(raw) > MaxURLLen || !utf8.ValidString(raw) {
		return refuse("at most %d bytes of UTF-8", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return refuse("not a URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowHTTP:
	case u.Scheme == "http":
		return refuse("must be https")
	default:
		if p.AllowHTTP {
			return refuse("must be an http or https URL")
		}
		return refuse("must be an https URL")
	}
	switch {
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return refuse("must be an absolute URL with a host")
	case u.User != nil:
		return refuse("must not hold a user name or password (deliveries are signed)")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return refuse("must not have a fragment")
	}
	if port := u.Port(); port != "" && !validPort(port) {
		return refuse("bad port %q", port)
	}
	if p.AllowPrivate {
		return nil
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if !PublicAddr(a) {
			return refuse("the host %s is not a public address", host)
		}
		return nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return refuse("the host %s is not public", host)
	}
	if r == nil {
		return nil
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil // see above: checked again at every connection
	}
	for _, a := range addrs {
		if !PublicAddr(a) {
			return refuse("the host %s resolves to %s, which is not a public address", host, a)
		}
	}
	return nil
}

func validPort(s string) bool {
	if len(s) == 0 || len(s) > 5 {
		return false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n >= 1 && n <= 65535
}

// nonPublic are the blocks, besides what netip classifies (loopback, private,
// link-local, multicast, unspecified), that are not public unicast space:
// "this network", carrier-grade NAT (often internal), IETF protocol
// assignments, documentation, benchmarking, reserved, broadcast; NAT64,
// 6to4 and Teredo, which embed an IPv4 address that may be private; the
// discard prefix and IPv6 documentation.
var nonPublic = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
		"64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/32", "2001:db8::/32", "2002::/16",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// PublicAddr reports whether a is a public unicast address: not loopback,
// private (RFC 1918, fc00::/7 — AWS's IPv6 instance metadata fd00:ec2::254
// too), link-local (169.254.0.0/16 — the instance metadata service
// 169.254.169.254 — and fe80::/10), multicast, unspecified, nor one of
// nonPublic. An IPv4-mapped IPv6 address is judged as its IPv4 address.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// ErrNotPublic: a delivery's connection was refused because its address is
// not public (see PublicAddr).
var ErrNotPublic = errors.New("the endpoint's address is not public")

// Dialer is the dialer of deliveries: unless the policy allows private
// addresses, it refuses to connect to an address that is not public — the
// address actually connected to, after DNS, so a name that resolves to a
// public address at registration and to 127.0.0.1 later (DNS rebinding) is
// refused too.
func Dialer(p URLPolicy) *net.Dialer {
	d := &net.Dialer{}
	if p.AllowPrivate {
		return d
	}
	d.Control = func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrNotPublic, address)
		}
		if !PublicAddr(ap.Addr()) {
			return fmt.Errorf("%w: %s", ErrNotPublic, ap.Addr())
		}
		return nil
	}
	return d
}
