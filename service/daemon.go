package service

import (
	"context"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"veil/internal/netutil"
	"veil/mpc"
)

// daemon is what the server and the helper share: the listener and its
// guard, the session slots, the links of running sessions, draining and
// shutdown, and the counters.
type daemon struct {
	slots    chan struct{}
	guard    netutil.Guard
	ctx      context.Context // canceled to abort running sessions
	abort    context.CancelFunc
	draining atomic.Bool
	stopping chan struct{} // closed when shutdown begins
	stopOnce sync.Once
	sessions sync.WaitGroup
	mu       sync.Mutex
	ln       net.Listener
	nets     map[mpc.Network]bool // links Shutdown closes
	stats    Stats
	freer    idleFreer
	metrics  *metrics
}

// Stats count what a server or a helper has done.
type Stats struct {
	Connections atomic.Int64 // connections that completed the handshake
	Refused     atomic.Int64 // handshakes refused (not admitted, malformed), servers a helper does not work for
	Sessions    atomic.Int64 // sessions accepted
	Busy        atomic.Int64 // requests refused as busy
	Failed      atomic.Int64 // sessions that ended with an error
	Rejected    atomic.Int64 // requests refused otherwise (unknown model, other program, malformed, unknown token)
	Inferences  atomic.Int64 // inferences completed
	Active      atomic.Int64 // sessions running now
	BytesSent   atomic.Int64 // in sessions, framing included
	BytesRecv   atomic.Int64
}

// start sets the daemon up for at most maxSessions sessions at once
// (zero: DefaultMaxSessions).
func (d *daemon) start(maxSessions int) {
	if maxSessions <= 0 {
		maxSessions = DefaultMaxSessions
	}
	d.slots = make(chan struct{}, maxSessions)
	d.ctx, d.abort = context.WithCancel(context.Background())
	d.stopping = make(chan struct{})
	d.nets = map[mpc.Network]bool{}
	d.metrics = newMetrics(&d.stats, func() float64 { return float64(d.stats.Active.Load()) })
}

// orDiscard is l, or a logger that discards everything for nil.
func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// serve accepts on ln with handle until shutdown; perHost bounds the
// handshakes in progress from one host (zero: twice the sessions).
func (d *daemon) serve(ln net.Listener, timeout time.Duration, perHost int, log func(string, ...any), handle func(*netutil.Pending)) error {
	d.mu.Lock()
	if d.draining.Load() {
		d.mu.Unlock()
		return ErrServerClosed
	}
	d.ln = ln
	d.mu.Unlock()
	d.guard.HandshakeTimeout = timeout
	d.guard.MaxPerHost = perHost
	if d.guard.MaxPerHost == 0 {
		d.guard.MaxPerHost = max(netutil.DefaultMaxPerHost, 2*cap(d.slots))
	}
	d.guard.MaxPending = max(netutil.DefaultMaxPending, 2*d.guard.MaxPerHost)
	d.guard.Logf = log
	err := d.guard.Serve(ln, handle)
	if d.draining.Load() {
		return ErrServerClosed
	}
	return err
}

// shutdown stops accepting, waits for the running sessions until ctx
// ends, then aborts the rest, closing their links so that a session
// blocked on a peer stops at once.
func (d *daemon) shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.draining.Store(true)
	if d.ln != nil {
		d.ln.Close()
	}
	d.mu.Unlock()
	d.stopOnce.Do(func() { close(d.stopping) })
	done := make(chan struct{})
	go func() { d.sessions.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		d.abort()
		d.closeAll()
		<-done
	}
	d.closeAll()
	d.guard.Wait()
	return err
}

// acquire takes a session slot if one is free and the daemon is not
// shutting down (checked under mu, which shutdown holds as it starts
// draining, so that no session is added once it waits for them);
// release gives the slot back.
func (d *daemon) acquire() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.draining.Load() {
		return false
	}
	select {
	case d.slots <- struct{}{}:
		d.sessions.Add(1)
		return true
	default:
		return false
	}
}

func (d *daemon) release() {
	<-d.slots
	d.sessions.Done()
}

// running counts a session from its start to the returned function's
// call, which frees memory once none runs.
func (d *daemon) running() func() {
	d.stats.Sessions.Add(1)
	d.stats.Active.Add(1)
	return func() {
		if d.stats.Active.Add(-1) == 0 {
			d.freer.idle()
		}
	}
}

// closeAll closes the tracked links side by side.
func (d *daemon) closeAll() {
	d.mu.Lock()
	var wg sync.WaitGroup
	for n := range d.nets {
		wg.Add(1)
		go func() { defer wg.Done(); n.Close() }()
	}
	d.mu.Unlock()
	wg.Wait()
}

// track adds n to the links shutdown closes, and returns the function
// that removes it.
func (d *daemon) track(n mpc.Network) func() {
	d.mu.Lock()
	d.nets[n] = true
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		delete(d.nets, n)
		d.mu.Unlock()
	}
}

// idleFreer returns the memory of finished sessions to the operating
// system when a daemon has none running (at most every few seconds): its
// footprint falls back to its idle level after a load instead of
// staying at its peak until the runtime's scavenger gets to it.
type idleFreer struct{ last atomic.Int64 } // Unix ns of the last release

func (f *idleFreer) idle() {
	now := time.Now().UnixNano()
	last := f.last.Load()
	if now-last < int64(2*time.Second) || !f.last.CompareAndSwap(last, now) {
		return
	}
	go debug.FreeOSMemory()
}
