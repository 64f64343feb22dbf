package service

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"veil/attest"
	"veil/internal/attestkex"
	"veil/internal/netutil"
	"veil/ir"
	"veil/slalom"
)

// Server serves clients with T: per connection, an attested handshake
// (a fresh X25519 key, evidence binding it, the statement and the
// client's nonce), then inferences over the encrypted channel. T runs one
// inference at a time.
type Server struct {
	// T is the trusted executor, set up with its device.
	T *slalom.Trusted
	// Attester produces T's evidence (attest.Detect on a TEE; a simulated
	// one proves nothing).
	Attester attest.Attester
	// Layout is the layout of the model's input, announced to clients.
	Layout ir.Layout
	// Logf, if set, reports connections, refusals and restarts.
	Logf func(format string, args ...any)
	// HandshakeTimeout bounds the handshake, IdleTimeout the wait for a
	// client's next input (zero: DefaultHandshakeTimeout, 30 s, and
	// DefaultIdleTimeout, 10 min).
	HandshakeTimeout, IdleTimeout time.Duration
	// HeartbeatInterval is how often T tells a client that it is still
	// working on (or waiting to run) its input (zero:
	// DefaultHeartbeatInterval, 5 s).
	HeartbeatInterval time.Duration
	// MaxPending bounds the connections in the handshake at once,
	// MaxPendingPerHost those from one address, and MaxClients all open
	// connections; more are closed at once (zero: DefaultMaxPending,
	// DefaultMaxPendingPerHost, DefaultMaxClients).
	MaxPending, MaxPendingPerHost, MaxClients int

	once  sync.Once
	st    Statement
	stb   []byte
	sterr error
	mu    sync.Mutex // T
	amu   sync.Mutex // the attester
}

func (s *Server) logf(f string, a ...any) {
	if s.Logf != nil {
		s.Logf(f, a...)
	}
}

func (s *Server) statement() ([]byte, error) {
	s.once.Do(func() {
		s.st = statementOf(s.T, s.Layout)
		s.stb, s.sterr = s.st.MarshalBinary()
	})
	return s.stb, s.sterr
}

