// Command goprobe is retrylab's differential oracle probe: it does what the Harvester
// controller's image cleanup does with a name or a URL, through Go 1.23's own pure-Go
// resolver and net/http client, and prints one JSON object describing what happened.
//
// Build it with CGO_ENABLED=0 (as the controller is built), so the resolver is the pure-Go
// one (net/dnsclient_unix.go) reading /etc/resolv.conf, /etc/nsswitch.conf and /etc/hosts.
// The Python side (sim/_fidelity) runs it in a private mount namespace with the case's
// resolv.conf bind-mounted over /etc/resolv.conf.
//
// Usage:
//
//	goprobe -lookup NAME                  # net.Resolver{PreferGo: true}.LookupIPAddr (network "ip")
//	goprobe -get URL -timeout 1s          # http.Client{Timeout: T}.Get(URL); status checked first, a 200's body read to EOF
//	goprobe ... -dnsmap 127.0.0.2:53=127.0.0.1:40001,...  # dial hook when port 53 is not ours
//
// Only the standard library is used: the module proxy is not reachable where this is built.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
)

// dnsErrorJSON mirrors *net.DNSError field by field.
type dnsErrorJSON struct {
	Err         string `json:"err"`
	Name        string `json:"name"`
	Server      string `json:"server"`
	IsNotFound  bool   `json:"is_not_found"`
	IsTimeout   bool   `json:"is_timeout"`
	IsTemporary bool   `json:"is_temporary"`
}

// opErrorJSON mirrors *net.OpError; Source/Addr are "" when nil.
type opErrorJSON struct {
	Op     string `json:"op"`
	Net    string `json:"net"`
	Source string `json:"source"`
	Addr   string `json:"addr"`
	Err    string `json:"err"`
}

// urlErrorJSON mirrors *url.Error.
type urlErrorJSON struct {
	Op  string `json:"op"`
	URL string `json:"url"`
}

type errorJSON struct {
	Text        string        `json:"text"`
	URLError    *urlErrorJSON `json:"url_error"`
	OpError     *opErrorJSON  `json:"op_error"`
	DNSError    *dnsErrorJSON `json:"dns_error"`
	OSIsTimeout bool          `json:"os_is_timeout"`
	Errno       string        `json:"errno"`
	Chain       []string      `json:"chain"`
}

type resultJSON struct {
	Probe     string          `json:"probe"`
	Op        string          `json:"op"`
	Addresses []string        `json:"addresses"`
	Status    int             `json:"status"`
	BodyBytes int             `json:"body_bytes"`
	Error     *errorJSON      `json:"error"`
	Retriable map[string]bool `json:"retriable"`
	Elapsed   float64         `json:"elapsed"`
}

// errnoNames are the errno values the Harvester predicate and our classifier talk about.
var errnoNames = map[syscall.Errno]string{
	syscall.ECONNREFUSED: "ECONNREFUSED",
	syscall.ECONNRESET:   "ECONNRESET",
	syscall.ECONNABORTED: "ECONNABORTED",
	syscall.ENETDOWN:     "ENETDOWN",
	syscall.ENETUNREACH:  "ENETUNREACH",
	syscall.EHOSTUNREACH: "EHOSTUNREACH",
	syscall.ETIMEDOUT:    "ETIMEDOUT",
	syscall.EPIPE:        "EPIPE",
}

// statusError is what the controller returns for a status other than 200: a plain error
// with no network type in its chain, so neither predicate retries it.
type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("unexpected status code %d", e.code) }

// retriableNetworkError is the Harvester controller's predicate, written from
// /work/shared/reference/harvester-image-cleanup.md ("The retry policy"):
// os.IsTimeout first; then DNS errors (v1.4: IsTemporary only; v1.5: IsTemporary ||
// IsTimeout || IsNotFound); then connection refused/reset, network down/unreachable,
// host unreachable and ETIMEDOUT. Anything else (unexpected status, EOF, ...) is final.
func retriableNetworkError(err error, v15 bool) bool {
	if err == nil {
		return false
	}
	if os.IsTimeout(err) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if v15 {
			return dnsErr.IsTemporary || dnsErr.IsTimeout || dnsErr.IsNotFound
		}
		return dnsErr.IsTemporary
	}
	for _, errno := range []syscall.Errno{
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ENETDOWN,
		syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.ETIMEDOUT,
	} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

