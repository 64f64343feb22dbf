package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"veil/fixed"
	"veil/internal/netutil"
	"veil/internal/pinned"
	"veil/mpc"
	"veil/mpc/session"
	"veil/mpc/transport"
	"veil/mpc/twopc"
)

// DefaultMaxSessions is Server.MaxSessions when zero.
const DefaultMaxSessions = 4

// DefaultSessionTimeout is Server.SessionTimeout when zero.
const DefaultSessionTimeout = 15 * time.Minute

func (s *Server) sessionTimeout() time.Duration {
	if s.SessionTimeout > 0 {
		return s.SessionTimeout
	}
	return DefaultSessionTimeout
}

// Server serves secure inferences of its models to the clients it
// admits, each session a 2pc session of its own (see the package
// documentation). Set its fields, then call Serve; they must not change
// afterwards.
type Server struct {
	// Identity is the server's key and certificate; clients pin its key.
	Identity tls.Certificate
	// Models are the compiled programs served, with their weights, by
	// the name clients ask for.
	Models map[string]*fixed.Program
	// Admission lists the client keys admitted; with AdmitAny instead,
	// any client that completes the handshake is served. One of the two
	// must be set.
	Admission *Admission
	AdmitAny  bool
	// Options are the sessions' backend and its options: 2pc (the
	// default here), or 3pc with Helper set.
	Options session.Options
	// Helper is the helper service (veil helper) that 3pc sessions use.
	Helper *HelperLink
	// MaxSessions bounds the sessions run at once (zero:
	// DefaultMaxSessions); a request beyond it is refused as busy.
	MaxSessions int
	// MaxPendingPerHost bounds the connections from one host that have
	// not finished their handshake (zero: twice the sessions, at least
	// netutil's default); any beyond are closed at once, so that one
	// host cannot hold every handshake slot. Clients behind one address
	// (a hospital's gateway) that connect in bursts need it raised.
	MaxPendingPerHost int
	// SessionTimeout bounds one session, from the request's acceptance
	// to its last inference (zero: DefaultSessionTimeout); a session
	// beyond it is ended and its connection closed, so that no client
	// holds a session slot for ever.
	SessionTimeout time.Duration
	// Timeout is the transport's: a peer silent for this long is cut
	// off (zero: transport.DefaultTimeout). MaxMessage bounds one
	// message (zero: transport.DefaultMaxMessage).
	Timeout    time.Duration
	MaxMessage int64
	// Logger receives one record per connection and per session, never
	// inputs, outputs, weights or keys; nil discards them.
	Logger *slog.Logger

	once sync.Once
	daemon
	digests map[string]string
}

// Stats returns the server's counters.
func (s *Server) Stats() *Stats { return &s.stats }

func (s *Server) init() error {
	var err error
	s.once.Do(func() {
		switch {
		case len(s.Identity.Certificate) == 0 || s.Identity.PrivateKey == nil:
			err = errors.New("service: the server has no identity (key and certificate)")
			return
		case len(s.Models) == 0:
			err = errors.New("service: no models to serve")
			return
		case s.Admission == nil && !s.AdmitAny:
			err = errors.New("service: no admission file and not admitting any client: set one")
			return
		case s.Admission != nil && s.AdmitAny:
			err = errors.New("service: both an admission file and any client admitted: choose one")
			return
		}
		if s.Options.Backend == "" {
			s.Options.Backend = "2pc"
		}
		switch {
		case s.Options.Backend == "2pc" && s.Helper != nil:
			err = errors.New("service: a helper is set, but 2pc sessions have none (backend 3pc uses it)")
			return
		case s.Options.Backend == "3pc" && (s.Helper == nil || s.Helper.Addr == "" || len(s.Helper.Key) == 0):
			err = errors.New("service: backend 3pc needs a helper service: its address and key")
			return
		case s.Options.Backend != "2pc" && s.Options.Backend != "3pc":
			err = fmt.Errorf("service: backend %q: the service runs 2pc or 3pc sessions", s.Options.Backend)
			return
		}
		if _, perr := twopc.ParseOptions(s.Options.BackendOptions); s.Options.Backend == "2pc" && perr != nil {
			err = fmt.Errorf("service: %w", perr)
			return
		}
		b, lerr := mpc.Lookup(s.Options.Backend)
		if lerr == nil {
			lerr = s.Options.BackendOptions.Check(b)
		}
		if lerr != nil {
			err = fmt.Errorf("service: %w", lerr)
			return
		}
		s.digests = map[string]string{}
		for name, p := range s.Models {
			if p == nil || !p.WeightsComplete() {
				err = fmt.Errorf("service: model %q: a compiled program with its weights is needed", name)
				return
			}
			d := p.PublicDigest()
			s.digests[name] = hex.EncodeToString(d[:])
		}
		s.start(s.MaxSessions)
	})
	return err
}

