package service

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"

	"veil/fixed"
	"veil/internal/pinned"
	"veil/mpc"
	"veil/mpc/session"
	"veil/mpc/transport"
)

// ClientConfig is what a client needs to dial a server.
type ClientConfig struct {
	// Identity is the client's key and certificate; the server admits
	// its key (or any).
	Identity tls.Certificate
	// Server is the server's key, pinned: a server presenting another
	// is refused.
	Server pinned.Pin
	// Options are the sessions' backend and options; they must be the
	// server's (2pc by default). A client that runs 3pc trusts the
	// helper not to collude with the server: it pins the helper's key
	// (Helper), and a server that names another helper is refused.
	Options session.Options
	Helper  pinned.Pin
	// Timeout and MaxMessage are the transport's (zero: its defaults).
	Timeout    time.Duration
	MaxMessage int64
}

// Client is a connection to a server, for one session at a time.
type Client struct {
	nw         mpc.Network
	opt        session.Options
	helper     pinned.Pin
	timeout    time.Duration
	maxMessage int64
}

// Dial connects to the server at addr and authenticates both ends.
func Dial(ctx context.Context, addr string, cfg ClientConfig) (*Client, error) {
	if len(cfg.Identity.Certificate) == 0 || cfg.Identity.PrivateKey == nil {
		return nil, errors.New("service: the client has no identity (key and certificate)")
	}
	if len(cfg.Server) == 0 {
		return nil, errors.New("service: no pinned server key")
	}
	if cfg.Options.Backend == "" {
		cfg.Options.Backend = "2pc"
	}
	if cfg.Options.Backend == "3pc" && len(cfg.Helper) == 0 {
		return nil, errors.New("service: a 3pc client pins the helper's key: none given")
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("service: dialling %s: %w", addr, err)
	}
	conn := tls.Client(raw, pinned.Config(cfg.Identity, "", pinned.Only(cfg.Server, "the server", "")))
	hctx, cancel := context.WithTimeout(ctx, cmpTimeout(cfg.Timeout))
	err = conn.HandshakeContext(hctx)
	cancel()
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("service: handshake with %s: %w", addr, err)
	}
	nw, err := transport.Pair(mpc.P0, mpc.P1, conn, raw, cfg.Timeout, cfg.MaxMessage)
	if err != nil {
		return nil, fmt.Errorf("service: %s: %w", addr, err)
	}
	return &Client{nw: nw, opt: cfg.Options, helper: cfg.Helper, timeout: cfg.Timeout, maxMessage: cfg.MaxMessage}, nil
}

// Request names the model of a session and, optionally, pins its
// program: Program is the hex SHA-256 of the program's public part
// (fixed.Program.PublicDigest, what veil compile and veil info print);
// a server serving another program under that name is refused.
type Request struct {
	Model   string
	Program string
}

// Result is a session's outcome at the client: the server's public
// program, every output of every inference (decoded, the program's Post
// applied), and the client's report.
type Result struct {
	Program *fixed.Program
	Outputs [][][]float64
	Report  *session.Report
}

// Infer runs one session of req's model on the inputs that prepare makes
// from the server's public program (one flat input per inference, the
// program's inputs in order, as session.Client takes them). A refused
// request is a *RefusedError (errors.Is ErrBusy when the server is
// busy); the connection stays usable after a refusal, not after a
// failed session. ctx cancels the session.
func (c *Client) Infer(ctx context.Context, req Request, prepare func(*fixed.Program) ([][]float32, error)) (*Result, error) {
	if req.Model == "" {
		return nil, errors.New("service: no model named")
	}
	if req.Program != "" {
		if d, err := hex.DecodeString(req.Program); err != nil || len(d) != 32 {
			return nil, fmt.Errorf("service: program %q is not a hex SHA-256", req.Program)
		}
	}
	if err := c.nw.Send(mpc.P1, mustJSON(request{Model: req.Model, Program: req.Program})); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	msg, err := c.nw.Recv(mpc.P1)
	if err != nil {
		return nil, fmt.Errorf("service: waiting for the server's answer: %w", err)
	}
	a, err := parseAnswer(msg)
	if err != nil {
		return nil, &mpc.PeerError{Peer: mpc.P1, Err: err}
	}
	if a.Error != "" {
		return nil, &RefusedError{Model: req.Model, Reason: a.Error, Busy: a.Busy}
	}
	if req.Program != "" && a.Program != req.Program {
		return nil, &mpc.PeerError{Peer: mpc.P1, Err: fmt.Errorf("accepted model %q as program %s, not the %s asked for", req.Model, a.Program, req.Program)}
	}
	run := c.nw
	switch {
	case a.Session == "" && c.opt.Backend == "3pc":
		return nil, &mpc.PeerError{Peer: mpc.P1, Err: errors.New("accepted a 3pc request without naming a helper")}
	case a.Session != "" && c.opt.Backend != "3pc":
		return nil, &mpc.PeerError{Peer: mpc.P1, Err: fmt.Errorf("runs 3pc with a helper; this client asked for %s", c.opt.Backend)}
	case a.Session != "":
		// A throwaway identity: the helper learns nothing of the client.
		id, err := pinned.Generate("veil client")
		if err != nil {
			return nil, err
		}
		hl := HelperLink{Addr: a.Helper, Key: c.helper}
		link, err := hl.dial(ctx, mpc.P0, id, a.Session, c.timeout, c.maxMessage)
		if err != nil {
			return nil, fmt.Errorf("service: the helper at %s: %w", a.Helper, err)
		}
		defer link.Close()
		if run, err = transport.Join(mpc.P0, 3, c.nw, link); err != nil {
			return nil, err
		}
	}
	pin := a.Program
	prog, outs, rep, err := session.Client(ctx, run, c.opt, func(p *fixed.Program) ([][]float32, error) {
		// The program the session carries must be the one accepted.
		if d := p.PublicDigest(); hex.EncodeToString(d[:]) != pin {
			return nil, &mpc.PeerError{Peer: mpc.P1, Err: fmt.Errorf("sent program %x, not the %s it accepted the request for", d, pin)}
		}
		return prepare(p)
	})
	if err != nil {
		return nil, fmt.Errorf("service: model %q: %w", req.Model, err)
	}
	return &Result{Program: prog, Outputs: outs, Report: rep}, nil
}

// Close ends the connection (the server sees the client leave).
func (c *Client) Close() error { return c.nw.Close() }
