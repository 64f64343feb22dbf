package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"veil/internal/netutil"
	"veil/internal/pinned"
	"veil/mpc"
)

// Dial retry pacing while a peer is not up yet.
const (
	minBackoff = 10 * time.Millisecond
	maxBackoff = 500 * time.Millisecond
)

// Connect connects party me to the two other parties of cfg and returns
// its network once both connections are up and authenticated.
//
// The lower-numbered party of each pair dials the higher-numbered one: the
// client (P0) dials the server and the helper, the server (P1) dials the
// helper, and the server and the helper listen on their configured
// address until the parties below them have connected. Dialling retries
// until ctx ends, since the other process may not be up yet; Connect
// fails at once on a certificate that does not match its pin. A ctx
// without a deadline may wait forever.
//
// id is this party's key and certificate (see LoadIdentity and
// Config.Identity); its public key must be the one cfg pins for me.
//
// Errors name the peer: each failed pair is a *mpc.PeerError; when both
// pairs fail, the error wraps both (errors.As finds the first).
func Connect(ctx context.Context, cfg *Config, me mpc.Party, id tls.Certificate) (mpc.Network, error) {
	n, err := connect(ctx, cfg, me, id, nil)
	if err != nil {
		return nil, err
	}
	return n, nil
}

// connector holds what one Connect call needs.
type connector struct {
	cfg     *Config
	me      mpc.Party
	id      tls.Certificate
	timeout time.Duration
	pins    []pinned.Pin // the parties' keys
}

func newConnector(cfg *Config, me mpc.Party, id tls.Certificate) *connector {
	c := &connector{cfg: cfg, me: me, id: id, timeout: cfg.timeout(), pins: make([]pinned.Pin, len(cfg.Parties))}
	for p := range cfg.Parties {
		c.pins[p] = pinned.PinOf(cfg.Parties[p].Cert)
	}
	return c
}

// result is one established (or failed) pair.
type result struct {
	who  mpc.Party
	conn *tls.Conn
	raw  net.Conn
	err  error
}

// connect is Connect with an optional listener already bound to me's
// address (tests bind port 0 first); it takes ownership of ln.
func connect(parent context.Context, cfg *Config, me mpc.Party, id tls.Certificate, ln net.Listener) (*network, error) {
	fail := func(err error) (*network, error) {
		if ln != nil {
			ln.Close()
		}
		return nil, fmt.Errorf("transport: %s: %w", me.Role(), err)
	}
	if err := cfg.check(); err != nil {
		return fail(fmt.Errorf("config: %w", err))
	}
	parties := len(cfg.Parties)
	if int(me) >= parties {
		return fail(fmt.Errorf("%s is not a party of this %d-party deployment", me, parties))
	}
	c := newConnector(cfg, me, id)
	leaf := id.Leaf
	if leaf == nil && len(id.Certificate) > 0 {
		var err error
		if leaf, err = x509.ParseCertificate(id.Certificate[0]); err != nil {
			return fail(fmt.Errorf("own certificate: %w", err))
		}
	}
	if leaf == nil || id.PrivateKey == nil {
		return fail(errors.New("no identity (key and certificate) given"))
	}
	if !c.pins[me].Matches(leaf) {
		return fail(fmt.Errorf("this party's key is not the one the config pins for %s (%s)", me.Role(), cfg.Parties[me].CertFile))
	}
	if me > mpc.P0 && ln == nil {
		addr := cfg.Parties[me].Listen
		if addr == "" {
			addr = cfg.Parties[me].Addr
		}
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fail(fmt.Errorf("listening: %w", err))
		}
	}

	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	results := make(chan result, parties)
	var wg sync.WaitGroup
	if me > mpc.P0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.accept(ctx, ln, results)
		}()
	} else if ln != nil {
		ln.Close()
	}
	for to := me + 1; int(to) < parties; to++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, raw, err := c.dial(ctx, to)
			results <- result{who: to, conn: conn, raw: raw, err: err}
		}()
	}

	n := &network{me: me, max: cfg.maxMessage(), timeout: c.timeout, peers: make([]*peer, parties), st: mpc.NewStats(parties)}
	var errs []error
	for range parties - 1 {
		r := <-results
		if r.err != nil {
			// Errors caused by our own cancel below say nothing new.
			if len(errs) == 0 || parent.Err() != nil || !errors.Is(r.err, context.Canceled) {
				errs = append(errs, r.err)
			}
			cancel()
			continue
		}
		if len(errs) > 0 {
			r.raw.Close()
			continue
		}
		p, err := newPeer(r.who, r.conn, r.raw, n.max, n.timeout)
		if err != nil {
			errs = append(errs, err)
			cancel()
			continue
		}
		n.peers[r.who] = p
	}
	cancel()
	wg.Wait()
	if len(errs) > 0 {
		n.abort(ErrClosed)
		var err error = joinedError(errs)
		if len(errs) == 1 {
			err = errs[0]
		}
		return nil, fmt.Errorf("transport: %s: %w", me.Role(), err)
	}
	return n, nil
}

