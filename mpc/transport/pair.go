package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"veil/mpc"
)

// Pair returns party me's two-party network over conn, an established
// TLS 1.3 connection to the other party (P0 and P1 are the two ends)
// whose peer the caller has authenticated, and raw, the connection under
// it: for services that accept sessions one connection at a time rather
// than from a parties file (see Connect). Messages, liveness, timeouts
// and the pairwise key are Connect's; timeout and maxMessage of zero are
// DefaultTimeout and DefaultMaxMessage. Pair takes ownership of conn.
func Pair(me mpc.Party, conn *tls.Conn, raw net.Conn, timeout time.Duration, maxMessage int64) (mpc.Network, error) {
	if me != mpc.P0 && me != mpc.P1 {
		raw.Close()
		return nil, fmt.Errorf("transport: a pair is P0 and P1, not %s", me)
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
	other := 1 - me
	p, err := newPeer(other, conn, raw, maxMessage, timeout)
	if err != nil {
		return nil, err
	}
	n := &network{me: me, max: maxMessage, timeout: timeout, peers: make([]*peer, 2), st: mpc.NewStats(2)}
	n.peers[other] = p
	return n, nil
}