func describe(err error) *errorJSON {
	out := &errorJSON{Text: err.Error(), OSIsTimeout: os.IsTimeout(err), Chain: []string{}}
	var ue *url.Error
	if errors.As(err, &ue) {
		out.URLError = &urlErrorJSON{Op: ue.Op, URL: ue.URL}
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		j := &opErrorJSON{Op: oe.Op, Net: oe.Net}
		if oe.Source != nil {
			j.Source = oe.Source.String()
		}
		if oe.Addr != nil {
			j.Addr = oe.Addr.String()
		}
		if oe.Err != nil {
			j.Err = oe.Err.Error()
		}
		out.OpError = j
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		out.DNSError = &dnsErrorJSON{
			Err: de.Err, Name: de.Name, Server: de.Server,
			IsNotFound: de.IsNotFound, IsTimeout: de.IsTimeout, IsTemporary: de.IsTemporary,
		}
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if name, ok := errnoNames[errno]; ok {
			out.Errno = name
		} else {
			out.Errno = fmt.Sprintf("errno %d", int(errno))
		}
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		out.Chain = append(out.Chain, fmt.Sprintf("%T", e))
	}
	return out
}

// parseMap reads "-dnsmap A=B,C=D": dial B when the resolver dials A.
func parseMap(text string) (map[string]string, error) {
	m := map[string]string{}
	if text == "" {
		return m, nil
	}
	for _, pair := range strings.Split(text, ",") {
		from, to, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("-dnsmap: %q is not FROM=TO", pair)
		}
		m[from] = to
	}
	return m, nil
}

func main() {
	lookup := flag.String("lookup", "", "name to look up (LookupIPAddr, network \"ip\")")
	get := flag.String("get", "", "URL to GET with http.Client{Timeout}")
	timeout := flag.Duration("timeout", 30*time.Second, "http.Client.Timeout")
	dnsmap := flag.String("dnsmap", "", "FROM=TO,... : addresses the resolver dials instead")
	flag.Parse()
	// "-lookup ''" is a case of its own (Go's answer for an empty name), so whether a
	// flag was given is what counts, not whether its value is empty.
	given := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["lookup"] == given["get"] {
		fmt.Fprintln(os.Stderr, "goprobe: give exactly one of -lookup NAME or -get URL")
		os.Exit(2)
	}
	mapping, err := parseMap(*dnsmap)
	if err != nil {
		fmt.Fprintln(os.Stderr, "goprobe:", err)
		os.Exit(2)
	}
	resolver := &net.Resolver{PreferGo: true}
	if len(mapping) > 0 {
		resolver.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
			if to, ok := mapping[address]; ok {
				address = to
			}
			var d net.Dialer
			return d.DialContext(ctx, network, address)
		}
	}
	res := resultJSON{Probe: "goprobe " + goVersion(), Addresses: []string{}}
	start := time.Now()
	var failure error
	if given["lookup"] {
		res.Op = "lookup"
		addrs, err := resolver.LookupIPAddr(context.Background(), *lookup)
		failure = err
		for _, a := range addrs {
			res.Addresses = append(res.Addresses, a.String())
		}
	} else {
		res.Op = "get"
		// The controller's client: http.Client{Timeout: T} over the default transport
		// (net.Dialer through net.DefaultResolver, which we point at our resolver).
		net.DefaultResolver = resolver
		client := &http.Client{Timeout: *timeout}
		resp, err := client.Get(*get)
		if err != nil {
			failure = err
		} else {
			res.Status = resp.StatusCode
			if resp.StatusCode != http.StatusOK {
				// The controller checks the status first and closes the body unread:
				// "unexpected status", never retried, whatever the body would do.
				resp.Body.Close()
				failure = &statusError{resp.StatusCode}
			} else {
				// Only a 200's body is read, to the end.
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				res.BodyBytes = int(n)
				failure = err
			}
		}
	}
	res.Elapsed = time.Since(start).Seconds()
	sort.Strings(res.Addresses)
	if failure != nil {
		res.Error = describe(failure)
		res.Retriable = map[string]bool{
			"v1.4": retriableNetworkError(failure, false),
			"v1.5": retriableNetworkError(failure, true),
		}
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "goprobe:", err)
		os.Exit(1)
	}
}

func goVersion() string { return runtime.Version() }
