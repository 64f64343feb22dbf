package aramis

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"veil/attest"
	"veil/mpc"
)

// Config is what a party brings to a maliciously secure session.
type Config struct {
	// Attester produces this party's evidence (attest.Detect on a TEE;
	// attest.NewSimulated only where the peers' policy accepts it).
	Attester attest.Attester
	// Policy is what this party accepts from its peers' evidence.
	Policy attest.Policy
	// Commitment is this party's commitment to its input (a hash: the
	// client's inputs, the server's program with its weights), sent in
	// the first frame of each of its links. It may be empty.
	Commitment []byte
	// Timeout is how long a peer may stay silent: without a single
	// authenticated frame from it for this long, the session fails,
	// blaming it. Each party sends an authenticated heartbeat on a link
	// idle for Timeout/8 (at most 250 ms), so only a dead or cut-off peer
	// goes silent, and a host that drops an attested party's last message
	// is caught by the next heartbeat's sequence number. Zero means
	// DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout is Config.Timeout's default.
const DefaultTimeout = 8 * time.Second

// Network is one party's maliciously secure network: an mpc.Network
// whose every message is authenticated, numbered and chained under keys
// born in this process and bound to its attestation evidence. See the
// package documentation.
type Network struct {
	inner mpc.Network
	me    mpc.Party
	sid   [32]byte
	links [3]*link // nil for me

	timeout   time.Duration
	heartbeat time.Duration
	stop      chan struct{} // closed by Close: stops the monitor

	mu      sync.Mutex
	cond    sync.Cond
	err     error // sticky: the failure that stopped the session
	failing bool  // fail is telling the peers
	closed  bool
}

var (
	_ mpc.Network      = (*Network)(nil)
	_ mpc.Checkpointer = (*Network)(nil)
	_ mpc.Aborter      = (*Network)(nil)
)

// link is this party's state with one peer.
type link struct {
	peer   mpc.Party
	prf    []byte
	claims *attest.Claims

	sendMu   sync.Mutex
	send     direction
	lastSent time.Time

	recv direction // owned by the reader goroutine

	// guarded by Network.mu
	inbox         [][]byte
	recvData      uint64   // data frames verified from the peer
	recvDataChain [32]byte // the chain value after the last of them
	consumed      uint64   // data messages Recv returned
	ckpts         []checkpoint
	commitment    []byte
	hello         bool      // the peer's hello frame verified
	ended         bool      // the peer's end frame verified
	lastRecv      time.Time // when the last authenticated frame arrived
	readerDone    chan struct{}
}

// checkpoint is what a peer says it has sent and verified.
type checkpoint struct {
	sentData, recvData   uint64
	sentChain, recvChain [32]byte
}

const checkpointLen = 2 * (8 + 32)

func (c *checkpoint) marshal() []byte {
	b := make([]byte, checkpointLen)
	binary.BigEndian.PutUint64(b, c.sentData)
	copy(b[8:], c.sentChain[:])
	binary.BigEndian.PutUint64(b[40:], c.recvData)
	copy(b[48:], c.recvChain[:])
	return b
}

func parseCheckpoint(b []byte) (checkpoint, error) {
	var c checkpoint
	if len(b) != checkpointLen {
		return c, fmt.Errorf("checkpoint of %d bytes, want %d", len(b), checkpointLen)
	}
	c.sentData = binary.BigEndian.Uint64(b)
	copy(c.sentChain[:], b[8:40])
	c.recvData = binary.BigEndian.Uint64(b[40:])
	copy(c.recvChain[:], b[48:])
	return c, nil
}

// Limits of the handshake's unauthenticated messages.
const (
	nonceLen        = 32
	maxCommitment   = 1 << 10
	maxAbortMessage = 1 << 10
)

// Secure runs the attested handshake over inner with both peers and
// returns the authenticated network. The three parties call it at the
// same time:
//
//  1. Each sends a fresh 32-byte nonce to both peers. The session id is
//     SHA-256 of the three nonces in party order.
//  2. Each draws an X25519 key pair in this process and sends evidence
//     from cfg.Attester whose report data is attest.Bind(public key,
//     session id ‖ its party number, the three nonces): fresh, and bound
//     to this session and this party's role.
//  3. Each checks both peers' evidence against cfg.Policy (platform
//     signature, measurement, debug, TCB, report data). A peer whose
//     evidence is refused is the culprit: the session stops, and the
//     other peer, if its evidence verified, is told with an
//     authenticated abort.
//  4. Pairwise X25519 secrets give, through HKDF with the session id,
//     one AES-GCM key per directed link and the pairwise PRF key that
//     PairKey returns; every later frame is authenticated under them.
//  5. Each tells each peer whether it accepted its evidence (a refused
//     party stops, blaming itself), then sends a hello frame carrying
//     cfg.Commitment on both links and verifies the peers' (key
//     confirmation).
//
// Errors name the culprit as an *mpc.PeerError.
func Secure(inner mpc.Network, cfg Config) (*Network, error) {
	n := &Network{inner: inner, me: inner.Me(), timeout: cfg.Timeout, stop: make(chan struct{})}
	if n.timeout <= 0 {
		n.timeout = DefaultTimeout
	}
	n.heartbeat = min(n.timeout/8, 250*time.Millisecond)
	n.cond.L = &n.mu
	if n.me > mpc.P2 {
		return nil, fmt.Errorf("aramis: unknown party %d", n.me)
	}
	if cfg.Attester == nil {
		return nil, fmt.Errorf("aramis: %s: no attester", n.me)
	}
	if len(cfg.Commitment) > maxCommitment {
		return nil, fmt.Errorf("aramis: %s: commitment of %d bytes exceeds %d", n.me, len(cfg.Commitment), maxCommitment)
	}
	peers := n.peers()

	// 1. Nonces and the session id.
	var nonces [3][]byte
	nonces[n.me] = make([]byte, nonceLen)
	if _, err := rand.Read(nonces[n.me]); err != nil {
		return nil, fmt.Errorf("aramis: %s: %w", n.me, err)
	}
	for _, q := range peers {
		if err := inner.Send(q, bytes.Clone(nonces[n.me])); err != nil {
			return nil, fmt.Errorf("aramis: %s: handshake: %w", n.me, err)
		}
	}
	for _, q := range peers {
		b, err := inner.Recv(q)
		if err != nil {
			return nil, fmt.Errorf("aramis: %s: handshake: %w", n.me, err)
		}
		if len(b) != nonceLen {
			return nil, fmt.Errorf("aramis: %s: handshake: %w", n.me, &mpc.PeerError{Peer: q, Err: fmt.Errorf("nonce of %d bytes, want %d", len(b), nonceLen)})
		}
		nonces[q] = b
	}
	n.sid = sha256.Sum256(bytes.Join([][]byte{[]byte("veil aramis session v1"), nonces[0], nonces[1], nonces[2]}, nil))

	// 2. A key pair born here, and evidence binding it.
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("aramis: %s: %w", n.me, err)
	}
	ev, err := attest.AttestKey(cfg.Attester, priv.PublicKey().Bytes(), n.bound(n.me), nonces[0], nonces[1], nonces[2])
	if err != nil {
		return nil, fmt.Errorf("aramis: %s: attesting: %w", n.me, err)
	}
	evb, err := ev.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("aramis: %s: %w", n.me, err)
	}
	for _, q := range peers {
		if err := inner.Send(q, bytes.Clone(evb)); err != nil {
			return nil, fmt.Errorf("aramis: %s: handshake: %w", n.me, err)
		}
	}

	// 3. The peers' evidence.
	var refused error
	for _, q := range peers {
		l, err := n.verifyPeer(q, priv, cfg.Policy, nonces)
		if err != nil {
			if refused == nil {
				refused = err
			}
			continue
		}
		n.links[q] = l
	}
	// 4. Verdicts: each tells each peer whether it accepted its evidence
	// (unauthenticated: a forged verdict can only stop the session), so
	// that a refused party stops blaming itself rather than the peer
	// that hung up on it.
	for _, q := range peers {
		verdict := []byte{0}
		if n.links[q] != nil {
			verdict[0] = 1
		}
		// Best effort: a peer that has hung up has said why in what it
		// sent before, which the receives below and the readers deliver.
		inner.Send(q, verdict)
	}
	if refused == nil {
		for _, q := range peers {
			b, err := inner.Recv(q)
			switch {
			case err != nil:
				refused = err
			case len(b) != 1 || b[0] > 1:
				refused = &mpc.PeerError{Peer: q, Err: fmt.Errorf("verdict of %d bytes", len(b))}
			case b[0] == 0:
				refused = &mpc.PeerError{Peer: n.me, Err: fmt.Errorf("%s refused this party's evidence", q)}
			}
			if refused != nil {
				break
			}
		}
	}
	if refused != nil {
		var pe *mpc.PeerError
		culprit := n.me
		if errors.As(refused, &pe) {
			culprit = pe.Peer
		}
		for _, q := range peers {
			if l := n.links[q]; l != nil {
				n.sendFrame(l, frameAbort, abortPayload(culprit, refused))
			}
		}
		n.err = refused
		return nil, fmt.Errorf("aramis: %s: %w", n.me, refused)
	}

	// 5. The readers, hello frames, the monitor.
	now := time.Now()
	for _, q := range peers {
		l := n.links[q]
		l.readerDone = make(chan struct{})
		l.lastRecv = now
		go n.read(l)
	}
	var sendErr error
	for _, q := range peers {
		if err := n.sendFrame(n.links[q], frameHello, cfg.Commitment); err != nil {
			sendErr = n.sendFailed(n.links[q], err)
			break
		}
	}
	if sendErr == nil {
		go n.monitor()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, q := range peers {
		for !n.links[q].hello && n.err == nil {
			n.cond.Wait()
		}
	}
	if n.err != nil {
		err := n.err
		n.mu.Unlock()
		n.Close()
		n.mu.Lock()
		return nil, fmt.Errorf("aramis: %s: handshake: %w", n.me, err)
	}
	return n, nil
}

