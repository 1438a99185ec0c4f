// Command e2eapp is the demo application of the local datapath suite
// (e2e/local): one small binary whose subcommands run inside the pods'
// network namespaces.
//
//	e2eapp serve --http :8080 [--udp :9125] [--call URL]... [--dns IP:53]
//	e2eapp get   [--dns IP:53] [--timeout 3s] URL...
//	e2eapp load  [--dns IP:53] [--every 300ms] URL...
//	e2eapp dns   --listen :53 --records FILE
//
// serve answers GET / only after every --call succeeded (502 otherwise), so
// one request from the load generator proves the whole chain behind it.
// URLs are http://host:port/path or udp://host:port; host names resolve
// through --dns, the cluster's DNS pod, as a pod's resolver would.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: e2eapp serve|get|load|dns [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "get":
		err = get(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	case "dns":
		err = dnsServe(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q (serve, get, load, dns)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2eapp:", err)
		os.Exit(1)
	}
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// client calls URLs, resolving names through one DNS server.
type client struct {
	resolver *net.Resolver
	timeout  time.Duration
}

func newClient(dnsAddr string, timeout time.Duration) *client {
	r := net.DefaultResolver
	if dnsAddr != "" {
		r = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", dnsAddr)
		}}
	}
	return &client{resolver: r, timeout: timeout}
}

// call performs one request and returns the peer's answer.
func (c *client) call(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	addrs, err := c.resolver.LookupHost(ctx, u.Hostname())
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", u.Hostname(), err)
	}
	target := net.JoinHostPort(addrs[0], u.Port())
	switch u.Scheme {
	case "http":
		tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, target)
		}, DisableKeepAlives: true}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
		if err != nil {
			return "", err
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return "", fmt.Errorf("%s (%s): %w", raw, target, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("%s (%s): %s: %s", raw, target, resp.Status, strings.TrimSpace(string(body)))
		}
		return strings.TrimSpace(string(body)), nil
	case "udp":
		var d net.Dialer
		conn, err := d.DialContext(ctx, "udp", target)
		if err != nil {
			return "", err
		}
		defer conn.Close()
		deadline, _ := ctx.Deadline()
		_ = conn.SetDeadline(deadline)
		if _, err := conn.Write([]byte("ping")); err != nil {
			return "", fmt.Errorf("%s (%s): %w", raw, target, err)
		}
		buf := make([]byte, 512)
		n, err := conn.Read(buf)
		if err != nil {
			return "", fmt.Errorf("%s (%s): %w", raw, target, err)
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("%s: scheme must be http or udp", raw)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	httpAddr := fs.String("http", "", "HTTP listen address")
	udpAddr := fs.String("udp", "", "UDP listen address (answers every datagram)")
	dnsAddr := fs.String("dns", "", "DNS server for --call names")
	name := fs.String("name", "", "name in answers")
	var calls multi
	fs.Var(&calls, "call", "URL to call before answering GET / (repeatable)")
	_ = fs.Parse(args)
	c := newClient(*dnsAddr, 3*time.Second)
	errs := make(chan error, 2)
	if *udpAddr != "" {
		pc, err := net.ListenPacket("udp", *udpAddr)
		if err != nil {
			return err
		}
		go func() {
			buf := make([]byte, 512)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					errs <- err
					return
				}
				_, _ = pc.WriteTo([]byte("pong "+*name), from)
			}
		}()
	}
	if *httpAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
			var answers []string
			for _, u := range calls {
				got, err := c.call(u)
				if err != nil {
					http.Error(w, *name+": "+err.Error(), http.StatusBadGateway)
					return
				}
				answers = append(answers, got)
			}
			fmt.Fprintf(w, "ok %s [%s]\n", *name, strings.Join(answers, "; "))
		})
		srv := &http.Server{Addr: *httpAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { errs <- srv.ListenAndServe() }()
	}
	if *httpAddr == "" && *udpAddr == "" {
		return errors.New("serve needs --http or --udp")
	}
	return <-errs
}

func get(args []string) error {
	fs := flag.NewFlagSet("get", flag.ExitOnError)
	dnsAddr := fs.String("dns", "", "DNS server")
	timeout := fs.Duration("timeout", 3*time.Second, "per-request timeout")
	_ = fs.Parse(args)
	c := newClient(*dnsAddr, *timeout)
	var failed error
	for _, u := range fs.Args() {
		got, err := c.call(u)
		if err != nil {
			fmt.Printf("FAIL %s: %v\n", u, err)
			failed = errors.New("some requests failed")
			continue
		}
		fmt.Printf("OK %s: %s\n", u, got)
	}
	return failed
}

// load calls every URL each period until it is killed, printing one line
// per failure so the suite's log shows when a path broke.
func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	dnsAddr := fs.String("dns", "", "DNS server")
	every := fs.Duration("every", 300*time.Millisecond, "period")
	_ = fs.Parse(args)
	c := newClient(*dnsAddr, 2*time.Second)
	for {
		for _, u := range fs.Args() {
			if _, err := c.call(u); err != nil {
				fmt.Fprintf(os.Stderr, "%s FAIL %v\n", time.Now().UTC().Format(time.RFC3339), err)
			}
		}
		time.Sleep(*every)
	}
}

// dnsServe answers A queries from a records file ("name ip[,ip...]" per
// line), read again on every query so the suite can move a name to new
// pods; other names get NXDOMAIN, other types of known names no answer.
func dnsServe(args []string) error {
	fs := flag.NewFlagSet("dns", flag.ExitOnError)
	listen := fs.String("listen", ":53", "UDP listen address")
	records := fs.String("records", "", "records file")
	_ = fs.Parse(args)
	pc, err := net.ListenPacket("udp", *listen)
	if err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		resp, err := answer(buf[:n], *records)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dns:", err)
			continue
		}
		_, _ = pc.WriteTo(resp, from)
	}
}

func answer(query []byte, records string) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	table, err := readRecords(records)
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))
	ips, known := table[name]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if q.Type == dnsmessage.TypeA {
		for _, ip := range ips {
			var a [4]byte
			copy(a[:], ip.To4())
			rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}
			if err := b.AResource(rr, dnsmessage.AResource{A: a}); err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}

func readRecords(path string) (map[string][]net.IP, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]net.IP{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			continue
		}
		for _, s := range strings.Split(fields[1], ",") {
			if ip := net.ParseIP(s).To4(); ip != nil {
				out[strings.ToLower(fields[0])] = append(out[strings.ToLower(fields[0])], ip)
			}
		}
	}
	return out, sc.Err()
}
