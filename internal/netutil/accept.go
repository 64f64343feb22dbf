// Package netutil holds what every veil listener and frame reader needs,
// written once: an accept loop that survives temporary errors (a process
// that runs out of file descriptors keeps serving once some are freed), a
// guard that bounds and times out the connections that have not
// authenticated yet, and a reader that grows its buffer only as a peer's
// bytes actually arrive.
//
// # Accepting
//
// [Guard.Serve] accepts until the listener is closed. An Accept error that
// is temporary (EMFILE, ENFILE, ECONNABORTED, a timeout, or any error that
// says it is temporary) is retried after a pause that starts at 5 ms and
// doubles up to 1 s, as net/http's Server.Serve does; any other error ends
// the loop and is returned.
//
// Every accepted connection is pending until its handler calls
// [Pending.Authenticated]. Pending connections are bounded in total
// (MaxPending, default 64) and per remote host (MaxPerHost, default 8): a
// connection beyond either bound is closed at once, before a handler or
// any buffer exists for it. A pending connection still unauthenticated
// after HandshakeTimeout (default 10 s) is closed by the guard, whatever
// its handler is doing, and its slot freed.
package netutil

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of a Guard's zero fields.
const (
	DefaultMaxPending       = 64
	DefaultMaxPerHost       = 8
	DefaultHandshakeTimeout = 10 * time.Second
)

// Accept retry pacing (net/http's).
const (
	minRetry = 5 * time.Millisecond
	maxRetry = time.Second
)

// temporary reports whether an Accept error is worth retrying: the
// process or system ran out of descriptors or buffers, a connection was
// aborted before it was accepted, or the error says it is temporary or a
// timeout. A closed listener is never temporary.
func temporary(err error) bool {
	if err == nil || errors.Is(err, net.ErrClosed) {
		return false
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return true
	}
	// net.Error's Temporary is deprecated because it is ill-defined for
	// reads and writes; for Accept it is what net/http still relies on.
	var tmp interface{ Temporary() bool }
	return errors.As(err, &tmp) && tmp.Temporary()
}

// Limit counts connections in total and per remote host (the IP address
// without the port), for bounding them. A bound of zero or less is no
// bound.
type Limit struct {
	Total, PerHost int

	mu    sync.Mutex
	n     int
	hosts map[string]int
}

// hostOf is the key a Limit counts addr under: its IP address, or the whole
// address when it has no port.
func hostOf(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	s := addr.String()
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return s
}

// Acquire takes a slot for a connection from addr. It returns false when
// the total or addr's host is at its bound; otherwise release frees the
// slot (calling it again does nothing).
func (l *Limit) Acquire(addr net.Addr) (release func(), ok bool) {
	host := hostOf(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if (l.Total > 0 && l.n >= l.Total) || (l.PerHost > 0 && l.hosts[host] >= l.PerHost) {
		return nil, false
	}
	if l.hosts == nil {
		l.hosts = map[string]int{}
	}
	l.n++
	l.hosts[host]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.n--
			if l.hosts[host]--; l.hosts[host] <= 0 {
				delete(l.hosts, host) // the map holds only live hosts
			}
		})
	}, true
}

// count returns the number of slots taken.
func (l *Limit) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// Guard accepts connections and bounds those that have not authenticated
// yet (see the package documentation). Use one Guard per listener; its
// settings must not change once Serve runs.
type Guard struct {
	// MaxPending bounds the unauthenticated connections in total,
	// MaxPerHost those from one remote host (zero: the defaults;
	// negative: no bound).
	MaxPending, MaxPerHost int
	// HandshakeTimeout is how long a connection may stay
	// unauthenticated (zero: DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// Logf, if set, reports Accept errors being retried.
	Logf func(format string, args ...any)

	once     sync.Once
	pending  Limit
	handlers sync.WaitGroup
	refused  atomic.Int64
	expired  atomic.Int64
}

func (g *Guard) init() {
	g.once.Do(func() {
		g.pending.Total = cmpOr(g.MaxPending, DefaultMaxPending)
		g.pending.PerHost = cmpOr(g.MaxPerHost, DefaultMaxPerHost)
	})
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (g *Guard) timeout() time.Duration {
	if g.HandshakeTimeout > 0 {
		return g.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

// Pending is an accepted connection whose peer has not authenticated yet.
type Pending struct {
	net.Conn
	release func()
	timer   *time.Timer
	mu      sync.Mutex
	state   int // pendingOpen, pendingAuthenticated or pendingExpired
}

const (
	pendingOpen = iota
	pendingAuthenticated
	pendingExpired
)

// Authenticated ends the connection's probation: the handshake timer
// stops and its slot is freed. It returns false, and the connection is
// already closed, when the handshake timeout came first.
func (p *Pending) Authenticated() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.state {
	case pendingExpired:
		return false
	case pendingOpen:
		p.state = pendingAuthenticated
		p.timer.Stop()
		p.release()
	}
	return true
}

// expire closes a connection still pending at the handshake timeout.
func (p *Pending) expire() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != pendingOpen {
		return false
	}
	p.state = pendingExpired
	p.Conn.Close()
	p.release()
	return true
}

// Serve accepts connections on ln until Accept fails with an error that
// is not temporary (ln was closed, for instance), which it returns.
// Temporary errors are retried with backoff. Each connection within the
// bounds is passed to handle, in a goroutine of its own, as a *Pending;
// handle calls Authenticated once the peer has proved who it is. A
// connection handle returns without authenticating is closed.
func (g *Guard) Serve(ln net.Listener, handle func(*Pending)) error {
	g.init()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if !temporary(err) {
				return err
			}
			delay = min(max(2*delay, minRetry), maxRetry)
			if g.Logf != nil {
				g.Logf("accept: %v; retrying in %v", err, delay)
			}
			time.Sleep(delay)
			continue
		}
		delay = 0
		release, ok := g.pending.Acquire(c.RemoteAddr())
		if !ok {
			g.refused.Add(1)
			c.Close()
			continue
		}
		p := &Pending{Conn: c, release: release}
		p.timer = time.AfterFunc(g.timeout(), func() {
			if p.expire() {
				g.expired.Add(1)
			}
		})
		g.handlers.Add(1)
		go func() {
			defer g.handlers.Done()
			handle(p)
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.state == pendingOpen {
				p.state = pendingExpired
				p.timer.Stop()
				p.Conn.Close()
				p.release()
			}
		}()
	}
}

// Wait waits for the handlers Serve started.
func (g *Guard) Wait() { g.handlers.Wait() }

// stats returns the number of connections pending now, refused at once
// for being over a bound, and closed for not authenticating in time.
func (g *Guard) stats() (pending int, refused, expired int64) {
	g.init()
	return g.pending.count(), g.refused.Load(), g.expired.Load()
}
