package aramis

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"veil/mpc"
)

// An account is what a party's attested code tells its peers when the
// session stops: what it saw, or what a peer told it. It travels,
// authenticated, in abort frames and handshake refusals, and is relayed
// unchanged; each party draws its own conclusion from it (blame).
type account struct {
	kind byte
	// a and b: the link a→b (accountLink); the party a, with b = a
	// (accountParty, accountStopped).
	a, b mpc.Party
	// reporter is the party whose code saw it: an end of the link; not a
	// for accountParty; a for accountStopped.
	reporter mpc.Party
	reason   string
}

// Kinds of account.
const (
	// accountLink: what passed between a's code and b's code was altered,
	// dropped, reordered, forged or cut. Either end's host, or the
	// network between them, can do that.
	accountLink byte = 1
	// accountParty: a's code sent an authenticated message the honest
	// code never sends (only a's attested code holds the key).
	accountParty byte = 2
	// accountStopped: a stopped for a reason of its own (a local failure,
	// or its caller gave up).
	accountStopped byte = 3
)

const (
	accountHeaderLen = 4
	maxAbortMessage  = 1 << 10 // bytes of an account's reason
)

func linkAccount(from, to, reporter mpc.Party, reason error) account {
	return account{kind: accountLink, a: from, b: to, reporter: reporter, reason: clip(reason.Error())}
}

func partyAccount(culprit, reporter mpc.Party, reason error) account {
	return account{kind: accountParty, a: culprit, b: culprit, reporter: reporter, reason: clip(reason.Error())}
}

func stoppedAccount(me mpc.Party, reason error) account {
	return account{kind: accountStopped, a: me, b: me, reporter: me, reason: clip(reason.Error())}
}

// clip cuts s to at most maxAbortMessage bytes of valid UTF-8.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > maxAbortMessage {
		s = s[:maxAbortMessage]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

func (c account) marshal() []byte {
	return append([]byte{c.kind, byte(c.a), byte(c.b), byte(c.reporter)}, c.reason...)
}

// parseAccount decodes what marshal wrote, refusing anything the honest
// code never writes, so that parse and marshal are inverses.
func parseAccount(b []byte) (account, error) {
	var c account
	if len(b) < accountHeaderLen {
		return c, fmt.Errorf("account of %d bytes, shorter than its %d-byte header", len(b), accountHeaderLen)
	}
	c.kind, c.a, c.b, c.reporter = b[0], mpc.Party(b[1]), mpc.Party(b[2]), mpc.Party(b[3])
	if c.a >= mpc.MaxParties || c.b >= mpc.MaxParties || c.reporter >= mpc.MaxParties {
		return c, fmt.Errorf("account names party %d, %d, %d", b[1], b[2], b[3])
	}
	switch c.kind {
	case accountLink:
		if c.a == c.b || (c.reporter != c.a && c.reporter != c.b) {
			return c, fmt.Errorf("account of link %s reported by %s", mpc.Link{From: c.a, To: c.b}, c.reporter)
		}
	case accountParty:
		if c.a != c.b || c.reporter == c.a {
			return c, fmt.Errorf("account against %s (and %s) reported by %s", c.a, c.b, c.reporter)
		}
	case accountStopped:
		if c.a != c.b || c.reporter != c.a {
			return c, fmt.Errorf("account of %s (and %s) stopping reported by %s", c.a, c.b, c.reporter)
		}
	default:
		return c, fmt.Errorf("account of kind %d", c.kind)
	}
	reason := b[accountHeaderLen:]
	if len(reason) > maxAbortMessage || !utf8.Valid(reason) {
		return c, fmt.Errorf("account's reason of %d bytes is too long or not UTF-8", len(reason))
	}
	c.reason = string(reason)
	return c, nil
}

// blame is what party me concludes from c, told by peer from (me itself
// when me saw it; cause, if not nil, is then what it saw). me never
// blames itself: its own code is honest, and an honest party's host is
// honest, so from where it stands a failure on one of its own links is
// the other end's or the network's; on the link between its peers, it
// cannot tell which end, and names both.
func (c account) blame(me, from mpc.Party, cause error) *mpc.PeerError {
	err := cause
	if err == nil {
		err = c.story(from)
	}
	switch c.kind {
	case accountLink:
		l := &mpc.Link{From: c.a, To: c.b}
		switch me {
		case c.a:
			return &mpc.PeerError{Peer: c.b, Link: l, Err: err}
		case c.b:
			return &mpc.PeerError{Peer: c.a, Link: l, Err: err}
		}
		return &mpc.PeerError{Peer: c.a, Link: l, Either: true, Err: err}
	}
	if c.a == me {
		// The honest code never tells this of an honest party: whoever
		// says it is not running it.
		return &mpc.PeerError{Peer: from, Err: fmt.Errorf("its abort blames this party: %w", err)}
	}
	return &mpc.PeerError{Peer: c.a, Err: err}
}

// story is the account's text as told by from.
func (c account) story(from mpc.Party) error {
	relayed := ""
	if from != c.reporter {
		relayed = fmt.Sprintf(" (relayed by %s)", from)
	}
	if c.kind == accountStopped {
		return fmt.Errorf("stopped the session%s: %s", relayed, c.reason)
	}
	return fmt.Errorf("%s reports%s: %s", c.reporter, relayed, c.reason)
}

// accountOf is the account of err, with which this party stops at the
// protocol's request (Abort): a link's failure or a peer's deviation as
// an *mpc.PeerError says, else this party's own stop.
func accountOf(me mpc.Party, err error) account {
	var pe *mpc.PeerError
	if errors.As(err, &pe) {
		inner := pe.Err
		if inner == nil {
			inner = errors.New("(no reason given)")
		}
		switch {
		case pe.Link != nil && pe.Link.From != pe.Link.To && pe.Link.From < mpc.MaxParties && pe.Link.To < mpc.MaxParties && (me == pe.Link.From || me == pe.Link.To):
			return linkAccount(pe.Link.From, pe.Link.To, me, inner)
		case pe.Link == nil && pe.Peer != me && pe.Peer < mpc.MaxParties:
			return partyAccount(pe.Peer, me, inner)
		}
	}
	return stoppedAccount(me, err)
}
