package aramis

import (
	"veil/mpc"
)

// failLink stops the session after this party saw the link from→to fail
// (it is one end): it blames the other end, or the network.
func (n *Network) failLink(from, to mpc.Party, err error) {
	acc := linkAccount(from, to, n.me, err)
	n.fail(acc.blame(n.me, n.me, err), acc, n.me)
}

// failParty stops the session after peer q's code sent an authenticated
// frame the honest code never sends.
func (n *Network) failParty(q mpc.Party, err error) {
	acc := partyAccount(q, n.me, err)
	n.fail(acc.blame(n.me, n.me, err), acc, n.me)
}

// fail stops the session after err, which the account acc explains,
// told by peer from (this party, if it saw it): the first failure is
// kept, and every other peer gets an authenticated abort carrying acc,
// so that a peer that did not see the failure learns what happened from
// whoever did (a corrupt host may suppress its own party's aborts, but
// not an honest party's relay).
func (n *Network) fail(err error, acc account, from mpc.Party) {
	n.mu.Lock()
	first := n.err == nil && !n.failing
	n.failing = true
	n.mu.Unlock()
	if !first {
		n.cond.Broadcast()
		return
	}
	// The aborts are queued before the failure is published: once it is,
	// the protocol returns and its caller may close the network.
	payload := acc.marshal()
	for _, l := range n.links {
		if l != nil && l.peer != from {
			n.sendFrame(l, frameAbort, payload) // best effort
		}
	}
	n.mu.Lock()
	if n.err == nil {
		n.err = err
	}
	n.mu.Unlock()
	n.cond.Broadcast()
}

// Abort stops the session after err and tells both peers with an
// authenticated abort: the failure of a link or of a peer, as an
// *mpc.PeerError says, or else this party's own stop. Every later call
// fails.
func (n *Network) Abort(err error) {
	n.fail(err, accountOf(n.me, err), n.me)
}
