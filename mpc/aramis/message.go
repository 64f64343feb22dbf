package aramis

import (
	"errors"
	"fmt"
	"time"

	"veil/mpc"
)

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
	// While a failure is being published (its aborts queued, n.err not yet
	// set), wait for it: a peer's end seen meanwhile (its own abort, which
	// lost the race to be first) is not an orderly end.
	for n.err == nil && (n.failing || len(l.inbox) == 0 && !l.ended) {
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
