package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"veil/mpc"
)

// Pair returns party me's network over conn, an established TLS 1.3
// connection to party other whose peer the caller has authenticated,
// and raw, the connection under it: for services that accept sessions
// one connection at a time rather than from a parties file (see
// Connect). Messages, liveness, timeouts and the pairwise key are
// Connect's; timeout and maxMessage of zero are DefaultTimeout and
// DefaultMaxMessage. Pair takes ownership of conn. For a session of
// three parties, Join puts two pairs together.
func Pair(me, other mpc.Party, conn *tls.Conn, raw net.Conn, timeout time.Duration, maxMessage int64) (mpc.Network, error) {
	if me == other || me >= mpc.MaxParties || other >= mpc.MaxParties {
		raw.Close()
		return nil, fmt.Errorf("transport: a pair of %s and %s", me, other)
	}
	if !conn.ConnectionState().HandshakeComplete {
		raw.Close()
		return nil, errors.New("transport: pair: the TLS handshake has not completed")
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if maxMessage == 0 {
		maxMessage = DefaultMaxMessage
	}
	p, err := newPeer(other, conn, raw, maxMessage, timeout)
	if err != nil {
		return nil, err
	}
	n := int(max(me, other)) + 1
	nw := &network{me: me, max: maxMessage, timeout: timeout, peers: make([]*peer, n), st: mpc.NewStats(n)}
	nw.peers[other] = p
	return nw, nil
}

// Join returns party me's network of parties parties over the links of
// pairs (each from Pair, for me, to distinct peers): a view that shares
// their connections and counts its own traffic. Closing it closes every
// link; a caller that keeps a pair for later (a service's connection to
// its client, say) closes the others' pairs instead and uses that pair
// again once done with the view.
func Join(me mpc.Party, parties int, pairs ...mpc.Network) (mpc.Network, error) {
	if parties < 2 || parties > mpc.MaxParties || int(me) >= parties {
		return nil, fmt.Errorf("transport: join: %s in a session of %d parties", me, parties)
	}
	j := &network{me: me, peers: make([]*peer, parties), st: mpc.NewStats(parties)}
	for _, x := range pairs {
		n, ok := x.(*network)
		if !ok || n.me != me {
			return nil, fmt.Errorf("transport: join: a network that is not a pair of %s", me)
		}
		for q, p := range n.peers {
			if p == nil {
				continue
			}
			if q >= parties || j.peers[q] != nil {
				return nil, fmt.Errorf("transport: join: two links to %s, or one outside the session", mpc.Party(q))
			}
			j.peers[q] = p
			j.max, j.timeout = n.max, n.timeout
		}
	}
	for q, p := range j.peers {
		if p == nil && mpc.Party(q) != me {
			return nil, fmt.Errorf("transport: join: no link to %s", mpc.Party(q))
		}
	}
	return j, nil
}
