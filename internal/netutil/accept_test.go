package netutil

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
	"veil/internal/netutil/netutiltest"
)

// fakeListener returns the errors and connections queued in it, then
// net.ErrClosed.
type fakeListener struct {
	mu    sync.Mutex
	queue []any // error or net.Conn
	times []time.Time
}

func (l *fakeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.times = append(l.times, time.Now())
	if len(l.queue) == 0 {
		return nil, net.ErrClosed
	}
	v := l.queue[0]
	l.queue = l.queue[1:]
	if c, ok := v.(net.Conn); ok {
		return c, nil
	}
	return nil, v.(error)
}

func (l *fakeListener) Close() error   { return nil }
func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func opErr(err error) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", err)}
}

func TestTemporary(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{opErr(syscall.EMFILE), true},
		{opErr(syscall.ENFILE), true},
		{opErr(syscall.ECONNABORTED), true},
		{timeoutError{}, true},
		{fmt.Errorf("wrapped: %w", opErr(syscall.EMFILE)), true},
		{net.ErrClosed, false},
		{&net.OpError{Op: "accept", Err: net.ErrClosed}, false},
		{opErr(syscall.EBADF), false},
		{errors.New("other"), false},
		{nil, false},
	} {
		if got := temporary(c.err); got != c.want {
			t.Errorf("temporary(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestServeRetriesTemporaryErrors: running out of descriptors, an
// aborted connection or a timeout does not end the accept loop; it
// retries with a pause doubling from 5 ms, and serves the next
// connection.
func TestServeRetriesTemporaryErrors(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	ln := &fakeListener{queue: []any{opErr(syscall.EMFILE), opErr(syscall.ENFILE), opErr(syscall.ECONNABORTED), timeoutError{}, a}}
	served := make(chan struct{})
	var g Guard
	var logged int
	g.Logf = func(string, ...any) { logged++ }
	err := g.Serve(ln, func(p *Pending) {
		p.Authenticated()
		close(served)
	})
	if !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve returned %v, want net.ErrClosed", err)
	}
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection after the errors was not served")
	}
	g.Wait()
	if logged != 4 {
		t.Errorf("%d retries logged, want 4", logged)
	}
	// Pauses of 5, 10, 20 and 40 ms.
	for i, want := range []time.Duration{5, 10, 20, 40} {
		if d := ln.times[i+1].Sub(ln.times[i]); d < want*time.Millisecond {
			t.Errorf("retry %d after %v, want at least %v ms", i+1, d, want)
		}
	}
}

// TestRetryBackoffCapped: the pause stops doubling at one second.
func TestRetryBackoffCapped(t *testing.T) {
	var d time.Duration
	var seq []time.Duration
	for range 10 {
		d = min(max(2*d, minRetry), maxRetry)
		seq = append(seq, d)
	}
	if seq[0] != 5*time.Millisecond || seq[len(seq)-1] != time.Second {
		t.Fatalf("pauses %v", seq)
	}
}

// echoAuth is a handler that authenticates a peer sending "auth\n" and
// then echoes one line back.
func echoAuth(p *Pending) {
	buf := make([]byte, 5)
	if _, err := io.ReadFull(p, buf); err != nil || string(buf) != "auth\n" {
		return
	}
	if !p.Authenticated() {
		return
	}
	p.Write([]byte("ok\n"))
	io.Copy(io.Discard, p)
}

func serveGuard(t *testing.T, g *Guard) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Serve(ln, echoAuth) }()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

func authenticate(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("auth\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ok\n" {
		t.Fatalf("authenticated peer: %q, %v", buf, err)
	}
}

func waitPending(t *testing.T, g *Guard, want int) {
	t.Helper()
	waitStats(t, g, want, -1)
}

// waitStats waits until g has want pending and (unless refused < 0)
// has refused that many connections.
func waitStats(t *testing.T, g *Guard, want int, refused int64) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(5 * time.Millisecond) {
		if n, r, _ := g.stats(); n == want && (refused < 0 || r == refused) {
			return
		}
	}
	n, r, _ := g.stats()
	t.Fatalf("%d pending and %d refused, want %d and %d", n, r, want, refused)
}

