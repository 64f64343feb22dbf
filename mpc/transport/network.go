package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"veil/internal/pinned"
	"veil/mpc"
)

// Errors a *mpc.PeerError wraps when a connection ends cleanly.
var (
	// ErrClosed is reported after this party closed its network.
	ErrClosed = errors.New("connection closed")
	// ErrPeerClosed is reported after the peer closed its network and
	// said goodbye.
	ErrPeerClosed = errors.New("connection closed by peer")
)

// exporterLabel is the TLS exporter label of the pairwise keys.
const exporterLabel = "veil pairwise prf key"

// Buffer sizes for each connection.
const (
	writeBuffer = 256 << 10
	readBuffer  = 256 << 10
)

// maxLinger bounds how long Close waits for a peer to finish its side.
const maxLinger = 2 * time.Second

// network is one party's mpc.Network over TLS connections.
type network struct {
	me        mpc.Party
	max       int64
	timeout   time.Duration
	peers     []*peer // by party; nil for me
	mu        sync.Mutex
	st        mpc.Stats
	closeOnce sync.Once
}

var _ mpc.Network = (*network)(nil)

// peer is one authenticated connection and its two goroutines: the writer
// drains the send queue and sends heartbeats; the reader fills the inbox.
type peer struct {
	who       mpc.Party
	conn      *tls.Conn
	raw       net.Conn // the TCP connection under conn
	key       []byte
	max       int64
	timeout   time.Duration
	heartbeat time.Duration

	mu      sync.Mutex
	cond    sync.Cond // signalled when inbox or err changes
	inbox   [][]byte
	out     [][]byte
	err     error // sticky: set once, reported by Send and, after the inbox, Recv
	closing bool  // the writer should send what is queued, then goodbye

	wake       chan struct{} // poked when out or closing changes
	dead       chan struct{} // closed when the connection is torn down
	killOnce   sync.Once
	readerDone chan struct{}
	writerDone chan struct{}
	stalled    atomic.Bool // test hook: the writer stops writing anything
}

// heartbeatInterval is how often an idle writer says it is alive: about a
// second, and at least five times per timeout.
func heartbeatInterval(timeout time.Duration) time.Duration {
	hb := min(time.Second, timeout/5)
	return max(hb, time.Millisecond)
}

// newPeer starts the goroutines of an established connection.
func newPeer(who mpc.Party, conn *tls.Conn, raw net.Conn, max int64, timeout time.Duration) (*peer, error) {
	key, err := pinned.ExportKey(conn.ConnectionState(), exporterLabel, 32)
	if err != nil {
		raw.Close()
		return nil, &mpc.PeerError{Peer: who, Err: fmt.Errorf("deriving the pairwise key: %w", err)}
	}
	p := &peer{
		who: who, conn: conn, raw: raw, key: key, max: max,
		timeout: timeout, heartbeat: heartbeatInterval(timeout),
		wake:       make(chan struct{}, 1),
		dead:       make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	p.cond.L = &p.mu
	go p.readLoop()
	go p.writeLoop()
	return p, nil
}

// setErr records the first error and wakes receivers.
func (p *peer) setErr(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.cond.Broadcast()
}

// kill records err and tears the connection down at once, without a
// goodbye; both goroutines then exit.
func (p *peer) kill(err error) {
	p.setErr(err)
	p.killOnce.Do(func() {
		close(p.dead)
		p.raw.Close()
	})
}

// abort kills the connection and waits for its goroutines.
func (p *peer) abort(err error) {
	p.kill(err)
	<-p.readerDone
	<-p.writerDone
}

func (p *peer) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *peer) isDead() bool {
	select {
	case <-p.dead:
		return true
	default:
		return false
	}
}

// ioErr describes a failed read or write.
func (p *peer) ioErr(op string, err error) error {
	switch {
	case p.isDead():
		return ErrClosed // we tore it down; p.err already says why
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("nothing received for %v (stalled or unreachable): %w", p.timeout, mpc.ErrTimeout)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("connection lost without a goodbye (%s: %w)", op, err)
	default:
		return fmt.Errorf("connection lost (%s: %w)", op, err)
	}
}

// deadlineReader pushes the read deadline forward on every read, so that
// a read fails only after timeout without a single byte from the peer.
type deadlineReader struct {
	c       net.Conn
	timeout time.Duration
}

func (r deadlineReader) Read(b []byte) (int, error) {
	if err := r.c.SetReadDeadline(time.Now().Add(r.timeout)); err != nil {
		return 0, err
	}
	return r.c.Read(b)
}

// readLoop reads frames until the connection ends, queueing data frames
// in the inbox.
func (p *peer) readLoop() {
	defer close(p.readerDone)
	br := bufio.NewReaderSize(deadlineReader{p.conn, p.timeout}, readBuffer)
	for {
		typ, msg, err := readFrame(br, p.max)
		var fe *frameError
		switch {
		case errors.As(err, &fe):
			p.kill(err)
			return
		case err != nil:
			p.kill(p.ioErr("read", err))
			return
		case typ == ctlHeartbeat:
			continue
		case typ == ctlGoodbye:
			p.kill(ErrPeerClosed)
			return
		}
		p.mu.Lock()
		p.inbox = append(p.inbox, msg)
		p.mu.Unlock()
		p.cond.Signal()
	}
}

