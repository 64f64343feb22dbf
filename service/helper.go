package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"veil/internal/netutil"
	"veil/internal/pinned"
	"veil/mpc"
	"veil/mpc/session"
	"veil/mpc/transport"

	_ "veil/mpc/porthos" // the 3pc backend the helper serves
)

// Helper is 3PC's helper as a service (veil helper), run by an
// organisation other than the model owner's: servers it admits open a
// session with it, the server's client joins that session, and the
// helper deals the correlated randomness of the session's 3pc run. It
// learns which server and session it serves and nothing else: the
// client reaches it with a one-time session token the server gave it
// and a throwaway certificate, and the helper never sees an input, a
// weight or an output.
//
// On a connection to the helper the first message is one JSON object,
// {"role": "server", "session": TOKEN} from an admitted server's key,
// or {"role": "client", "session": TOKEN}; the helper answers {} or
// {"error": "..."}. A server's session waits for its client for the
// helper's timeout; the two joined, the three parties run the session
// (mpc/session) and the helper's connections close.
type Helper struct {
	// Identity is the helper's key and certificate; servers and their
	// clients pin its key.
	Identity tls.Certificate
	// Servers lists the keys of the servers the helper works for.
	Servers *Admission
	// Options are the sessions' backend (3pc, the default here) and its
	// options, as the servers run them.
	Options session.Options
	// MaxSessions bounds the sessions at once (zero:
	// DefaultMaxSessions); a server's session beyond it is refused as
	// busy.
	MaxSessions int
	// Timeout is the transport's, and how long a server's session waits
	// for its client (zero: transport.DefaultTimeout); MaxMessage bounds
	// one message.
	Timeout    time.Duration
	MaxMessage int64
	// Logger receives one record per session; nil discards them.
	Logger *slog.Logger

	once sync.Once
	daemon
	waiting map[string]chan mpc.Network // by session token: where the client's link goes
}

// hello is the first message on a connection to the helper.
type hello struct {
	Role    string `json:"role"`
	Session string `json:"session"`
}

// Stats returns the helper's counters (Sessions, Busy, Failed, Refused,
// Inferences).
func (h *Helper) Stats() *Stats { return &h.stats }

func (h *Helper) init() error {
	var err error
	h.once.Do(func() {
		switch {
		case len(h.Identity.Certificate) == 0 || h.Identity.PrivateKey == nil:
			err = errors.New("service: the helper has no identity (key and certificate)")
			return
		case h.Servers == nil:
			err = errors.New("service: the helper admits no server: give the servers' keys")
			return
		}
		if h.Options.Backend == "" {
			h.Options.Backend = "3pc"
		}
		b, lerr := mpc.Lookup(h.Options.Backend)
		if lerr == nil {
			lerr = h.Options.BackendOptions.Check(b)
		}
		if lerr == nil && b.Parties != 3 {
			lerr = fmt.Errorf("backend %s has no helper", b.Name)
		}
		if lerr != nil {
			err = fmt.Errorf("service: helper: %w", lerr)
			return
		}
		h.start(h.MaxSessions)
		h.waiting = map[string]chan mpc.Network{}
	})
	return err
}

func (h *Helper) log() *slog.Logger { return orDiscard(h.Logger) }

// Serve accepts servers and clients on ln until Shutdown (then it
// returns ErrServerClosed) or a permanent Accept error.
func (h *Helper) Serve(ln net.Listener) error {
	if err := h.init(); err != nil {
		return err
	}
	if ln == nil {
		return errors.New("service: no listener")
	}
	return h.serve(ln, h.Timeout, 0, func(format string, args ...any) { h.log().Warn(fmt.Sprintf(format, args...)) }, h.handle)
}

// Shutdown stops accepting, drops the sessions still waiting for their
// client, waits for the running ones until ctx ends, then aborts the
// rest.
func (h *Helper) Shutdown(ctx context.Context) error {
	if err := h.init(); err != nil {
		return err
	}
	return h.shutdown(ctx)
}