// TestGuardBounds: idle connections beyond the per-host bound, or beyond
// the total, are closed at once; a peer from another host still gets in
// and authenticates; authenticated connections do not count.
func TestGuardBounds(t *testing.T) {
	t.Run("per host", func(t *testing.T) {
		g := &Guard{MaxPending: 100, MaxPerHost: 4, HandshakeTimeout: time.Minute}
		addr := serveGuard(t, g)
		var idle []net.Conn
		for range 40 {
			idle = append(idle, netutiltest.DialIdleFrom(t, "127.0.0.2", addr))
		}
		waitStats(t, g, 4, 36)
		closed := 0
		for _, c := range idle {
			if netutiltest.ClosedWithin(c, 50*time.Millisecond) {
				closed++
			}
		}
		if _, refused, _ := g.stats(); closed != 36 || refused != 36 {
			t.Fatalf("%d idle connections closed, %d refused; want 36 of 40", closed, refused)
		}
		// The real peer comes from another address.
		real := netutiltest.DialIdleFrom(t, "127.0.0.1", addr)
		authenticate(t, real)
		// Authenticated connections leave the pending count: four more
		// from this host may start a handshake.
		for range 4 {
			authenticate(t, netutiltest.DialIdleFrom(t, "127.0.0.1", addr))
		}
		if n, _, _ := g.stats(); n != 4 {
			t.Fatalf("%d pending, want the 4 idle ones", n)
		}
	})
	t.Run("total", func(t *testing.T) {
		g := &Guard{MaxPending: 6, MaxPerHost: 4, HandshakeTimeout: 300 * time.Millisecond}
		addr := serveGuard(t, g)
		var idle []net.Conn
		for i := range 12 {
			idle = append(idle, netutiltest.DialIdleFrom(t, fmt.Sprintf("127.0.0.%d", 2+i%4), addr))
		}
		waitStats(t, g, 6, 6)
		// Full: a newcomer is refused at once …
		if c := netutiltest.DialIdleFrom(t, "127.0.0.1", addr); !netutiltest.ClosedWithin(c, time.Second) {
			t.Fatal("a connection beyond the total was not closed at once")
		}
		// … until the idle ones time out; then the real peer gets in.
		start := time.Now()
		for _, c := range idle {
			netutiltest.ClosedWithin(c, 5*time.Second)
		}
		waitPending(t, g, 0)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("idle connections closed after %v, want about 300 ms", d)
		}
		authenticate(t, netutiltest.DialIdleFrom(t, "127.0.0.1", addr))
	})
}

// TestGuardHandshakeTimeout: a connection that never authenticates is
// closed at the handshake timeout even though its handler set no
// deadline and is still blocked reading; an authenticated one stays.
func TestGuardHandshakeTimeout(t *testing.T) {
	g := &Guard{HandshakeTimeout: 200 * time.Millisecond}
	addr := serveGuard(t, g)
	idle := netutiltest.DialIdleFrom(t, "127.0.0.1", addr)
	real := netutiltest.DialIdleFrom(t, "127.0.0.1", addr)
	authenticate(t, real)
	start := time.Now()
	if !netutiltest.ClosedWithin(idle, 5*time.Second) {
		t.Fatal("idle connection not closed")
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("idle connection closed after %v, want about 200 ms", d)
	}
	waitPending(t, g, 0)
	if _, _, expired := g.stats(); expired != 1 {
		t.Errorf("%d expired, want 1", expired)
	}
	time.Sleep(300 * time.Millisecond)
	if netutiltest.ClosedWithin(real, 50*time.Millisecond) {
		t.Fatal("the authenticated connection was closed")
	}
}

// TestLimit: the slot accounting, release idempotent, hosts forgotten.
func TestLimit(t *testing.T) {
	l := Limit{Total: 3, PerHost: 2}
	a := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 1}
	b := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 2}
	r1, ok1 := l.Acquire(a)
	_, ok2 := l.Acquire(a)
	_, ok3 := l.Acquire(a)
	r4, ok4 := l.Acquire(b)
	_, ok5 := l.Acquire(b)
	if !ok1 || !ok2 || ok3 || !ok4 || ok5 {
		t.Fatalf("acquire: %v %v %v %v %v", ok1, ok2, ok3, ok4, ok5)
	}
	r1()
	r1()
	if l.count() != 2 {
		t.Fatalf("count %d after a double release, want 2", l.count())
	}
	r4()
	if len(l.hosts) != 1 {
		t.Fatalf("%d hosts remembered, want 1", len(l.hosts))
	}
	var none Limit
	for range 100 {
		if _, ok := none.Acquire(a); !ok {
			t.Fatal("a Limit without bounds refused")
		}
	}
}
