package aramis

import (
	"bytes"
	"crypto/ecdh"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"veil/internal/attestkex"
	"veil/mpc"
)

// Limits of the handshake's messages.
const (
	nonceLen      = attestkex.NonceSize
	maxCommitment = 1 << 10
)

// Secure runs the attested handshake over inner with both peers and
// returns the authenticated network. The three parties call it at the
// same time:
//
//  1. Each sends a fresh 32-byte nonce to both peers.
//  2. Each draws an X25519 key pair in this process and sends its view
//     (the three nonces as it saw them) with evidence from cfg.Attester
//     whose report data is attest.Bind(public key, its role, the view):
//     fresh for each peer, bound to this party's role.
//  3. Each checks both peers' evidence against cfg.Policy (platform
//     signature, measurement, debug, TCB, report data) and that the
//     peer's view holds the nonce this party sent it and the one the
//     peer sent this party. Pairwise X25519 secrets give, through HKDF
//     salted with the pair's nonces, one AES-GCM key per directed link
//     and the pairwise PRF key that PairKey returns.
//  4. Each tells each peer, in the first frame of the link (so
//     authenticated under the link's key), whether it accepted its
//     evidence and if not why; a peer whose key it could not agree on
//     gets an unauthenticated refusal, which proves nothing.
//  5. On any failure a party stops and sends an authenticated abort with
//     its account to each peer it accepted. Otherwise each sends a hello
//     frame carrying the session id (SHA-256 of the three nonces) and
//     cfg.Commitment on both links and verifies the peers' (key
//     confirmation: all three saw the same nonces).
//
// A failure on a link names the link (see the package documentation);
// errors are *mpc.PeerError.
func Secure(inner mpc.Network, cfg Config) (*Network, error) {
	parties := inner.Parties()
	n := &Network{inner: inner, me: inner.Me(), links: make([]*link, parties), timeout: cfg.Timeout, stop: make(chan struct{})}
	if n.timeout <= 0 {
		n.timeout = DefaultTimeout
	}
	n.heartbeat = min(n.timeout/8, 250*time.Millisecond)
	n.cond.L = &n.mu
	if parties < 2 || parties > mpc.MaxParties || int(n.me) >= parties {
		return nil, fmt.Errorf("aramis: %s in a network of %d parties", n.me, parties)
	}
	if cfg.Attester == nil {
		return nil, fmt.Errorf("aramis: %s: no attester", n.me)
	}
	if len(cfg.Commitment) > maxCommitment {
		return nil, fmt.Errorf("aramis: %s: commitment of %d bytes exceeds %d", n.me, len(cfg.Commitment), maxCommitment)
	}
	hs := &handshake{n: n, cfg: cfg, peers: n.peers(), view: make([][]byte, parties), peer: make([]peerState, parties)}
	if err := hs.keys(); err != nil {
		return nil, err
	}
	if hs.fault != nil {
		return nil, hs.stop()
	}
	for _, q := range hs.peers {
		n.links[q] = hs.peer[q].l
	}
	if err := n.start(cfg.Commitment); err != nil {
		return nil, err
	}
	return n, nil
}

// handshake is one party's state in Secure.
type handshake struct {
	n     *Network
	cfg   Config
	peers []mpc.Party
	// view is the nonces as this party saw them: its own, and each
	// peer's as it arrived (nil if none did).
	view [][]byte // by party
	priv *ecdh.PrivateKey
	peer []peerState // by party

	// The first failure: what this party concludes, its account, and
	// the peer that told it (this party, if it saw it).
	fault *mpc.PeerError
	acc   account
	from  mpc.Party
}

type peerState struct {
	dead     bool  // the connection failed: nothing more is read from it
	l        *link // keys agreed with the key the peer's evidence carries
	accepted bool
	refusal  *account // why this party refuses the peer
	told     bool     // this party's verdict accepted the peer
}

// keys runs steps 1 to 4. Only this party's own failures (no randomness,
// no evidence) are returned; a failure of a peer or a link is recorded.
func (hs *handshake) keys() error {
	n := hs.n
	me := n.me
	var err error
	if hs.view[me], err = attestkex.NewNonce(); err != nil {
		return fmt.Errorf("aramis: %s: %w", me, err)
	}
	for _, q := range hs.peers {
		hs.send(q, bytes.Clone(hs.view[me]))
	}
	for _, q := range hs.peers {
		b, ok := hs.recv(q, "nonce")
		if !ok {
			continue
		}
		if err := checkNonce(b); err != nil {
			hs.linkFault(q, me, err)
			continue
		}
		hs.view[q] = b
	}

	if hs.priv, err = attestkex.NewKey(); err != nil {
		return fmt.Errorf("aramis: %s: %w", me, err)
	}
	view := slices.Clone(hs.view) // absent nonces as zeros; hs.view keeps them nil
	for p := range view {
		if view[p] == nil {
			view[p] = make([]byte, nonceLen)
		}
	}
	ev, err := attestkex.Attest(hs.cfg.Attester, hs.priv, bound(me), view...)
	if err != nil {
		return fmt.Errorf("aramis: %s: attesting: %w", me, err)
	}
	evb, err := ev.MarshalBinary()
	if err != nil {
		return fmt.Errorf("aramis: %s: %w", me, err)
	}
	msg := marshalEvidence(view, evb)
	for _, q := range hs.peers {
		hs.send(q, bytes.Clone(msg))
	}

	for _, q := range hs.peers {
		hs.verify(q)
	}
	for _, q := range hs.peers {
		hs.sendVerdict(q)
	}
	for _, q := range hs.peers {
		if hs.fault != nil {
			break
		}
		hs.recvVerdict(q)
	}
	if hs.fault == nil {
		n.sid = sessionID(hs.view)
	}
	return nil
}

