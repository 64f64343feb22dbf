// Package device is Slalom's untrusted device D and the T↔D wire: the
// worker D ([Device]) that holds a network's public weights and computes
// its linear layers mod p for whatever T sends, the client end T uses
// ([Remote], a slalom.Link), and what carries them: framed messages
// ([Conn], proto.go) over TLS 1.3 with pinned Ed25519 keys ([Dial],
// [Listen], channel.go) whose frames are sealed under keys exported from
// the handshake (seal_channel.go). What D computes, and how T checks and
// blinds it, is package slalom's: this package only moves residues and
// validates their framing.
package device

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"veil/slalom"
)

// Device is the untrusted worker D: it holds the public weights and
// computes linear layers exactly mod P on whatever T sends.
type Device struct {
	// Tamper, if set, may change an output before it is sent (tests
	// model a cheating device with it).
	Tamper func(layer int, seq uint64, y []uint32) []uint32
	// Received, if set, sees the values of every compute request.
	Received func(layer int, x []uint32)
	// frameHook, if set, rewrites each result frame (tests).
	frameHook func(body []byte) (byte, []byte)
	// CPUSeconds reports the device process's CPU time (for stats).
	CPUSeconds func() float64
	// IdleTimeout is how long ServeListener's sessions wait for T to
	// send anything (a heartbeat will do) before giving up on it (zero:
	// DefaultDeviceIdleTimeout).
	IdleTimeout time.Duration
}

// Serve answers T on conn until T closes it, or until a receive fails
// (c.Timeout bounds T's silence; see ServeListener).
func (d *Device) Serve(c *Conn) error {
	var layers []*slalom.Layer // per connection: one Device may serve several T sessions
	var prog *slalom.Program
	fail := func(err error) error {
		// T may be blocked sending: do not wait long for it to read.
		c.Timeout = time.Second
		c.send(msgFailure, []byte(err.Error()))
		return err
	}
	for {
		typ, body, err := c.recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch typ {
		case msgSetupLayer:
			l, err := parseSetupLayer(body)
			if err != nil {
				return fail(err)
			}
			if l.Index != len(layers) {
				return fail(fmt.Errorf("%w: layer %d out of order", errProto, l.Index))
			}
			layers = append(layers, l)
		case msgSetupDone:
			if len(body) != 32 {
				return fail(errProto)
			}
			if err := c.send(msgReady, body); err != nil {
				return err
			}
		case msgCompute:
			if len(body) < 16 {
				return fail(errProto)
			}
			seq := binary.LittleEndian.Uint64(body)
			li := int(binary.LittleEndian.Uint32(body[8:]))
			n := int(binary.LittleEndian.Uint32(body[12:]))
			if li >= len(layers) {
				return fail(fmt.Errorf("%w: no layer %d", errProto, li))
			}
			l := layers[li]
			if n != l.InLen() {
				return fail(fmt.Errorf("%w: layer %d: %d inputs, want %d", errProto, li, n, l.InLen()))
			}
			x, err := slalom.DecodeResidues(body[16:], n)
			if err != nil {
				return fail(err)
			}
			if d.Received != nil {
				d.Received(li, x)
			}
			y := l.Compute(x)
			if d.Tamper != nil {
				y = d.Tamper(li, seq, y)
			}
			if err := d.sendResult(c, seq, li, y); err != nil {
				return err
			}
		case msgSetupProgram:
			p, err := parseProgram(body, layers)
			if err != nil {
				return fail(err)
			}
			prog = p
		case msgRunAll:
			if prog == nil || len(body) < 12 {
				return fail(fmt.Errorf("%w: run without a program", errProto))
			}
			seq := binary.LittleEndian.Uint64(body)
			n := int(binary.LittleEndian.Uint32(body[8:]))
			x, err := slalom.DecodeResidues(body[12:], n)
			if err != nil {
				return fail(err)
			}
			var sendErr error
			err = prog.Stream(x, func(l *slalom.Layer, y []uint32) ([]uint32, error) {
				if d.Tamper != nil {
					y = d.Tamper(l.Index, seq, y)
				}
				if err := d.sendResult(c, seq, l.Index, y); err != nil {
					sendErr = err
					return nil, err
				}
				return y, nil
			})
			if sendErr != nil {
				return sendErr
			}
			if err != nil {
				return fail(err)
			}
		case msgStats:
			var s float64
			if d.CPUSeconds != nil {
				s = d.CPUSeconds()
			}
			if err := c.send(msgStatsReply, binary.LittleEndian.AppendUint64(nil, math.Float64bits(s))); err != nil {
				return err
			}
		default:
			return fail(fmt.Errorf("%w: message type %d", errProto, typ))
		}
	}
}

func (d *Device) sendResult(c *Conn, seq uint64, li int, y []uint32) error {
	hdr := make([]byte, 16)
	binary.LittleEndian.PutUint64(hdr, seq)
	binary.LittleEndian.PutUint32(hdr[8:], uint32(li))
	binary.LittleEndian.PutUint32(hdr[12:], uint32(len(y)))
	typ, body := msgResult, slalom.AppendResidues(hdr, y)
	if d.frameHook != nil {
		typ, body = d.frameHook(body)
	}
	return c.send(typ, body)
}
