package mpc

import (
	"crypto/rand"
	"errors"
	"sync"
	"time"
)

// NewLocal returns three connected in-process networks, one per party, for
// tests and for running all parties in one process. Pairwise keys come
// from crypto/rand. Recv gives up after timeout with a *PeerError; closing
// one party's network makes the others' Recv from it fail at once.
func NewLocal(timeout time.Duration) [3]Network {
	var keys [3][3][]byte
	for a := 0; a < 3; a++ {
		for b := a + 1; b < 3; b++ {
			k := make([]byte, 32)
			if _, err := rand.Read(k); err != nil {
				panic("mpc: crypto/rand failed: " + err.Error())
			}
			keys[a][b], keys[b][a] = k, k
		}
	}
	var q [3][3]*queue // q[from][to]
	for a := range q {
		for b := range q[a] {
			if a != b {
				q[a][b] = newQueue()
			}
		}
	}
	var nets [3]Network
	for i := range nets {
		nets[i] = &localNet{me: Party(i), keys: keys[i], q: &q, timeout: timeout}
	}
	return nets
}

type localNet struct {
	me      Party
	keys    [3][]byte
	q       *[3][3]*queue
	timeout time.Duration
	mu      sync.Mutex
	st      Stats
	closed  bool
}

func (n *localNet) Me() Party                 { return n.me }
func (n *localNet) PairKey(peer Party) []byte { return n.keys[peer] }

func (n *localNet) Send(to Party, msg []byte) error {
	if to == n.me || to > P2 {
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
	if from == n.me || from > P2 {
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
	return n.st
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