// stop ends a failed handshake: each peer told that its evidence was
// accepted (but the one that told this party of the failure) gets an
// authenticated abort with the account.
func (hs *handshake) stop() error {
	for _, q := range hs.peers {
		if st := hs.peer[q]; st.told && q != hs.from {
			hs.n.sendFrame(st.l, frameAbort, hs.acc.marshal()) // best effort
		}
	}
	hs.n.err = hs.fault
	return fmt.Errorf("aramis: %s: handshake: %w", hs.n.me, hs.fault)
}

// record notes a failure, told by from (this party, if it saw it), and
// refuses the peers it concerns.
func (hs *handshake) record(acc account, from mpc.Party, cause error) {
	for _, q := range hs.peers {
		if st := &hs.peer[q]; (q == acc.a || q == acc.b) && st.refusal == nil {
			a := acc
			st.refusal, st.accepted = &a, false
		}
	}
	if hs.fault == nil {
		hs.fault, hs.acc, hs.from = acc.blame(hs.n.me, from, cause), acc, from
	}
}

// linkFault records that this party saw the link from→to fail.
func (hs *handshake) linkFault(from, to mpc.Party, err error) {
	hs.record(linkAccount(from, to, hs.n.me, err), hs.n.me, err)
}

// send sends a handshake message to q. A failure is not yet a fault: q
// may have stopped after telling this party why, which the messages
// still to be read from it say; reading them, or the hello frame, finds
// out (see sendFailed).
func (hs *handshake) send(q mpc.Party, msg []byte) {
	hs.n.inner.Send(q, msg)
}

// recv receives a handshake message from q; a failure is the link's.
func (hs *handshake) recv(q mpc.Party, what string) ([]byte, bool) {
	if hs.peer[q].dead {
		return nil, false
	}
	b, err := hs.n.inner.Recv(q)
	if err != nil {
		hs.peer[q].dead = true
		hs.linkFault(q, hs.n.me, fmt.Errorf("waiting for the %s: %w", what, peerCause(err, q)))
		return nil, false
	}
	return b, true
}

// verify receives q's view and evidence, agrees on the link's keys with
// the key it carries (so that even a refusal can be authenticated), and
// checks the evidence and the view.
func (hs *handshake) verify(q mpc.Party) {
	me := hs.n.me
	b, ok := hs.recv(q, "evidence")
	if !ok {
		return
	}
	view, ev, err := parseEvidence(b, len(hs.view))
	if err != nil {
		hs.linkFault(q, me, fmt.Errorf("evidence: %w", err))
		return
	}
	own := make([][]byte, len(hs.view))
	own[me], own[q] = hs.view[me], view[q] // each nonce as its party drew it
	l, err := hs.n.newLink(q, hs.priv, ev.PubKey, pairSalt(own))
	if err != nil {
		hs.linkFault(q, me, fmt.Errorf("evidence binds an unusable X25519 key: %w", err))
		return
	}
	hs.peer[q].l = l
	pol, err := hs.cfg.Policy.ForRole(q.Role()) // the role's platform pins
	if err != nil {
		hs.linkFault(q, me, fmt.Errorf("evidence refused: %w", err))
		return
	}
	claims, err := attestkex.Verify(pol, ev, bound(q), view...)
	if err != nil {
		hs.linkFault(q, me, fmt.Errorf("evidence refused: %w", err))
		return
	}
	l.claims = claims
	if !bytes.Equal(view[q], hs.view[q]) {
		hs.linkFault(q, me, fmt.Errorf("the nonce that arrived differs from the one %s's evidence binds (the nonce was altered on the way, or the evidence is stale)", q))
		return
	}
	if !bytes.Equal(view[me], hs.view[me]) {
		// Either this party's nonce was altered on its way to q, or this
		// evidence is stale (replayed): the link between them, either way.
		hs.linkFault(q, me, fmt.Errorf("%s's evidence does not bind the nonce this party sent it (the nonce was altered on its way there, or the evidence is stale)", q))
		return
	}
	if hs.peer[q].refusal == nil {
		hs.peer[q].accepted = true
	}
}