// handle reads a connection's hello and serves a server's session or
// hands a client's link to the session waiting for it.
func (h *Helper) handle(p *netutil.Pending) {
	log := h.log().With("remote", p.RemoteAddr().String())
	// Any certificate passes the handshake (clients present throwaway
	// ones); a server's key is checked against the admitted ones below.
	conn := tls.Server(p, pinned.Config(h.Identity, "", func(*x509.Certificate) error { return nil }))
	hctx, cancel := context.WithTimeout(h.ctx, cmpTimeout(h.Timeout))
	err := conn.HandshakeContext(hctx)
	cancel()
	if err != nil {
		h.stats.Refused.Add(1)
		log.Info("handshake refused", "err", err)
		return
	}
	if !p.Authenticated() {
		return
	}
	h.stats.Connections.Add(1)
	cert, _ := pinned.PeerCertificate(conn.ConnectionState())
	// An admitted server's key makes the link the server's (P1); any
	// other is a client's (P0), which must then name a waiting session.
	role, other := "client", mpc.P0
	if h.Servers.Check(cert) == nil {
		role, other = "server", mpc.P1
	}
	link, err := transport.Pair(mpc.P2, other, conn, p.Conn, h.Timeout, h.MaxMessage)
	if err != nil {
		return
	}
	msg, err := link.Recv(other)
	if err != nil {
		link.Close()
		return
	}
	var hl hello
	if err := parseHello(msg, &hl); err != nil {
		h.stats.Rejected.Add(1)
		reply(link, other, answer{Error: err.Error()})
		link.Close()
		return
	}
	switch {
	case hl.Role != role && hl.Role == "server":
		h.stats.Refused.Add(1)
		log.Info("server refused: key not admitted", "client", cert.Subject.CommonName)
		reply(link, other, answer{Error: "this helper does not work for your key"})
		link.Close()
	case hl.Role != role:
		h.stats.Rejected.Add(1)
		reply(link, other, answer{Error: fmt.Sprintf("role %q: want %s", hl.Role, role)})
		link.Close()
	case role == "server":
		h.serveSession(link, hl.Session, log.With("server", cert.Subject.CommonName))
	default:
		h.joinClient(link, hl.Session, log)
	}
}

func reply(n mpc.Network, to mpc.Party, a answer) bool { return n.Send(to, mustJSON(a)) == nil }

func validToken(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

// serveSession registers a server's session, waits for its client and
// runs the helper's part.
func (h *Helper) serveSession(srv mpc.Network, token string, log *slog.Logger) {
	defer srv.Close()
	if h.draining.Load() {
		reply(srv, mpc.P1, answer{Error: "the helper is shutting down", Busy: true})
		return
	}
	if !h.acquire() {
		h.stats.Busy.Add(1)
		reply(srv, mpc.P1, answer{Error: fmt.Sprintf("busy: %d sessions running", cap(h.slots)), Busy: true})
		return
	}
	defer h.release()
	arrive := make(chan mpc.Network, 1)
	h.mu.Lock()
	if _, dup := h.waiting[token]; dup {
		h.mu.Unlock()
		h.stats.Rejected.Add(1)
		reply(srv, mpc.P1, answer{Error: "a session token already in use"})
		return
	}
	h.waiting[token] = arrive
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.waiting, token)
		h.mu.Unlock()
	}()
	if !reply(srv, mpc.P1, answer{}) {
		return
	}
	var cli mpc.Network
	select {
	case cli = <-arrive:
	case <-time.After(cmpTimeout(h.Timeout)):
		h.stats.Failed.Add(1)
		log.Info("session abandoned: the client did not come")
		return
	case <-h.stopping:
		log.Info("session abandoned: shutting down before the client came")
		return
	}
	defer cli.Close()
	defer h.track(srv)()
	defer h.track(cli)()
	nw, err := transport.Join(mpc.P2, 3, srv, cli)
	if err != nil {
		h.stats.Failed.Add(1)
		log.Warn("session", "err", err)
		return
	}
	defer h.running()()
	start := time.Now()
	rep, err := session.Helper(h.ctx, nw, h.Options)
	st := nw.Stats()
	h.stats.BytesSent.Add(st.TotalSent())
	h.stats.BytesRecv.Add(st.TotalRecv())
	if err != nil {
		h.stats.Failed.Add(1)
		log.Warn("session failed", "err", err)
		return
	}
	h.stats.Inferences.Add(int64(rep.N))
	log.Info("session", "inferences", rep.N, "s", time.Since(start).Seconds())
}

// joinClient hands a client's link to the server session waiting for
// its token.
func (h *Helper) joinClient(first mpc.Network, token string, log *slog.Logger) {
	h.mu.Lock()
	arrive, ok := h.waiting[token]
	if ok {
		delete(h.waiting, token) // one client per session
	}
	h.mu.Unlock()
	if !ok {
		h.stats.Rejected.Add(1)
		log.Info("client refused: no session waits for its token")
		reply(first, mpc.P0, answer{Error: "no session waits for this token"})
		first.Close()
		return
	}
	if !reply(first, mpc.P0, answer{}) {
		first.Close()
		return
	}
	arrive <- first
}