// joinedError is errors.Join on one line: the errors about both peers.
type joinedError []error

func (j joinedError) Error() string {
	s := make([]string, len(j))
	for i, err := range j {
		s[i] = err.Error()
	}
	return strings.Join(s, "; ")
}

func (j joinedError) Unwrap() []error { return j }

// permanentError marks a dial error that retrying cannot cure.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// isRemoteAlert reports whether err is a TLS alert sent by the peer, such
// as its refusal of our certificate.
func isRemoteAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

// clientTLS is the configuration for dialling peer to: the peer must
// present exactly the key the config pins for to (see internal/pinned:
// certificates are self-signed and pinned, not issued by a CA, and the
// TLS 1.3 handshake proves possession of the matching private key).
func (c *connector) clientTLS(to mpc.Party) *tls.Config {
	return pinned.Config(c.id, to.Role(), pinned.Only(c.pins[to], to.Role(), "the config"))
}

// serverTLS is the configuration for accepting the parties that dial me:
// a client certificate is required, and only the pinned key of one of
// them is accepted.
func (c *connector) serverTLS() *tls.Config {
	return pinned.Config(c.id, "", func(cert *x509.Certificate) error {
		_, err := c.identify(cert)
		return err
	})
}

// identify returns the dialling party whose pinned key cert carries.
func (c *connector) identify(cert *x509.Certificate) (mpc.Party, error) {
	for p := mpc.P0; p < c.me; p++ {
		if c.pins[p].Matches(cert) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("the certificate presented (CN %q) is not the one the config pins for any party that dials %s", cert.Subject.CommonName, c.me.Role())
}

// dial connects to peer to, retrying until ctx ends.
func (c *connector) dial(ctx context.Context, to mpc.Party) (*tls.Conn, net.Conn, error) {
	addr := c.cfg.Parties[to].Addr
	backoff := minBackoff
	var last error
	for {
		conn, raw, err := c.dialOnce(ctx, to, addr)
		if err == nil {
			return conn, raw, nil
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return nil, nil, &mpc.PeerError{Peer: to, Err: fmt.Errorf("connecting to %s: %w", addr, perm.err)}
		}
		if ctx.Err() == nil {
			last = err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			if last == nil {
				last = err
			}
			return nil, nil, &mpc.PeerError{Peer: to, Err: fmt.Errorf("gave up connecting to %s: %w (last attempt: %v)", addr, ctx.Err(), last)}
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// dialOnce makes one attempt: TCP, TLS with the pin check, our hello, the
// peer's hello. Errors that retrying cannot cure are *permanentError.
func (c *connector) dialOnce(ctx context.Context, to mpc.Party, addr string) (*tls.Conn, net.Conn, error) {
	d := net.Dialer{Timeout: c.timeout}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	fail := func(err error) (*tls.Conn, net.Conn, error) {
		stop()
		raw.Close()
		return nil, nil, err
	}
	refused := func(err error) error {
		return &permanentError{fmt.Errorf("%s refused our certificate (%w); its config must pin the certificate of this %s", to.Role(), err, c.me.Role())}
	}
	raw.SetDeadline(time.Now().Add(c.timeout))
	conn := tls.Client(raw, c.clientTLS(to))
	if err := conn.HandshakeContext(ctx); err != nil {
		var pe *pinned.MismatchError
		switch {
		case errors.As(err, &pe):
			return fail(&permanentError{pe})
		case isRemoteAlert(err):
			return fail(refused(err))
		}
		return fail(fmt.Errorf("TLS handshake: %w", err))
	}
	if err := writeControl(conn, ctlHello, helloPayload(c.me)); err != nil {
		if isRemoteAlert(err) {
			return fail(refused(err))
		}
		return fail(fmt.Errorf("sending hello: %w", err))
	}
	// In TLS 1.3 the server checks our certificate after our side of the
	// handshake is done: a refusal arrives as an alert instead of its hello.
	typ, payload, err := readControl(conn)
	switch {
	case err == nil:
	case isRemoteAlert(err):
		return fail(refused(err))
	case errors.Is(err, errMalformed):
		return fail(&permanentError{fmt.Errorf("%s's first frame: %w", to.Role(), err)})
	default:
		return fail(fmt.Errorf("waiting for the hello of %s: %w", to.Role(), err))
	}
	if typ == ctlReject {
		return fail(&permanentError{fmt.Errorf("%s rejected the connection: %s", to.Role(), payload)})
	}
	who, err := parseHello(typ, payload)
	if err != nil {
		return fail(&permanentError{fmt.Errorf("%s's first frame: %w", to.Role(), err)})
	}
	if who != to {
		return fail(&permanentError{fmt.Errorf("the party at %s, which holds the key of %s, says it is %s", addr, to.Role(), who.Role())})
	}
	raw.SetDeadline(time.Time{})
	if !stop() {
		raw.Close()
		return nil, nil, ctx.Err()
	}
	return conn, raw, nil
}

// acceptState tracks the parties accepted by one listener.
type acceptState struct {
	mu       sync.Mutex
	taken    [mpc.MaxParties]bool
	accepted int
	rejected int
	last     string // the last rejection, for the error if a peer never comes
}

// Bounds on the connections a listening party holds before they have
// authenticated (see internal/netutil): at most maxPending in all and
// maxPendingPerHost from one address; more are closed at once, and each
// must finish its handshake within the configured timeout.
const (
	maxPending        = 32
	maxPendingPerHost = 8
)

// accept accepts the parties below me on ln and sends one result for each:
// its connection, or why it never came. A connection that fails the
// handshake, presents a certificate pinned for nobody who dials me, or
// sends a bad first frame is answered with an alert or a reject frame and
// dropped; the loop goes on waiting for the real peer. Accept errors that
// are temporary (out of file descriptors) are retried; connections beyond
// the bounds above are closed at once.
func (c *connector) accept(ctx context.Context, ln net.Listener, results chan<- result) {
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var st acceptState
	g := &netutil.Guard{MaxPending: maxPending, MaxPerHost: maxPendingPerHost, HandshakeTimeout: c.timeout}
	acceptErr := g.Serve(ln, func(p *netutil.Pending) {
		raw := p.Conn
		who, conn, err := c.handshakeIn(ctx, raw, &st)
		if err == nil && !p.Authenticated() {
			st.untake(who)
			err = fmt.Errorf("handshake not finished within %v", c.timeout)
		}
		if err != nil {
			st.mu.Lock()
			st.rejected++
			st.last = fmt.Sprintf("%s: %v", raw.RemoteAddr(), err)
			st.mu.Unlock()
			return
		}
		st.mu.Lock()
		st.accepted++
		if st.accepted == int(c.me) {
			ln.Close()
		}
		st.mu.Unlock()
		results <- result{who: who, conn: conn, raw: raw}
	})
	g.Wait()
	st.mu.Lock()
	defer st.mu.Unlock()
	if ctx.Err() != nil || st.accepted >= int(c.me) {
		acceptErr = nil
	}
	cause := acceptErr
	if cause == nil {
		cause = ctx.Err()
	}
	if cause == nil {
		return // everyone came
	}
	var note string
	if st.rejected > 0 {
		note = fmt.Sprintf(" (rejected %d connection(s), the last from %s)", st.rejected, st.last)
	}
	for p := mpc.P0; p < c.me; p++ {
		if !st.taken[p] {
			results <- result{who: p, err: &mpc.PeerError{Peer: p, Err: fmt.Errorf("no connection on %s: %w%s", ln.Addr(), cause, note)}}
		}
	}
}

func (st *acceptState) untake(who mpc.Party) {
	st.mu.Lock()
	st.taken[who] = false
	st.mu.Unlock()
}

// handshakeIn authenticates one incoming connection: TLS with a pinned
// client certificate, then the dialer's hello, whose role must be the one
// the certificate belongs to; then our hello. It marks the role taken in
// st.
func (c *connector) handshakeIn(ctx context.Context, raw net.Conn, st *acceptState) (mpc.Party, *tls.Conn, error) {
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	raw.SetDeadline(time.Now().Add(c.timeout))
	conn := tls.Server(raw, c.serverTLS())
	if err := conn.HandshakeContext(ctx); err != nil {
		c.lingerClose(raw)
		return 0, nil, fmt.Errorf("TLS handshake: %w", err)
	}
	reject := func(err error) (mpc.Party, *tls.Conn, error) {
		reason := err.Error()
		if len(reason) > maxControl {
			reason = reason[:maxControl]
		}
		writeControl(conn, ctlReject, []byte(reason))
		c.lingerClose(raw)
		return 0, nil, err
	}
	cert, err := pinned.PeerCertificate(conn.ConnectionState())
	if err != nil {
		return reject(err)
	}
	who, err := c.identify(cert)
	if err != nil {
		return reject(err)
	}
	typ, payload, err := readControl(conn)
	if err != nil {
		return reject(fmt.Errorf("first frame from the holder of %s's key: %w", who.Role(), err))
	}
	claimed, err := parseHello(typ, payload)
	if err != nil {
		return reject(fmt.Errorf("first frame from the holder of %s's key: %w", who.Role(), err))
	}
	if claimed != who {
		return reject(fmt.Errorf("a connection with the certificate of %s claims to be %s", who.Role(), claimed.Role()))
	}
	st.mu.Lock()
	if st.taken[who] {
		st.mu.Unlock()
		return reject(fmt.Errorf("%s is already connected", who.Role()))
	}
	st.taken[who] = true
	st.mu.Unlock()
	untake := func() { st.untake(who) }
	if err := writeControl(conn, ctlHello, helloPayload(c.me)); err != nil {
		untake()
		raw.Close()
		return 0, nil, fmt.Errorf("sending hello to %s: %w", who.Role(), err)
	}
	raw.SetDeadline(time.Time{})
	if !stop() {
		untake()
		raw.Close()
		return 0, nil, ctx.Err()
	}
	return who, conn, nil
}

// lingerClose closes a refused connection gracefully: it half-closes,
// then drains what the peer still sends for a short while, so that the
// peer reads our alert or reject frame instead of a connection reset.
func (c *connector) lingerClose(raw net.Conn) {
	if cw, ok := raw.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		raw.SetReadDeadline(time.Now().Add(min(c.timeout, time.Second)))
		io.Copy(io.Discard, io.LimitReader(raw, 1<<20))
	}
	raw.Close()
}
