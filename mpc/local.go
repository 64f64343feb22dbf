package mpc

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"
)

// NewLocal returns n connected in-process networks, one per party (P0 …
// P(n−1)), for tests and for running all parties in one process. Pairwise
// keys come from crypto/rand. Recv gives up after timeout with a
// *PeerError; closing one party's network makes the others' Recv from it
// fail once its queued messages are read.
func NewLocal(n int, timeout time.Duration) []Network {
	if n < 2 || n > MaxParties {
		panic(fmt.Sprintf("mpc: NewLocal(%d): a session has 2 to %d parties", n, MaxParties))
	}
	keys := make([][][]byte, n)
	q := make([][]*queue, n) // q[from][to]
	for a := range n {
		keys[a] = make([][]byte, n)
		q[a] = make([]*queue, n)
	}
	for a := range n {
		for b := a + 1; b < n; b++ {
			k := make([]byte, 32)
			if _, err := rand.Read(k); err != nil {
				panic("mpc: crypto/rand failed: " + err.Error())
			}
			keys[a][b], keys[b][a] = k, k
			q[a][b], q[b][a] = newQueue(), newQueue()
		}
	}
	nets := make([]Network, n)
	for i := range nets {
		nets[i] = &localNet{me: Party(i), keys: keys[i], q: q, timeout: timeout, st: NewStats(n)}
	}
	return nets
}

type localNet struct {
	me      Party
	keys    [][]byte
	q       [][]*queue
	timeout time.Duration
	mu      sync.Mutex
	st      Stats
	closed  bool
}

func (n *localNet) Me() Party                 { return n.me }
func (n *localNet) Parties() int              { return len(n.q) }
func (n *localNet) PairKey(peer Party) []byte { return n.keys[peer] }

func (n *localNet) Send(to Party, msg []byte) error {
	if to == n.me || int(to) >= len(n.q) {
		return errors.New("mpc: send to self or unknown party")
	}
	if err := n.q[n.me][to].push(msg); err != nil {
		return &PeerError{Peer: to, Err: err}
	}
	n.mu.Lock()
	n.st.BytesSent[to] += int64(len(msg)) + 4
	n.st.MsgsSent[to]++
	n.mu.Unlock()
	return nil
}

func (n *localNet) Recv(from Party) ([]byte, error) {
	if from == n.me || int(from) >= len(n.q) {
		return nil, errors.New("mpc: receive from self or unknown party")
	}
	msg, err := n.q[from][n.me].pop(n.timeout)
	if err != nil {
		return nil, &PeerError{Peer: from, Err: err}
	}
	n.mu.Lock()
	n.st.BytesRecv[from] += int64(len(msg)) + 4
	n.st.MsgsRecv[from]++
	n.mu.Unlock()
	return msg, nil
}

func (n *localNet) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.st.Clone()
}

func (n *localNet) Close() error {
	for p := range n.q {
		if Party(p) == n.me {
			continue
		}
		n.q[n.me][p].close()
		n.q[p][n.me].close()
	}
	return nil
}

// queue is an unbounded FIFO of messages.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	msgs   [][]byte
	closed bool
}

func newQueue() *queue {
	q := &queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

var errClosed = errors.New("connection closed")

func (q *queue) push(m []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return errClosed
	}
	q.msgs = append(q.msgs, m)
	q.cond.Signal()
	return nil
}

func (q *queue) pop(timeout time.Duration) ([]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var timer *time.Timer
	expired := false
	if timeout > 0 {
		timer = time.AfterFunc(timeout, func() {
			q.mu.Lock()
			expired = true
			q.mu.Unlock()
			q.cond.Broadcast()
		})
		defer timer.Stop()
	}
	for len(q.msgs) == 0 {
		if q.closed {
			return nil, errClosed
		}
		if expired {
			return nil, ErrTimeout
		}
		q.cond.Wait()
	}
	m := q.msgs[0]
	q.msgs[0] = nil
	q.msgs = q.msgs[1:]
	return m, nil
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}
