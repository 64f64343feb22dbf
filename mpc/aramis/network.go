package aramis

import (
	"bytes"
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
	// the hello frame of each of its links. It may be empty.
	Commitment []byte
	// Timeout is how long a peer may stay silent: without a single
	// authenticated frame from it for this long, the session fails,
	// naming the link from it. Each party sends an authenticated heartbeat on a link
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
	send     sender
	lastSent time.Time

	recv receiver // owned by the reader goroutine

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
					n.failLink(l.peer, n.me, fmt.Errorf("no authenticated frame for %v: %w", silent.Round(time.Millisecond), mpc.ErrTimeout))
					return
				}
			}
		}
	}
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
	defer l.sendMu.Unlock()
	frame, err := l.send.seal(typ, n.me, l.peer, payload)
	if err != nil {
		return err
	}
	err = n.inner.Send(l.peer, frame)
	l.lastSent = time.Now()
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
				n.failLink(l.peer, n.me, peerCause(err, l.peer))
			}
			return
		}
		h, payload, err := l.recv.open(frame, l.peer, n.me)
		if err != nil {
			n.failLink(l.peer, n.me, err)
			return
		}
		n.mu.Lock()
		l.lastRecv = time.Now()
		hello := l.hello
		n.mu.Unlock()
		if !hello && h.typ != frameHello && h.typ != frameAbort {
			n.failParty(l.peer, fmt.Errorf("frame %d is a %s frame, want hello", h.seq, frameName(h.typ)))
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
			if err := n.checkHello(hello, payload); err != nil {
				n.failParty(l.peer, fmt.Errorf("frame %d: %w", h.seq, err))
				return
			}
			n.mu.Lock()
			l.commitment, l.hello = payload[len(n.sid):], true
			n.mu.Unlock()
			n.cond.Broadcast()
		case frameCheckpoint:
			c, err := parseCheckpoint(payload)
			if err != nil {
				n.failParty(l.peer, fmt.Errorf("frame %d: %w", h.seq, err))
				return
			}
			if c.sentData != l.recv.data || c.sentChain != l.recv.dataChain {
				n.failLink(l.peer, n.me, fmt.Errorf("checkpoint: %w: %s sent %d messages, %d arrived intact and in order", ErrChain, l.peer, c.sentData, l.recv.data))
				return
			}
			n.mu.Lock()
			l.ckpts = append(l.ckpts, c)
			n.mu.Unlock()
			n.cond.Broadcast()
		case frameAbort:
			acc, err := parseAccount(payload)
			if err != nil {
				n.failParty(l.peer, fmt.Errorf("frame %d: abort: %w", h.seq, err))
				return
			}
			n.fail(acc.blame(n.me, l.peer, nil), acc, l.peer)
			n.mu.Lock()
			l.ended = true // after the failure: Recv must not take this for an orderly end
			n.mu.Unlock()
			return
		case frameHeartbeat:
		case frameEnd:
			n.mu.Lock()
			l.ended = true
			n.mu.Unlock()
			n.cond.Broadcast()
			return
		default:
			n.failParty(l.peer, fmt.Errorf("frame %d: unknown type %d", h.seq, h.typ))
			return
		}
	}
}

// checkHello checks a hello frame's payload: the session id, then the
// sender's commitment. Every party's session id is the same once all
// three accepted the others' evidence, for each checked that both peers
// saw its nonce and that it saw each peer's.
func (n *Network) checkHello(before bool, payload []byte) error {
	switch {
	case before:
		return errors.New("a second hello")
	case len(payload) < len(n.sid) || !bytes.Equal(payload[:len(n.sid)], n.sid[:]):
		return errors.New("hello names another session")
	case len(payload)-len(n.sid) > maxCommitment:
		return fmt.Errorf("commitment of %d bytes", len(payload)-len(n.sid))
	}
	return nil
}

// failLink stops the session after this party saw the link from→to fail
// (it is one end): it blames the other end, or the network.
func (n *Network) failLink(from, to mpc.Party, err error) {
	acc := linkAccount(from, to, n.me, err)
	n.fail(acc.blame(n.me, n.me, err), acc, n.me)
}

// failParty stops the session after peer q's code sent an authenticated
// frame the honest code never sends.
func (n *Network) failParty(q mpc.Party, err error) {
	acc := partyAccount(q, n.me, err)
	n.fail(acc.blame(n.me, n.me, err), acc, n.me)
}

// fail stops the session after err, which the account acc explains,
// told by peer from (this party, if it saw it): the first failure is
// kept, and every other peer gets an authenticated abort carrying acc,
// so that a peer that did not see the failure learns what happened from
// whoever did (a corrupt host may suppress its own party's aborts, but
// not an honest party's relay).
func (n *Network) fail(err error, acc account, from mpc.Party) {
	n.mu.Lock()
	first := n.err == nil && !n.failing
	n.failing = true
	n.mu.Unlock()
	if !first {
		n.cond.Broadcast()
		return
	}
	// The aborts are queued before the failure is published: once it is,
	// the protocol returns and its caller may close the network.
	payload := acc.marshal()
	for _, l := range n.links {
		if l != nil && l.peer != from {
			n.sendFrame(l, frameAbort, payload) // best effort
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
// authenticated abort: the failure of a link or of a peer, as an
// *mpc.PeerError says, or else this party's own stop. Every later call
// fails.
func (n *Network) Abort(err error) {
	n.fail(err, accountOf(n.me, err), n.me)
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
// before naming the link to the peer.
func (n *Network) sendFailed(l *link, err error) error {
	select {
	case <-l.readerDone:
	case <-time.After(time.Second):
	}
	if e := n.Err(); e != nil {
		return e
	}
	n.failLink(n.me, l.peer, peerCause(err, l.peer))
	return n.Err()
}

// Recv returns the next verified message from peer from. Once any link
// failed or a peer aborted, it returns that failure (an *mpc.PeerError
// naming a link or a party, see the package documentation), whichever
// peer it waits for.
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
		var deviation error
		switch {
		case err != nil:
		case len(l.ckpts) == 0:
			deviation = errors.New("ended the session before the checkpoint")
		default:
			c, l.ckpts = l.ckpts[0], l.ckpts[1:]
			if l.consumed != c.sentData {
				deviation = fmt.Errorf("it sent %d messages before the checkpoint, the protocol read %d", c.sentData, l.consumed)
			}
		}
		n.mu.Unlock()
		if deviation != nil {
			n.failParty(q, deviation)
			return n.Err()
		}
		if err != nil {
			return err
		}
		l.sendMu.Lock()
		sent, chain := l.send.data, l.send.dataChain
		l.sendMu.Unlock()
		if c.recvData != sent || c.recvChain != chain {
			n.failLink(n.me, q, fmt.Errorf("checkpoint: %w: this party sent %d messages, %s verified %d", ErrChain, sent, q, c.recvData))
			return n.Err()
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