// monitor sends heartbeats on idle links and fails the session when a
// peer has been silent past the timeout.
func (n *Network) monitor() {
	tick := time.NewTicker(n.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-n.stop:
			return
		case now := <-tick.C:
			if n.Err() != nil {
				return
			}
			for _, l := range n.links {
				if l == nil {
					continue
				}
				l.sendMu.Lock()
				idle := now.Sub(l.lastSent) >= n.heartbeat
				l.sendMu.Unlock()
				if idle {
					n.sendFrame(l, frameHeartbeat, nil)
				}
				n.mu.Lock()
				silent, ended := now.Sub(l.lastRecv), l.ended
				n.mu.Unlock()
				if !ended && silent > n.timeout {
					n.fail(l.peer, fmt.Errorf("no authenticated frame for %v: %w", silent.Round(time.Millisecond), mpc.ErrTimeout))
					return
				}
			}
		}
	}
}

// bound is what party p's evidence binds besides its key and the nonces:
// the session id and p's role, so that evidence of a process acting as
// one party cannot stand for another.
func (n *Network) bound(p mpc.Party) []byte {
	return append(n.sid[:len(n.sid):len(n.sid)], byte(p))
}

// verifyPeer receives and checks peer q's evidence and derives the link.
func (n *Network) verifyPeer(q mpc.Party, priv *ecdh.PrivateKey, pol attest.Policy, nonces [3][]byte) (*link, error) {
	blame := func(err error) error { return &mpc.PeerError{Peer: q, Err: err} }
	b, err := n.inner.Recv(q)
	if err != nil {
		return nil, err
	}
	var ev attest.Evidence
	if err := ev.UnmarshalBinary(b); err != nil {
		return nil, blame(fmt.Errorf("evidence: %w", err))
	}
	claims, err := pol.CheckBinding(&ev, n.bound(q), nonces[0], nonces[1], nonces[2])
	if err != nil {
		return nil, blame(fmt.Errorf("evidence refused: %w", err))
	}
	pub, err := ecdh.X25519().NewPublicKey(ev.PubKey)
	if err != nil {
		return nil, blame(fmt.Errorf("evidence binds an invalid X25519 key: %w", err))
	}
	secret, err := priv.ECDH(pub)
	if err != nil {
		return nil, blame(fmt.Errorf("key agreement: %w", err))
	}
	derive := func(info string, size int) []byte {
		k, err := hkdf.Key(sha256.New, secret, n.sid[:], info, size)
		if err != nil {
			panic("aramis: hkdf: " + err.Error()) // only for sizes HKDF refuses
		}
		return k
	}
	l := &link{peer: q, claims: claims}
	lo, hi := min(n.me, q), max(n.me, q)
	l.prf = derive(fmt.Sprintf("veil aramis prf key %d%d", lo, hi), 32)
	for _, d := range []struct {
		dir      *direction
		from, to mpc.Party
	}{{&l.send, n.me, q}, {&l.recv, q, n.me}} {
		block, err := aes.NewCipher(derive(fmt.Sprintf("veil aramis link %d→%d", d.from, d.to), 16))
		if err != nil {
			return nil, err
		}
		if d.dir.aead, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
		d.dir.chain = initChain(n.sid, d.from, d.to)
		d.dir.dataChain = d.dir.chain
	}
	l.recvDataChain = l.recv.dataChain
	return l, nil
}

