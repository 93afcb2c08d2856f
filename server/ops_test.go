package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hzel/hzel/gen/api"
	"github.com/hzel/hzel/server/testdb"
)

func TestRoutingErrors(t *testing.T) {
	e := newEnv(t)
	_, raw := e.account(t, "alice@example.com")

	t.Run("ensure an unknown route is 404 NOT_FOUND", func(t *testing.T) {
		expectError(t, e.do(t, http.MethodGet, "/api/v1/nope", bearer(raw), ""), http.StatusNotFound, api.CodeNotFound)
		expectError(t, e.do(t, http.MethodGet, "/nope", nil, ""), http.StatusNotFound, api.CodeNotFound)
	})
	t.Run("ensure a wrong method is 405 METHOD_NOT_ALLOWED", func(t *testing.T) {
		expectError(t, e.do(t, http.MethodPut, "/api/v1/tokens", jsonBearer(raw), `{}`), http.StatusMethodNotAllowed, api.CodeMethodNotAllowed)
		expectError(t, e.do(t, http.MethodGet, "/api/v1/tokens/01942cf7-8c1a-7b2e-9f3d-5a6b7c8d9e0f", bearer(raw), ""), http.StatusMethodNotAllowed, api.CodeMethodNotAllowed)
	})
}

// TestHealth covers the operational endpoints: health, readiness and the API reference.
func TestHealth(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/healthz", "/readyz", "/docs", "/openapi.json", "/openapi.yaml"} {
		if r := e.do(t, http.MethodGet, path, nil, ""); r.status != http.StatusOK {
			t.Fatalf("ensure %s answers 200 without credentials: %d %s", path, r.status, r.body)
		}
	}
}

// TestDatabaseOutage cuts the connection to PostgreSQL under a running server: requests get
// 500 INTERNAL_ERROR with nothing written, readyz fails, and all of it recovers by itself.
func TestDatabaseOutage(t *testing.T) {
	ctx := context.Background()
	_, url := testdb.New(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, itoa(cfg.ConnConfig.Port)))
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = "127.0.0.1", proxy.port()
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e := newEnvOnPool(t, pool)
	_, raw := e.account(t, "alice@example.com")

	create := func() rawResponse {
		return e.do(t, http.MethodPost, "/api/v1/tokens", jsonBearer(raw), `{"name":"during outage"}`)
	}
	if r := create(); r.status != http.StatusOK {
		t.Fatalf("before the outage: %d %s", r.status, r.body)
	}

	proxy.stop()
	t.Run("ensure a request during an outage is 500 INTERNAL_ERROR without details", func(t *testing.T) {
		for _, r := range []rawResponse{create(), e.do(t, http.MethodGet, "/api/v1/tokens", bearer(raw), "")} {
			detail := expectError(t, r, http.StatusInternalServerError, api.CodeInternalError)
			if detail.Message != "internal error" || r.header.Get("X-Request-Id") == "" {
				t.Fatalf("message %q, request id %q", detail.Message, r.header.Get("X-Request-Id"))
			}
		}
	})
	t.Run("ensure readyz fails during an outage", func(t *testing.T) {
		if r := e.do(t, http.MethodGet, "/readyz", nil, ""); r.status != http.StatusServiceUnavailable {
			t.Fatalf("readyz = %d", r.status)
		}
		if r := e.do(t, http.MethodGet, "/healthz", nil, ""); r.status != http.StatusOK {
			t.Fatalf("healthz = %d", r.status)
		}
	})

	proxy.start()
	t.Run("ensure the service recovers when the database returns", func(t *testing.T) {
		var r rawResponse
		for range 50 {
			if r = create(); r.status == http.StatusOK {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if r.status != http.StatusOK {
			t.Fatalf("after the outage: %d %s", r.status, r.body)
		}
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM tokens WHERE name = 'during outage'").Scan(&n); err != nil || n != 2 {
			t.Fatalf("ensure exactly the two answered creations were kept: %d (%v)", n, err)
		}
	})
}

// tcpProxy forwards a local port to target and can cut every connection at once.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target, addr: "127.0.0.1:0"}
	p.start()
	p.addr = p.ln.Addr().String()
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) port() uint16 {
	_, port, _ := net.SplitHostPort(p.addr)
	n := 0
	for _, c := range port {
		n = n*10 + int(c-'0')
	}
	return uint16(n)
}

func (p *tcpProxy) start() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *tcpProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func itoa(n uint16) string {
	return string(appendUint(nil, uint64(n)))
}

func appendUint(b []byte, n uint64) []byte {
	if n >= 10 {
		b = appendUint(b, n/10)
	}
	return append(b, byte('0'+n%10))
}
