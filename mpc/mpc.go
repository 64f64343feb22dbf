// Package mpc holds what every secure-computation backend shares: the
// parties, the network a party talks through, the accounting of bytes and
// rounds, and the registry of backends (see Register).
//
// A session runs between two or more parties (at most MaxParties). Roles
// follow the CrypTFlow paper: P0 is the client (holds the input and, by
// default, is the only one to learn the output), P1 the server (holds the
// model's weights), P2 the helper of a three-party backend (supplies
// correlated randomness and learns nothing).
package mpc

import (
	"errors"
	"fmt"
	"slices"
)

// Party identifies one party of a session.
type Party uint8

const (
	P0 Party = iota // the client: input owner, output receiver
	P1              // the server: weight owner
	P2              // the helper: correlated randomness
)

// MaxParties is the most parties a session runs between.
const MaxParties = 3

// PartiesOf lists the parties of an n-party session in order: P0, P1, …
func PartiesOf(n int) []Party {
	ps := make([]Party, n)
	for i := range ps {
		ps[i] = Party(i)
	}
	return ps
}

func (p Party) String() string {
	switch p {
	case P0:
		return "P0 (client)"
	case P1:
		return "P1 (server)"
	case P2:
		return "P2 (helper)"
	}
	return fmt.Sprintf("P%d", uint8(p))
}

// Role is the party's role name as used in configuration files.
func (p Party) Role() string {
	switch p {
	case P0:
		return "client"
	case P1:
		return "server"
	case P2:
		return "helper"
	}
	return ""
}

// ParseRole maps "client", "server", "helper" (or "P0", "P1", "P2") to a
// party.
func ParseRole(s string) (Party, error) {
	switch s {
	case "client", "P0", "p0", "0":
		return P0, nil
	case "server", "P1", "p1", "1":
		return P1, nil
	case "helper", "P2", "p2", "2":
		return P2, nil
	}
	return 0, fmt.Errorf("unknown role %q (want client, server or helper)", s)
}

// Network is one party's authenticated connections to the other parties
// of its session.
//
// Send never blocks on the peer: messages are queued and written in the
// background, so two parties may send to each other and then receive
// without deadlock. Recv blocks until a whole message from that peer has
// arrived, the peer fails, or the network's timeout expires; it returns a
// *PeerError naming the peer in the last two cases.
type Network interface {
	// Me is this party.
	Me() Party
	// Parties is the number of parties of the session, this one
	// included: the peers are P0 … P(Parties()−1) but Me.
	Parties() int
	// Send queues msg (which the caller must not modify afterwards) for
	// peer to.
	Send(to Party, msg []byte) error
	// Recv returns the next message from peer from.
	Recv(from Party) ([]byte, error)
	// PairKey is the 32-byte secret this party shares with peer, derived
	// from the authenticated key exchange with it; nobody else knows it.
	PairKey(peer Party) []byte
	// Stats reports the traffic so far.
	Stats() Stats
	// Close releases the connections.
	Close() error
}

// Stats counts traffic per peer (indexed by Party, one entry per party of
// the session).
type Stats struct {
	BytesSent, BytesRecv []int64 // by peer; payload plus framing
	MsgsSent, MsgsRecv   []int64
}

// NewStats returns zero counts for an n-party session.
func NewStats(n int) Stats {
	return Stats{BytesSent: make([]int64, n), BytesRecv: make([]int64, n), MsgsSent: make([]int64, n), MsgsRecv: make([]int64, n)}
}

// Clone returns a copy of s that shares no memory with it.
func (s Stats) Clone() Stats {
	return Stats{BytesSent: slices.Clone(s.BytesSent), BytesRecv: slices.Clone(s.BytesRecv), MsgsSent: slices.Clone(s.MsgsSent), MsgsRecv: slices.Clone(s.MsgsRecv)}
}

// TotalSent is the number of bytes sent to all peers.
func (s Stats) TotalSent() int64 { return sum(s.BytesSent) }

// TotalRecv is the number of bytes received from all peers.
func (s Stats) TotalRecv() int64 { return sum(s.BytesRecv) }

// A Link is a directed link between two parties: what From's code sends
// to To's code.
type Link struct{ From, To Party }

func (l Link) String() string { return fmt.Sprintf("P%d→P%d", uint8(l.From), uint8(l.To)) }

// PeerError reports that a peer failed: it closed the connection, sent
// something malformed or oversized, or was silent past the timeout.
//
// Where the failure is a link's (bytes altered, dropped, reordered,
// forged or cut between two parties' code, which the host at either end
// or the network between them can do, and nothing that arrives tells
// which), Link names it. The party reporting never names itself: at an
// end of the link, Peer is the other end ("P1 (server) or the network");
// at the third party, which cannot tell the two ends apart, Either is set
// and Peer is Link.From. Suspects lists the parties the error names.
type PeerError struct {
	Peer Party
	Err  error
	// Link, when not nil, is the link the failure was seen on.
	Link *Link
	// Either says that the failure is Link.From's or Link.To's (or the
	// network's between them), and nothing tells which.
	Either bool
}

func (e *PeerError) Error() string {
	switch {
	case e.Link != nil && e.Either:
		s := e.Suspects()
		return fmt.Sprintf("%s or %s, on link %s: %v", s[0], s[1], e.Link, e.Err)
	case e.Link != nil:
		return fmt.Sprintf("%s or the network, on link %s: %v", e.Peer, e.Link, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Peer, e.Err)
}

// Suspects returns the parties the error names, in order: both ends of
// Link when Either is set, else Peer.
func (e *PeerError) Suspects() []Party {
	if e.Link != nil && e.Either {
		return []Party{min(e.Link.From, e.Link.To), max(e.Link.From, e.Link.To)}
	}
	return []Party{e.Peer}
}

func (e *PeerError) Unwrap() error { return e.Err }

// ErrTimeout is wrapped in a PeerError when a peer stays silent too long.
var ErrTimeout = errors.New("timed out waiting for a message")

// Checkpointer is implemented by networks that authenticate the whole
// transcript (mpc/aramis): Checkpoint confirms with both peers that every
// message so far, either way, arrived intact and in order. Protocols call
// it at all three parties before releasing an output, and release nothing
// if it fails.
type Checkpointer interface {
	Checkpoint() error
}

// Aborter is implemented by networks that can tell the peers, in a way
// they can verify, that this party stops after err (reporting the failure
// of the link or the peer an *PeerError names, or else this party's own
// stop). Protocols use it, where present, instead of a plain message.
type Aborter interface {
	Abort(err error)
}

// NotifyAbort tells net's peers that this party stops after err: through
// the network's own verifiable abort where it is an Aborter, else with a
// best-effort one-byte notice naming the party to blame (the failed peer
// for an *PeerError, this party otherwise), sent to every peer but that
// one, so that a peer blocked waiting for this party returns at once.
func NotifyAbort(net Network, err error) {
	if a, ok := net.(Aborter); ok {
		a.Abort(err)
		return
	}
	culprit := net.Me()
	var pe *PeerError
	if errors.As(err, &pe) {
		culprit = pe.Peer
	}
	for _, p := range PartiesOf(net.Parties()) {
		if p != net.Me() && p != culprit {
			net.Send(p, []byte{byte(culprit)}) // best effort
		}
	}
}