// writeLoop sends queued messages, flushing when the queue drains, and a
// heartbeat every p.heartbeat; on close it sends what is left, then a
// goodbye, then half-closes the TCP connection.
func (p *peer) writeLoop() {
	defer close(p.writerDone)
	bw := bufio.NewWriterSize(p.conn, writeBuffer)
	tick := time.NewTicker(p.heartbeat)
	defer tick.Stop()
	fail := func(err error) { p.kill(p.ioErr("write", err)) }
	for {
		if p.stalled.Load() {
			<-p.dead
			return
		}
		p.mu.Lock()
		msgs, closing := p.out, p.closing
		p.out = nil
		p.mu.Unlock()
		if len(msgs) > 0 {
			for i, m := range msgs {
				msgs[i] = nil
				h := dataHeader(len(m))
				if _, err := bw.Write(h[:]); err != nil {
					fail(err)
					return
				}
				if _, err := bw.Write(m); err != nil {
					fail(err)
					return
				}
			}
			continue
		}
		if closing {
			err := writeControl(bw, ctlGoodbye, nil)
			if err == nil {
				err = bw.Flush()
			}
			if err != nil {
				fail(err)
				return
			}
			if cw, ok := p.raw.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			return
		}
		if bw.Buffered() > 0 {
			if err := bw.Flush(); err != nil {
				fail(err)
				return
			}
			continue
		}
		select {
		case <-p.wake:
		case <-p.dead:
			return
		case <-tick.C:
			if p.stalled.Load() {
				continue
			}
			if err := writeControl(bw, ctlHeartbeat, nil); err != nil {
				fail(err)
				return
			}
			if err := bw.Flush(); err != nil {
				fail(err)
				return
			}
		}
	}
}

func (n *network) Me() mpc.Party { return n.me }

func (n *network) Parties() int { return len(n.peers) }

func (n *network) peer(q mpc.Party) *peer {
	if int(q) >= len(n.peers) {
		return nil
	}
	return n.peers[q]
}

// Send queues msg for peer to and returns at once; a background goroutine
// writes it. It fails with a *mpc.PeerError once the connection to the
// peer has failed or either side has closed.
func (n *network) Send(to mpc.Party, msg []byte) error {
	p := n.peer(to)
	if p == nil {
		return fmt.Errorf("transport: %s: send to self or unknown party %d", n.me, uint8(to))
	}
	if int64(len(msg)) > n.max {
		return fmt.Errorf("transport: %s: send to %s: message of %d bytes exceeds the limit of %d bytes", n.me, to, len(msg), n.max)
	}
	p.mu.Lock()
	if err := p.err; err != nil {
		p.mu.Unlock()
		return &mpc.PeerError{Peer: to, Err: err}
	}
	p.out = append(p.out, msg)
	p.mu.Unlock()
	p.poke()
	n.mu.Lock()
	n.st.BytesSent[to] += int64(len(msg)) + 4
	n.st.MsgsSent[to]++
	n.mu.Unlock()
	return nil
}

// Recv returns the next message from peer from. Messages that arrived
// before a failure are still delivered; after them, Recv returns the
// failure, a *mpc.PeerError, every time.
func (n *network) Recv(from mpc.Party) ([]byte, error) {
	p := n.peer(from)
	if p == nil {
		return nil, fmt.Errorf("transport: %s: receive from self or unknown party %d", n.me, uint8(from))
	}
	p.mu.Lock()
	for len(p.inbox) == 0 && p.err == nil {
		p.cond.Wait()
	}
	if len(p.inbox) == 0 {
		err := p.err
		p.mu.Unlock()
		return nil, &mpc.PeerError{Peer: from, Err: err}
	}
	msg := p.inbox[0]
	p.inbox[0] = nil
	p.inbox = p.inbox[1:]
	p.mu.Unlock()
	n.mu.Lock()
	n.st.BytesRecv[from] += int64(len(msg)) + 4
	n.st.MsgsRecv[from]++
	n.mu.Unlock()
	return msg, nil
}

// PairKey returns the 32 bytes exported from the TLS session with peer
// (RFC 8446 section 7.5, label "veil pairwise prf key"); nil for this party
// itself or an unknown one.
func (n *network) PairKey(q mpc.Party) []byte {
	p := n.peer(q)
	if p == nil {
		return nil
	}
	return append([]byte(nil), p.key...)
}

// Stats counts data messages only: a message of n bytes counts n+4 bytes,
// when queued by Send and when returned by Recv.
func (n *network) Stats() mpc.Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.st.Clone()
}

// Close sends each peer what is still queued and a goodbye, waits briefly
// for the peer to finish its side, and releases the connections. Recv and
// Send fail with ErrClosed afterwards (Recv after the messages already
// received). Closing again does nothing.
func (n *network) Close() error {
	n.closeOnce.Do(func() {
		live := make([]*peer, 0, len(n.peers))
		for _, p := range n.peers {
			if p != nil {
				live = append(live, p)
			}
		}
		for _, p := range live {
			p.mu.Lock()
			if p.err == nil {
				p.err = ErrClosed
			}
			p.closing = true
			p.mu.Unlock()
			p.cond.Broadcast()
			p.poke()
		}
		// A writer finishes once everything is sent, or once the reader
		// has given up on a stalled peer.
		for _, p := range live {
			<-p.writerDone
		}
		linger, cancel := context.WithTimeout(context.Background(), min(n.timeout, maxLinger))
		defer cancel()
		for _, p := range live {
			select {
			case <-p.readerDone:
			case <-linger.Done():
			}
		}
		for _, p := range live {
			p.abort(ErrClosed)
		}
	})
	return nil
}

// abort tears every connection down without goodbyes.
func (n *network) abort(err error) {
	for _, p := range n.peers {
		if p != nil {
			p.abort(err)
		}
	}
}

// stall is a test hook simulating a stopped process: nothing more is
// written to any peer, not even heartbeats.
func (n *network) stall() {
	for _, p := range n.peers {
		if p != nil {
			p.stalled.Store(true)
			p.poke()
		}
	}
}