func (n *Network) peers() []mpc.Party {
	var ps []mpc.Party
	for _, p := range mpc.Parties {
		if p != n.me {
			ps = append(ps, p)
		}
	}
	return ps
}

// sendFrame authenticates payload as the next frame of type typ to l's
// peer and queues it.
func (n *Network) sendFrame(l *link, typ byte, payload []byte) error {
	l.sendMu.Lock()
	frame := l.send.seal(typ, n.me, l.peer, payload)
	err := n.inner.Send(l.peer, frame)
	l.lastSent = time.Now()
	l.sendMu.Unlock()
	return err
}

// read verifies every frame from l's peer, in order, until the peer's end
// frame or the first failure.
func (n *Network) read(l *link) {
	defer close(l.readerDone)
	for {
		frame, err := n.inner.Recv(l.peer)
		if err != nil {
			n.mu.Lock()
			ended, closed := l.ended, n.closed
			n.mu.Unlock()
			if !ended && !closed {
				n.fail(l.peer, err)
			}
			return
		}
		before := l.recv
		h, payload, err := l.recv.open(frame, l.peer, n.me)
		if err != nil {
			n.fail(l.peer, &mpc.PeerError{Peer: l.peer, Err: err})
			return
		}
		n.mu.Lock()
		l.lastRecv = time.Now()
		n.mu.Unlock()
		if !before.hello() && h.typ != frameHello && h.typ != frameAbort {
			n.fail(l.peer, &mpc.PeerError{Peer: l.peer, Err: fmt.Errorf("frame 0 is a %s frame, want hello", frameName(h.typ))})
			return
		}
		switch h.typ {
		case frameData:
			n.mu.Lock()
			l.inbox = append(l.inbox, payload)
			l.recvData, l.recvDataChain = l.recv.data, l.recv.dataChain
			n.mu.Unlock()
			n.cond.Broadcast()
		case frameHello:
			if before.hello() {
				n.fail(l.peer, &mpc.PeerError{Peer: l.peer, Err: fmt.Errorf("frame %d: a second hello", h.seq)})
				return
			}
			if len(payload) > maxCommitment {
				n.fail(l.peer, &mpc.PeerError{Peer: l.peer, Err: fmt.Errorf("commitment of %d bytes", len(payload))})
				return
			}
			n.mu.Lock()
			l.commitment, l.hello = payload, true
			n.mu.Unlock()
			n.cond.Broadcast()
		case frameCheckpoint:
			c, err := parseCheckpoint(payload)
			if err == nil && (c.sentData != before.data || c.sentChain != before.dataChain) {
				err = fmt.Errorf("%w: it sent %d messages, %d arrived intact and in order", ErrChain, c.sentData, before.data)
			}
			if err != nil {
				n.fail(l.peer, &mpc.PeerError{Peer: l.peer, Err: fmt.Errorf("checkpoint: %w", err)})
				return
			}
			n.mu.Lock()
			l.ckpts = append(l.ckpts, c)
			n.mu.Unlock()
			n.cond.Broadcast()
		case frameAbort:
			culprit, reason := parseAbort(payload, l.peer)
			n.mu.Lock()
			if n.err == nil {
				n.err = &mpc.PeerError{Peer: culprit, Err: fmt.Errorf("%s stopped the session: %s", l.peer, reason)}
			}
			l.ended = true
			n.mu.Unlock()
			n.cond.Broadcast()
			return
		case frameHeartbeat:
		case frameEnd:
			n.mu.Lock()
			l.ended = true
			n.mu.Unlock()
			n.cond.Broadcast()
			return
		default:
			n.fail(l.peer, &mpc.PeerError{Peer: l.peer, Err: fmt.Errorf("frame %d: unknown type %d", h.seq, h.typ)})
			return
		}
	}
}

