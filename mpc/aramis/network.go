package aramis

import (
	"bytes"
	"errors"
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
	links []*link // by party; nil for me

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

// Parties is the number of parties of the session.
func (n *Network) Parties() int { return len(n.links) }

func (n *Network) peers() []mpc.Party {
	var ps []mpc.Party
	for _, p := range mpc.PartiesOf(len(n.links)) {
		if p != n.me {
			ps = append(ps, p)
		}
	}
	return ps
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
	if int(q) >= len(n.links) {
		return nil
	}
	return n.links[q]
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

// peerCause strips the network's *mpc.PeerError naming q (the error that
// wraps it names the link).
func peerCause(err error, q mpc.Party) error {
	var pe *mpc.PeerError
	if errors.As(err, &pe) && pe.Peer == q && pe.Link == nil && pe.Err != nil {
		return pe.Err
	}
	return err
}
