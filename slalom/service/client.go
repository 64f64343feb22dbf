package service

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"veil/attest"
	"veil/internal/attestkex"
	"veil/slalom"
)

// Requirements are what a client demands of T's statement.
type Requirements struct {
	// ModelHash, if set, pins M (32 bytes).
	ModelHash []byte
	// Verify demands Freivalds checks on every layer (with k ≥ Reps);
	// Blind demands blinding of every layer's input.
	Verify, Blind bool
}

// Check returns an error naming the first demand st does not meet.
func (r Requirements) Check(st *Statement) error {
	if st.P != slalom.P {
		return fmt.Errorf("slalom client: T computes mod %d, this client knows only p = %d", st.P, uint64(slalom.P))
	}
	if r.ModelHash != nil && !bytes.Equal(r.ModelHash, st.Model[:]) {
		return fmt.Errorf("slalom client: T runs model hash %x, not the pinned %x", st.Model[:], r.ModelHash)
	}
	if r.Verify && (!st.Verify || st.K < slalom.Reps) {
		return fmt.Errorf("slalom client: verification required, but T runs mode %s with k = %d", st.Mode(), st.K)
	}
	if r.Blind && !st.Blind {
		return fmt.Errorf("slalom client: blinding required, but T runs mode %s", st.Mode())
	}
	return nil
}

// RefusedError is T's refusal of one input (for example a failed Freivalds
// check naming the layer): authenticated, with no output.
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return "T refused the input: " + e.Msg }

// Result is T's answer to one input: the logits at 2^-Scale, or Err
// (a *RefusedError).
type Result struct {
	Logits []int64
	Scale  int
	Err    error
}

// Client is a client's end of an attested session with T.
type Client struct {
	// Statement is what T's evidence says it runs; Claims what the
	// evidence established (platform, measurement, debug, TCB).
	Statement Statement
	Claims    *attest.Claims
	// Key is T's channel key for this session.
	Key []byte
	// Timeout is how long InferAll waits for T to send anything, an
	// answer or a heartbeat, before it gives up on T (NewClient sets
	// DefaultClientTimeout; zero waits without limit).
	Timeout time.Duration

	conn net.Conn
	s    *session
}

// DialService connects to T at addr and runs the handshake (NewClient).
func DialService(addr string, pol attest.Policy, req Requirements) (*Client, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("slalom client: connecting to %s: %w", addr, err)
	}
	cl, err := NewClient(c, pol, req)
	if err != nil {
		c.Close()
		return nil, err
	}
	return cl, nil
}

// NewClient runs the client's handshake on conn: it sends a fresh nonce,
// checks T's evidence with pol against the report data it computes from
// T's key, the statement and that nonce, checks the statement against req
// and derives the channel keys. Any failure is an error naming it.
func NewClient(conn net.Conn, pol attest.Policy, req Requirements) (*Client, error) {
	conn.SetDeadline(time.Now().Add(clientHandshakeTimeout))
	defer conn.SetDeadline(time.Time{})
	eph, err := attestkex.NewKey()
	if err != nil {
		return nil, fmt.Errorf("slalom client: %w", err)
	}
	nonce, err := attestkex.NewNonce()
	if err != nil {
		return nil, fmt.Errorf("slalom client: nonce: %w", err)
	}
	hello := append(nonce, eph.PublicKey().Bytes()...)
	if err := writeFrame(conn, msgHello, hello); err != nil {
		return nil, fmt.Errorf("slalom client: sending the hello: %w", err)
	}
	typ, body, err := readFrame(conn, maxFrame)
	if err != nil {
		return nil, fmt.Errorf("slalom client: reading T's evidence: %w", err)
	}
	if typ == msgAbort {
		return nil, fmt.Errorf("slalom client: T aborted the handshake (unauthenticated message): %q", clip(string(body)))
	}
	if typ != msgAttest {
		return nil, fmt.Errorf("slalom client: expected T's evidence (frame type %d), got type %d", msgAttest, typ)
	}
	r := &reader{b: body}
	stb := r.lp(maxFrame)
	evb := r.lp(attest.MaxEvidenceSize)
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("slalom client: T's evidence message: %w", r.err)
	}
	var st Statement
	if err := st.UnmarshalBinary(stb); err != nil {
		return nil, fmt.Errorf("slalom client: %w", err)
	}
	var ev attest.Evidence
	if err := ev.UnmarshalBinary(evb); err != nil {
		return nil, fmt.Errorf("slalom client: T's evidence: %w", err)
	}
	if _, err := attestkex.PeerKey(ev.PubKey); err != nil {
		return nil, fmt.Errorf("slalom client: the key T's evidence names is not an X25519 key: %w", err)
	}
	sid := sessionID(stb)
	claims, err := attestkex.Verify(pol, &ev, sid[:], nonce)
	if err != nil {
		return nil, fmt.Errorf("slalom client: T's evidence refused (it must bind T's key, this statement and this client's nonce): %w", err)
	}
	if err := req.Check(&st); err != nil {
		return nil, err
	}
	sec, err := attestkex.Agree(eph, ev.PubKey, transcriptSalt(hello, body))
	if err != nil {
		return nil, fmt.Errorf("slalom client: %w", err)
	}
	s, err := newSession(conn, sec, false)
	if err != nil {
		return nil, fmt.Errorf("slalom client: deriving keys: %w", err)
	}
	return &Client{Statement: st, Claims: claims, Key: ev.PubKey, Timeout: DefaultClientTimeout, conn: conn, s: s}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Infer sends one input and returns T's output logits at scale