// hello reports whether a direction is past its hello frame.
func (d *direction) hello() bool { return d.seq > 0 }

func abortPayload(culprit mpc.Party, err error) []byte {
	msg := err.Error()
	if len(msg) > maxAbortMessage {
		msg = msg[:maxAbortMessage]
	}
	return append([]byte{byte(culprit)}, msg...)
}

func parseAbort(b []byte, from mpc.Party) (mpc.Party, string) {
	if len(b) == 0 || b[0] > byte(mpc.P2) {
		return from, "(no reason given)"
	}
	return mpc.Party(b[0]), string(bytes.ToValidUTF8(b[1:], []byte("?")))
}

// fail stops the session after err, blaming culprit: the first failure is
// kept, and both peers get an authenticated abort naming the culprit.
func (n *Network) fail(culprit mpc.Party, err error) {
	var pe *mpc.PeerError
	if !errors.As(err, &pe) {
		err = &mpc.PeerError{Peer: culprit, Err: err}
	}
	n.mu.Lock()
	first := n.err == nil && !n.failing
	n.failing = true
	n.mu.Unlock()
	if !first {
		return
	}
	// The aborts are queued before the failure is published: once it is,
	// the protocol returns and its caller may close the network.
	for _, l := range n.links {
		if l != nil {
			n.sendFrame(l, frameAbort, abortPayload(culprit, err)) // best effort
		}
	}
	n.mu.Lock()
	if n.err == nil {
		n.err = err
	}
	n.mu.Unlock()
	n.cond.Broadcast()
}

