package aramis

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// checkpoint is what a peer says it has sent and verified.
type checkpoint struct {
	sentData, recvData   uint64
	sentChain, recvChain [32]byte
}

const checkpointLen = 2 * (8 + 32)

func (c *checkpoint) marshal() []byte {
	b := make([]byte, checkpointLen)
	binary.BigEndian.PutUint64(b, c.sentData)
	copy(b[8:], c.sentChain[:])
	binary.BigEndian.PutUint64(b[40:], c.recvData)
	copy(b[48:], c.recvChain[:])
	return b
}

func parseCheckpoint(b []byte) (checkpoint, error) {
	var c checkpoint
	if len(b) != checkpointLen {
		return c, fmt.Errorf("checkpoint of %d bytes, want %d", len(b), checkpointLen)
	}
	c.sentData = binary.BigEndian.Uint64(b)
	copy(c.sentChain[:], b[8:40])
	c.recvData = binary.BigEndian.Uint64(b[40:])
	copy(c.recvChain[:], b[48:])
	return c, nil
}

// Checkpoint confirms with both peers that every message either way
// arrived intact and in order: each party sends the count and chain value
// of the messages it sent and verified, and checks the peers' against its
// own. A party releases an output only after Checkpoint succeeds. All
// three call it at the same point of the protocol; it costs one round
// and 128 bytes per link and direction.
func (n *Network) Checkpoint() error {
	if err := n.Err(); err != nil {
		return err
	}
	peers := n.peers()
	for _, q := range peers {
		l := n.links[q]
		l.sendMu.Lock()
		c := checkpoint{sentData: l.send.data, sentChain: l.send.dataChain}
		l.sendMu.Unlock()
		n.mu.Lock()
		c.recvData, c.recvChain = l.recvData, l.recvDataChain
		n.mu.Unlock()
		if err := n.sendFrame(l, frameCheckpoint, c.marshal()); err != nil {
			return n.sendFailed(l, err)
		}
	}
	for _, q := range peers {
		l := n.links[q]
		n.mu.Lock()
		for len(l.ckpts) == 0 && n.err == nil && !l.ended {
			n.cond.Wait()
		}
		err := n.err
		var c checkpoint
		var deviation error
		switch {
		case err != nil:
		case len(l.ckpts) == 0:
			deviation = errors.New("ended the session before the checkpoint")
		default:
			c, l.ckpts = l.ckpts[0], l.ckpts[1:]
			if l.consumed != c.sentData {
				deviation = fmt.Errorf("it sent %d messages before the checkpoint, the protocol read %d", c.sentData, l.consumed)
			}
		}
		n.mu.Unlock()
		if deviation != nil {
			n.failParty(q, deviation)
			return n.Err()
		}
		if err != nil {
			return err
		}
		l.sendMu.Lock()
		sent, chain := l.send.data, l.send.dataChain
		l.sendMu.Unlock()
		if c.recvData != sent || c.recvChain != chain {
			n.failLink(n.me, q, fmt.Errorf("checkpoint: %w: this party sent %d messages, %s verified %d", ErrChain, sent, q, c.recvData))
			return n.Err()
		}
	}
	return nil
}