func (s *Server) log() *slog.Logger { return orDiscard(s.Logger) }

// Digest returns the hex digest of the public part of model name's
// program, as clients pin it ("" for a model not served).
func (s *Server) Digest(name string) string {
	if s.init() != nil {
		return ""
	}
	return s.digests[name]
}

// Serve accepts clients on ln until Shutdown or a permanent Accept
// error; it returns that error (ErrServerClosed after Shutdown).
func (s *Server) Serve(ln net.Listener) error {
	if err := s.init(); err != nil {
		return err
	}
	if ln == nil {
		return errors.New("service: no listener")
	}
	return s.serve(ln, s.Timeout, s.MaxPendingPerHost, func(format string, args ...any) { s.log().Warn(fmt.Sprintf(format, args...)) }, s.handle)
}

// ErrServerClosed is what Serve returns after Shutdown.
var ErrServerClosed = errors.New("service: server closed")

// Shutdown stops accepting connections and new sessions, waits for the
// running sessions to finish until ctx ends, then aborts those still
// running, and closes every connection. It returns ctx's error if it had
// to abort sessions.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	return s.shutdown(ctx)
}

// tlsConfig admits clients by the admission file, or any.
func (s *Server) tlsConfig() *tls.Config {
	return pinned.Config(s.Identity, "", func(c *x509.Certificate) error {
		if s.AdmitAny {
			return nil
		}
		return s.Admission.Check(c)
	})
}

// handle serves one connection: the handshake, then requests and their
// sessions until the client closes or fails.
func (s *Server) handle(p *netutil.Pending) {
	log := s.log().With("remote", p.RemoteAddr().String())
	conn := tls.Server(p, s.tlsConfig())
	hctx, cancel := context.WithTimeout(s.ctx, cmpTimeout(s.Timeout))
	err := conn.HandshakeContext(hctx)
	cancel()
	if err != nil {
		s.stats.Refused.Add(1)
		log.Info("handshake refused", "err", err)
		return
	}
	if !p.Authenticated() {
		return
	}
	cert, _ := pinned.PeerCertificate(conn.ConnectionState())
	log = log.With("client", cert.Subject.CommonName)
	nw, err := transport.Pair(mpc.P1, mpc.P0, conn, p.Conn, s.Timeout, s.MaxMessage)
	if err != nil {
		log.Warn("connection", "err", err)
		return
	}
	s.stats.Connections.Add(1)
	if s.draining.Load() {
		nw.Close()
		return
	}
	defer nw.Close()
	defer s.track(nw)()
	log.Info("connected")
	for {
		msg, err := nw.Recv(mpc.P0)
		if err != nil {
			if !errors.Is(err, transport.ErrPeerClosed) && !errors.Is(err, transport.ErrClosed) {
				log.Info("connection ended", "err", err)
			}
			return
		}
		if !s.serveRequest(nw, msg, log) {
			return
		}
	}
}

