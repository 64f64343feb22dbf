package ot

import "veil/mpc"

// A Conn carries one extension's messages to and from the other end, in
// order.
type Conn interface {
	Send(msg []byte) error
	Recv() ([]byte, error)
}

// Peer is the Conn to peer over a session's network.
func Peer(net mpc.Network, peer mpc.Party) Conn { return peerConn{net, peer} }

type peerConn struct {
	net  mpc.Network
	peer mpc.Party
}

func (c peerConn) Send(msg []byte) error { return c.net.Send(c.peer, msg) }
func (c peerConn) Recv() ([]byte, error) { return c.net.Recv(c.peer) }
