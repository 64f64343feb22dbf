package mpc

import (
	"sync"
	"time"
)

// WithLatency returns net with every message it receives held back until
// oneWay after it arrived, as if each link to this party were that much
// longer: a measurement aid for wide-area links on one machine (this
// kernel shapes rates but cannot delay), whose cost in round trips then
// shows in the wall time instead of in an estimate. Messages keep their
// order and are read from net as they arrive (a goroutine per peer), so
// a stream of messages is delayed once, not once per message; a failure
// of net arrives after the messages before it. Send, Stats, PairKey
// and Close are net's.
func WithLatency(net Network, oneWay time.Duration) Network {
	l := &latencyNet{Network: net, oneWay: oneWay, in: make([]*delayed, net.Parties())}
	for p := range l.in {
		if Party(p) == net.Me() {
			continue
		}
		d := &delayed{}
		d.cond = sync.NewCond(&d.mu)
		l.in[p] = d
		go d.read(net, Party(p))
	}
	return l
}

type latencyNet struct {
	Network
	oneWay time.Duration
	in     []*delayed // by peer
}

// delayed is one peer's messages as they arrived, with their times.
type delayed struct {
	mu   sync.Mutex
	cond *sync.Cond
	msgs []arrival
	err  error // after msgs
}

type arrival struct {
	msg []byte
	at  time.Time
}

// read moves from's messages off net as they arrive, until it fails.
func (d *delayed) read(net Network, from Party) {
	for {
		msg, err := net.Recv(from)
		d.mu.Lock()
		if err != nil {
			d.err = err
		} else {
			d.msgs = append(d.msgs, arrival{msg, time.Now()})
		}
		d.cond.Signal()
		d.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (l *latencyNet) Recv(from Party) ([]byte, error) {
	if int(from) >= len(l.in) || l.in[from] == nil {
		return l.Network.Recv(from) // net's error for self or a stranger
	}
	d := l.in[from]
	d.mu.Lock()
	for len(d.msgs) == 0 && d.err == nil {
		d.cond.Wait()
	}
	if len(d.msgs) == 0 {
		err := d.err
		d.mu.Unlock()
		return nil, err
	}
	a := d.msgs[0]
	d.msgs[0] = arrival{}
	d.msgs = d.msgs[1:]
	d.mu.Unlock()
	time.Sleep(time.Until(a.at.Add(l.oneWay)))
	return a.msg, nil
}