// Abort stops the session after err and tells both peers with an
// authenticated abort frame naming the culprit: the peer an
// *mpc.PeerError names, else this party. Every later call fails.
func (n *Network) Abort(err error) {
	culprit := n.me
	var pe *mpc.PeerError
	if errors.As(err, &pe) {
		culprit = pe.Peer
	}
	n.fail(culprit, err)
}

// Err is the failure that stopped the session, if any.
func (n *Network) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err
}

// Me is this party.
func (n *Network) Me() mpc.Party { return n.me }

// SessionID is the session's id, SHA-256 of the three parties' nonces.
func (n *Network) SessionID() [32]byte { return n.sid }

// Claims returns what peer's evidence established.
func (n *Network) Claims(peer mpc.Party) *attest.Claims {
	if l := n.link(peer); l != nil {
		return l.claims
	}
	return nil
}

// Commitment returns the input commitment peer sent in its hello frame.
func (n *Network) Commitment(peer mpc.Party) []byte {
	l := n.link(peer)
	if l == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return l.commitment
}

func (n *Network) link(q mpc.Party) *link {
	if q > mpc.P2 {
		return nil
	}
	return n.links[q]
}

// Send authenticates msg as the next data frame to peer to and queues it.
func (n *Network) Send(to mpc.Party, msg []byte) error {
	l := n.link(to)
	if l == nil {
		return fmt.Errorf("aramis: %s: send to self or unknown party %d", n.me, uint8(to))
	}
	if err := n.Err(); err != nil {
		return err
	}
	if err := n.sendFrame(l, frameData, msg); err != nil {
		return n.sendFailed(l, err)
	}
	return nil
}

// sendFailed handles a connection that refused a frame. The peer may
// have stopped after an authenticated abort that is still on its way in:
// the reader delivers what arrived before the connection ended, so wait
// (briefly) for it to finish and report what it found, if anything,
// before blaming the peer.
func (n *Network) sendFailed(l *link, err error) error {
	select {
	case <-l.readerDone:
	case <-time.After(time.Second):
	}
	if e := n.Err(); e != nil {
		return e
	}
	n.fail(l.peer, err)
	return n.Err()
}