// serveRequest answers one request and runs its session; it reports
// whether the connection may carry another.
func (s *Server) serveRequest(nw mpc.Network, msg []byte, log *slog.Logger) bool {
	refuse := func(a answer) bool {
		return nw.Send(mpc.P0, mustJSON(a)) == nil
	}
	req, err := parseRequest(msg)
	if err != nil {
		s.stats.Rejected.Add(1)
		log.Info("request refused", "err", err)
		refuse(answer{Error: err.Error()})
		return false
	}
	log = log.With("model", req.Model)
	prog, digest := s.Models[req.Model], s.digests[req.Model]
	switch {
	case prog == nil:
		s.stats.Rejected.Add(1)
		log.Info("request refused: unknown model")
		return refuse(answer{Error: fmt.Sprintf("no model %q here (models: %s)", req.Model, strings.Join(slices.Sorted(maps.Keys(s.Models)), ", "))})
	case req.Program != "" && req.Program != digest:
		s.stats.Rejected.Add(1)
		log.Info("request refused: other program", "want", req.Program, "have", digest)
		return refuse(answer{Error: fmt.Sprintf("model %q is program %s here, not %s", req.Model, digest, req.Program)})
	case s.draining.Load():
		refuse(answer{Error: "the server is shutting down", Busy: true})
		return false
	}
	if !s.acquire() {
		s.stats.Busy.Add(1)
		log.Info("request refused: busy", "sessions", cap(s.slots))
		return refuse(answer{Error: fmt.Sprintf("busy: %d sessions running, the most this server runs at once", cap(s.slots)), Busy: true})
	}
	defer s.release()
	a, run := answer{Program: digest}, nw
	if s.Helper != nil {
		token, link, err := s.Helper.open(s.ctx, s.Identity, s.Timeout, s.MaxMessage)
		if err != nil {
			var re *RefusedError
			busy := errors.As(err, &re) && re.Busy
			if busy {
				s.stats.Busy.Add(1)
			}
			log.Warn("request refused: the helper", "err", err)
			return refuse(answer{Error: fmt.Sprintf("the helper service: %v", err), Busy: busy})
		}
		defer link.Close()
		defer s.track(link)()
		if run, err = transport.Join(mpc.P1, 3, nw, link); err != nil {
			log.Warn("session", "err", err)
			return false
		}
		a.Helper, a.Session = s.Helper.Addr, token
	}
	if err := nw.Send(mpc.P0, mustJSON(a)); err != nil {
		return false
	}
	defer s.running()()
	start := time.Now()
	before := run.Stats()
	// A session that outlasts its deadline (a client holding its slot by
	// answering slowly, say) is ended by closing its links, which stops
	// it wherever it waits; so is every session when Shutdown aborts.
	sctx, cancel := context.WithTimeout(s.ctx, s.sessionTimeout())
	stop := context.AfterFunc(sctx, func() {
		if errors.Is(sctx.Err(), context.DeadlineExceeded) {
			log.Warn("session deadline passed: closing it", "after", s.sessionTimeout())
			run.Close()
		}
	})
	rep, err := session.Server(sctx, run, prog, s.Options)
	stop()
	cancel()
	after := run.Stats()
	s.stats.BytesSent.Add(after.TotalSent() - before.TotalSent())
	s.stats.BytesRecv.Add(after.TotalRecv() - before.TotalRecv())
	if err != nil {
		s.stats.Failed.Add(1)
		log.Warn("session failed", "err", err, "s", time.Since(start).Seconds())
		return false
	}
	s.stats.Inferences.Add(int64(rep.N))
	s.metrics.sessionDur.WithLabelValues(req.Model).Observe(time.Since(start).Seconds())
	for _, d := range rep.PerInfer {
		s.metrics.inferDur.WithLabelValues(req.Model).Observe(d.Seconds())
	}
	log.Info("session", "inferences", rep.N, "s", time.Since(start).Seconds(), "bytes_sent", rep.Cost.TotalSent())
	return true
}

func cmpTimeout(t time.Duration) time.Duration {
	if t <= 0 {
		return transport.DefaultTimeout
	}
	return t
}