// sendVerdict tells q whether this party accepted its evidence.
func (hs *handshake) sendVerdict(q mpc.Party) {
	st := &hs.peer[q]
	if st.dead {
		return
	}
	if st.l == nil {
		hs.send(q, []byte{0}) // unauthenticated: proves nothing
		return
	}
	if st.accepted {
		st.told = true
		hs.n.sendFrame(st.l, frameVerdict, marshalVerdict(nil)) // a failure: see send
		return
	}
	acc := st.refusal
	if acc == nil { // not reached: a peer is refused for a reason
		a := stoppedAccount(hs.n.me, errors.New("refused"))
		acc = &a
	}
	hs.n.sendFrame(st.l, frameVerdict, marshalVerdict(acc))
}

// recvVerdict receives and verifies q's verdict on this party's
// evidence. One that does not verify is not q's, as far as anyone can
// tell: the link failed.
func (hs *handshake) recvVerdict(q mpc.Party) {
	me := hs.n.me
	st := &hs.peer[q]
	b, ok := hs.recv(q, "verdict")
	if !ok {
		return
	}
	h, payload, err := st.l.recv.open(b, q, me)
	if err != nil {
		hs.linkFault(q, me, fmt.Errorf("verdict: %w: it is unauthenticated, so it says nothing, not even who sent it", err))
		return
	}
	if h.typ != frameVerdict {
		hs.record(partyAccount(q, me, fmt.Errorf("frame 0 is a %s frame, want verdict", frameName(h.typ))), me, nil)
		return
	}
	acc, err := parseVerdict(payload)
	if err != nil {
		hs.record(partyAccount(q, me, fmt.Errorf("verdict: %w", err)), me, nil)
		return
	}
	if acc != nil {
		hs.record(*acc, q, nil)
	}
}

// start runs the readers, sends the hello frames and waits for the
// peers'.
func (n *Network) start(commitment []byte) error {
	now := time.Now()
	for _, l := range n.links {
		if l != nil {
			l.readerDone = make(chan struct{})
			l.lastRecv = now
			go n.read(l)
		}
	}
	hello := append(n.sid[:len(n.sid):len(n.sid)], commitment...)
	var sendErr error
	for _, l := range n.links {
		if l == nil {
			continue
		}
		if err := n.sendFrame(l, frameHello, hello); err != nil {
			sendErr = n.sendFailed(l, err)
			break
		}
	}
	if sendErr == nil {
		go n.monitor()
	}
	n.mu.Lock()
	for _, l := range n.links {
		for l != nil && !l.hello && n.err == nil {
			n.cond.Wait()
		}
	}
	err := n.err
	n.mu.Unlock()
	if err != nil {
		n.Close()
		return fmt.Errorf("aramis: %s: handshake: %w", n.me, err)
	}
	return nil
}

// bound is what party p's evidence binds besides its key and the view:
// its role, so that evidence of a process acting as one party cannot
// stand for another.
func bound(p mpc.Party) []byte {
	return append([]byte("veil aramis v2 party "), byte(p))
}

// pairSalt is the HKDF salt of a pair's keys: the pair's nonces (nil for
// the third party), each as its party drew it. Both ends compute it
// alike even when a nonce was altered on its way to the other.
func pairSalt(own [][]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("veil aramis pair v2"))
	for p, nc := range own {
		if nc != nil {
			h.Write([]byte{byte(p)})
			h.Write(nc)
		}
	}
	var s [32]byte
	h.Sum(s[:0])
	return s
}

// sessionID is the session's id: SHA-256 of the parties' nonces.
func sessionID(view [][]byte) [32]byte {
	return sha256.Sum256(bytes.Join(append([][]byte{[]byte("veil aramis session v2")}, view...), nil))
}

// newLink agrees on keys with q's public key peerPub (internal/attestkex):
// one AES-128-GCM key per direction (internal/record) and the pairwise
// PRF key, through HKDF salted with salt.
func (n *Network) newLink(q mpc.Party, priv *ecdh.PrivateKey, peerPub []byte, salt [32]byte) (*link, error) {
	sec, err := attestkex.Agree(priv, peerPub, salt[:])
	if err != nil {
		return nil, err
	}
	l := &link{peer: q}
	lo, hi := min(n.me, q), max(n.me, q)
	if l.prf, err = sec.Key(fmt.Sprintf("veil aramis v2 prf key %d%d", lo, hi), 32); err != nil {
		return nil, err
	}
	rec, err := sec.Pair(fmt.Sprintf("veil aramis v2 link %d→%d", n.me, q), fmt.Sprintf("veil aramis v2 link %d→%d", q, n.me), 16)
	if err != nil {
		return nil, err
	}
	l.send = sender{rec: rec.Out, transcript: newTranscript(initChain(salt, n.me, q))}
	l.recv = receiver{rec: rec.In, transcript: newTranscript(initChain(salt, q, n.me))}
	l.recvDataChain = l.recv.dataChain
	return l, nil
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