// Statement.OutScale, or T's refusal (*RefusedError) or a channel error.
func (c *Client) Infer(x []float32) ([]int64, error) {
	rs, err := c.InferAll([][]float32{x})
	if err != nil {
		return nil, err
	}
	return rs[0].Logits, rs[0].Err
}

// InferAll sends every input without waiting (T answers in order) and
// returns one Result per input. A T refusal is per input (Result.Err); a
// refused frame or a broken connection ends the session and is the
// returned error.
func (c *Client) InferAll(xs [][]float32) ([]Result, error) {
	size := c.Statement.inputSize()
	for i, x := range xs {
		if len(x) != size {
			return nil, fmt.Errorf("slalom client: input %d has %d values, T's model takes %d", i, len(x), size)
		}
	}
	werr := make(chan error, 1)
	go func() {
		for i, x := range xs {
			if err := c.s.send(recInput, encodeInput(x)); err != nil {
				werr <- fmt.Errorf("slalom client: sending input %d: %w", i, err)
				return
			}
		}
		werr <- nil
	}()
	out := make([]Result, len(xs))
	fail := func(err error) ([]Result, error) {
		c.conn.Close() // unblocks the writer
		<-werr
		return nil, err
	}
	for i := 0; i < len(xs); {
		if c.Timeout > 0 {
			c.conn.SetReadDeadline(time.Now().Add(c.Timeout))
		}
		kind, msg, err := c.s.recv()
		switch {
		case err == io.EOF:
			err = errors.New("T closed the connection")
		case errors.Is(err, os.ErrDeadlineExceeded):
			err = fmt.Errorf("T at %s sent nothing, not even a heartbeat, for %v (stalled or unreachable): %w", c.conn.RemoteAddr(), c.Timeout, err)
		}
		if err != nil {
			return fail(fmt.Errorf("slalom client: answer %d: %w", i, err))
		}
		if kind == recHeartbeat && len(msg) == 0 {
			continue // T is alive, still working
		}
		switch kind {
		case recOutput:
			z, err := decodeOutput(msg, &c.Statement)
			if err != nil {
				return fail(fmt.Errorf("slalom client: answer %d: %w", i, err))
			}
			out[i] = Result{Logits: z, Scale: c.Statement.OutScale}
		case recError:
			out[i] = Result{Err: &RefusedError{Msg: string(clip(string(msg)))}}
		default:
			return fail(fmt.Errorf("slalom client: answer %d: message of kind %d", i, kind))
		}
		i++
	}
	if err := <-werr; err != nil {
		return nil, err
	}
	return out, nil
}
