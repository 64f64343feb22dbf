package service

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"time"

	"veil/internal/pinned"
	"veil/mpc"
	"veil/mpc/transport"
)

// HelperLink is how a server or a client reaches the helper service of
// 3pc sessions: its address and its key, pinned.
type HelperLink struct {
	Addr string
	Key  pinned.Pin
}

// dial connects to the helper as me (P0 or P1) with identity id and says
// hello for session token; it returns the link once the helper agreed.
func (l *HelperLink) dial(ctx context.Context, me mpc.Party, id tls.Certificate, token string, timeout time.Duration, maxMessage int64) (mpc.Network, error) {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, cmpTimeout(timeout))
	defer cancel()
	raw, err := d.DialContext(dctx, "tcp", l.Addr)
	if err != nil {
		return nil, fmt.Errorf("dialling %s: %w", l.Addr, err)
	}
	conn := tls.Client(raw, pinned.Config(id, "", pinned.Only(l.Key, "the helper", "")))
	if err := conn.HandshakeContext(dctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("handshake with %s: %w", l.Addr, err)
	}
	link, err := transport.Pair(me, mpc.P2, conn, raw, timeout, maxMessage)
	if err != nil {
		return nil, err
	}
	role := "client"
	if me == mpc.P1 {
		role = "server"
	}
	if err := link.Send(mpc.P2, mustJSON(hello{Role: role, Session: token})); err != nil {
		link.Close()
		return nil, err
	}
	msg, err := link.Recv(mpc.P2)
	if err != nil {
		link.Close()
		return nil, err
	}
	a, err := parseAnswer(msg)
	if err == nil && a.Error != "" {
		err = &RefusedError{Reason: a.Error, Busy: a.Busy}
	}
	if err != nil {
		link.Close()
		return nil, err
	}
	return link, nil
}

// open starts a session at the helper for a server: a fresh token, and
// the server's link to the helper.
func (l *HelperLink) open(ctx context.Context, id tls.Certificate, timeout time.Duration, maxMessage int64) (string, mpc.Network, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	token := hex.EncodeToString(b[:])
	link, err := l.dial(ctx, mpc.P1, id, token, timeout, maxMessage)
	return token, link, err
}