// Recv returns the next verified message from peer from. Once any link
// failed or a peer aborted, it returns that failure (an *mpc.PeerError
// naming the culprit), whichever peer it waits for.
func (n *Network) Recv(from mpc.Party) ([]byte, error) {
	l := n.link(from)
	if l == nil {
		return nil, fmt.Errorf("aramis: %s: receive from self or unknown party %d", n.me, uint8(from))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for len(l.inbox) == 0 && n.err == nil && !l.ended {
		n.cond.Wait()
	}
	if n.err != nil {
		return nil, n.err
	}
	if len(l.inbox) == 0 {
		return nil, &mpc.PeerError{Peer: from, Err: errors.New("ended the session")}
	}
	msg := l.inbox[0]
	l.inbox[0] = nil
	l.inbox = l.inbox[1:]
	l.consumed++
	return msg, nil
}

// Checkpoint confirms with both peers that every message either way
// arrived intact and in order: each party sends the count and chain value
// of the messages it sent and verified, and checks the peers' against its
// own. A party releases an output only after Checkpoint succeeds. All
// three call it at the same point of the protocol; it costs one round
// and 128 bytes per link and direction.
func (n *Network) Checkpoint() error {
	if err := n.Err(); err != nil {
		return err
	}
	peers := n.peers()
	for _, q := range peers {
		l := n.links[q]
		l.sendMu.Lock()
		c := checkpoint{sentData: l.send.data, sentChain: l.send.dataChain}
		l.sendMu.Unlock()
		n.mu.Lock()
		c.recvData, c.recvChain = l.recvData, l.recvDataChain
		n.mu.Unlock()
		if err := n.sendFrame(l, frameCheckpoint, c.marshal()); err != nil {
			return n.sendFailed(l, err)
		}
	}
	for _, q := range peers {
		l := n.links[q]
		n.mu.Lock()
		for len(l.ckpts) == 0 && n.err == nil && !l.ended {
			n.cond.Wait()
		}
		err := n.err
		var c checkpoint
		if err == nil && len(l.ckpts) == 0 {
			err = &mpc.PeerError{Peer: q, Err: errors.New("ended the session before the checkpoint")}
		}
		if err == nil {
			c, l.ckpts = l.ckpts[0], l.ckpts[1:]
			if l.consumed != c.sentData {
				err = &mpc.PeerError{Peer: q, Err: fmt.Errorf("it sent %d messages before the checkpoint, the protocol read %d", c.sentData, l.consumed)}
			}
		}
		n.mu.Unlock()
		if err != nil {
			return err
		}
		l.sendMu.Lock()
		sent, chain := l.send.data, l.send.dataChain
		l.sendMu.Unlock()
		if c.recvData != sent || c.recvChain != chain {
			err := &mpc.PeerError{Peer: q, Err: fmt.Errorf("checkpoint: %w: this party sent %d messages, the peer verified %d", ErrChain, sent, c.recvData)}
			n.fail(q, err)
			return err
		}
	}
	return nil
}

// PairKey is the 32-byte PRF key this party shares with peer, derived
// from the X25519 agreement between the two attested key pairs.
func (n *Network) PairKey(peer mpc.Party) []byte {
	if l := n.link(peer); l != nil {
		return bytes.Clone(l.prf)
	}
	return nil
}

// Stats is the traffic of the network below, authentication included.
func (n *Network) Stats() mpc.Stats { return n.inner.Stats() }

// Close ends the session in order: each peer gets an authenticated end
// frame (unless the session failed), then the network below is closed.
func (n *Network) Close() error {
	n.mu.Lock()
	already, failed := n.closed, n.err != nil
	n.closed = true
	n.mu.Unlock()
	if already {
		return nil
	}
	close(n.stop)
	if !failed {
		for _, l := range n.links {
			if l != nil {
				n.sendFrame(l, frameEnd, nil)
			}
		}
	}
	err := n.inner.Close()
	for _, l := range n.links {
		if l != nil && l.readerDone != nil {
			<-l.readerDone
		}
	}
	n.cond.Broadcast()
	return err
}