// Statement returns what this server's evidence says T runs.
func (s *Server) Statement() (Statement, error) {
	_, err := s.statement()
	return s.st, err
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Serve accepts clients on ln until ln is closed, serving each in its own
// goroutine (inferences are serialized). Temporary Accept errors (out of
// file descriptors) are retried; connections beyond the bounds
// (MaxPending, MaxPendingPerHost, MaxClients) are closed at once, and a
// connection that has not finished the handshake within HandshakeTimeout
// is closed (see internal/netutil).
func (s *Server) Serve(ln net.Listener) error {
	g := &netutil.Guard{MaxPending: or(s.MaxPending, DefaultMaxPending), MaxPerHost: or(s.MaxPendingPerHost, DefaultMaxPendingPerHost),
		HandshakeTimeout: or(s.HandshakeTimeout, DefaultHandshakeTimeout), Logf: s.Logf}
	open := &netutil.Limit{Total: or(s.MaxClients, DefaultMaxClients)}
	err := g.Serve(ln, func(p *netutil.Pending) {
		release, ok := open.Acquire(p.RemoteAddr())
		if !ok {
			return // the guard closes it
		}
		defer release()
		defer p.Close()
		if err := s.serveConn(p.Conn, p.Authenticated); err != nil {
			s.logf("client %s: %v", p.RemoteAddr(), err)
		}
	})
	return fmt.Errorf("slalom service: accepting: %w", err)
}

// ServeConn runs the handshake with one client and answers its inputs
// until it closes the connection (nil) or a frame is refused (an error
// naming the problem; the connection should then be closed).
func (s *Server) ServeConn(conn net.Conn) error { return s.serveConn(conn, nil) }

// serveConn is ServeConn; once the session keys exist it calls
// handshaken, if set, and stops if that says the connection timed out.
func (s *Server) serveConn(conn net.Conn, handshaken func() bool) error {
	ht, it := or(s.HandshakeTimeout, DefaultHandshakeTimeout), or(s.IdleTimeout, DefaultIdleTimeout)
	conn.SetDeadline(time.Now().Add(ht))
	abort := func(err error) error {
		writeFrame(conn, msgAbort, clip(err.Error()))
		return err
	}
	// Nothing longer than a hello is read (nor allocated) before the
	// handshake.
	typ, hello, err := readFrame(conn, helloFrame)
	if err != nil {
		return fmt.Errorf("slalom service: reading the client's hello: %w", err)
	}
	if typ != msgHello || len(hello) != nonceSize+attestkex.KeySize {
		return abort(fmt.Errorf("slalom service: expected a hello frame (type %d, %d bytes), got type %d of %d bytes", msgHello, nonceSize+attestkex.KeySize, typ, len(hello)))
	}
	nonce, peer := hello[:nonceSize], hello[nonceSize:]
	if _, err := attestkex.PeerKey(peer); err != nil {
		return abort(fmt.Errorf("slalom service: the client's key: %w", err))
	}
	stb, err := s.statement()
	if err != nil {
		return abort(fmt.Errorf("slalom service: statement: %w", err))
	}
	// A fresh key for this connection, generated inside T, and evidence
	// binding it to the statement (through the session id) and the
	// client's nonce.
	priv, err := attestkex.NewKey()
	if err != nil {
		return abort(fmt.Errorf("slalom service: generating the channel key: %w", err))
	}
	sid := sessionID(stb)
	s.amu.Lock()
	ev, err := attestkex.Attest(s.Attester, priv, sid[:], nonce)
	s.amu.Unlock()
	if err != nil {
		return abort(fmt.Errorf("slalom service: attestation: %w", err))
	}
	evb, err := ev.MarshalBinary()
	if err != nil {
		return abort(fmt.Errorf("slalom service: encoding the evidence: %w", err))
	}
	body := appendLP(appendLP(nil, stb), evb)
	if err := writeFrame(conn, msgAttest, body); err != nil {
		return fmt.Errorf("slalom service: sending the evidence: %w", err)
	}
	sec, err := attestkex.Agree(priv, peer, transcriptSalt(hello, body))
	if err != nil {
		return fmt.Errorf("slalom service: %w", err)
	}
	sess, err := newSession(conn, sec, true)
	if err != nil {
		return fmt.Errorf("slalom service: deriving keys: %w", err)
	}
	if handshaken != nil && !handshaken() {
		return fmt.Errorf("slalom service: handshake not finished within %v", ht)
	}
	size := s.T.Prog.Input.Size()
	for {
		conn.SetDeadline(time.Now().Add(it))
		kind, msg, err := sess.recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("slalom service: %w", err)
		}
		if kind != recInput {
			return fmt.Errorf("slalom service: message of kind %d from the client, want an input", kind)
		}
		x, err := decodeInput(msg, size)
		var out []int64
		if err == nil {
			stop := s.heartbeats(sess)
			out, err = s.infer(x)
			stop()
		}
		if err != nil {
			s.logf("input %d refused: %v", sess.rec.In.Seq()-1, err)
			err = sess.send(recError, clip(err.Error()))
		} else {
			err = sess.send(recOutput, encodeOutput(out, s.T.Prog.OutScale))
		}
		if err != nil {
			return fmt.Errorf("slalom service: sending an answer: %w", err)
		}
	}
}

// heartbeats sends the client a heartbeat every HeartbeatInterval until
// stop is called (and returns).
func (s *Server) heartbeats(sess *session) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(or(s.HeartbeatInterval, DefaultHeartbeatInterval))
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if sess.send(recHeartbeat, nil) != nil {
					return
				}
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// infer runs one inference; after a rejection T draws new check secrets
// (the reuse-safety rule), so later inputs are checked afresh.
func (s *Server) infer(x []float32) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.T.Infer(x)
	if err != nil && s.T.Broken != nil {
		s.logf("rejection (%v): restarting T with new check secrets", s.T.Broken)
		s.T.Restart()
	}
	return out, err
}
