package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"veil/internal/netutil"
	"veil/mpc"
)

// Frame header: 4 bytes, big-endian. See the package documentation.
const (
	controlFlag = 1 << 31             // set in a control frame's header
	controlLen  = 1<<24 - 1           // mask of a control frame's length
	maxControl  = 1024                // the longest control payload accepted
	helloMagic  = "veil-transport/1 " // a hello's payload: magic + role name
)

// Control frame types.
const (
	ctlHello     byte = 1 // first frame each way: "veil-transport/1 <role>"
	ctlHeartbeat byte = 2 // "I am alive"; empty
	ctlGoodbye   byte = 3 // clean close; empty; the last frame sent
	ctlReject    byte = 4 // a listener's refusal instead of a hello; reason text
)

func dataHeader(n int) [4]byte {
	var h [4]byte
	binary.BigEndian.PutUint32(h[:], uint32(n))
	return h
}

func controlHeader(typ byte, n int) [4]byte {
	var h [4]byte
	binary.BigEndian.PutUint32(h[:], controlFlag|uint32(typ&0x7f)<<24|uint32(n))
	return h
}

// ctlZero stands for a control frame of type 0, which is no type: a
// header with the control flag must not read as a data frame.
const ctlZero byte = 0x80

// parseHeader splits a frame header into control type (0 for a data
// frame, ctlZero for a control frame of type 0) and length.
func parseHeader(h [4]byte) (typ byte, n int64) {
	v := binary.BigEndian.Uint32(h[:])
	if v&controlFlag == 0 {
		return 0, int64(v)
	}
	if typ = byte(v>>24) & 0x7f; typ == 0 {
		typ = ctlZero
	}
	return typ, int64(v & controlLen)
}

// writeControl writes one control frame.
func writeControl(w io.Writer, typ byte, payload []byte) error {
	h := controlHeader(typ, len(payload))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	if len(payload) > 0 {
		if _, err := w.Write(payload); err != nil {
			return err
		}
	}
	return nil
}

// errMalformed marks a frame that breaks the format.
var errMalformed = errors.New("malformed frame")

// readControl reads one frame that must be a control frame, as during the
// connection handshake.
func readControl(r io.Reader) (byte, []byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	typ, n := parseHeader(h)
	if typ == 0 {
		return 0, nil, fmt.Errorf("%w: expected a control frame, got a data frame of %d bytes", errMalformed, n)
	}
	if n > maxControl {
		return 0, nil, fmt.Errorf("%w: control frame of %d bytes", errMalformed, n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return typ, p, nil
}

// frameError is a frame that breaks the format or the size limit after
// the handshake; anything else readFrame returns is an I/O error.
type frameError struct{ err error }

func (e *frameError) Error() string { return e.err.Error() }
func (e *frameError) Unwrap() error { return e.err }

// readFrame reads one frame of an established connection: a data frame
// (typ 0) and its message, or an empty heartbeat or goodbye (msg nil).
// A data frame over max bytes, or any other control frame, is a
// *frameError. The message buffer grows as its bytes arrive
// (netutil.AppendFull), so a peer that announces a long message and
// sends little of it costs about what it sent plus 1 MiB, not what it
// announced.
func readFrame(r io.Reader, max int64) (typ byte, msg []byte, err error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	typ, n := parseHeader(h)
	if typ != 0 {
		if (typ == ctlHeartbeat || typ == ctlGoodbye) && n == 0 {
			return typ, nil, nil
		}
		return 0, nil, &frameError{fmt.Errorf("%w: unexpected control frame type %d of %d bytes", errMalformed, typ, n)}
	}
	if n > max {
		return 0, nil, &frameError{fmt.Errorf("message of %d bytes exceeds the limit of %d bytes", n, max)}
	}
	msg, err = netutil.AppendFull(nil, r, int(n))
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	if msg == nil {
		msg = []byte{}
	}
	return 0, msg, nil
}

func helloPayload(p mpc.Party) []byte { return []byte(helloMagic + p.Role()) }

// parseHello reads the role a hello announces.
func parseHello(typ byte, payload []byte) (mpc.Party, error) {
	if typ != ctlHello {
		return 0, fmt.Errorf("%w: expected a hello, got control frame type %d", errMalformed, typ)
	}
	s := string(payload)
	if !strings.HasPrefix(s, helloMagic) {
		return 0, fmt.Errorf("%w: hello %q lacks %q", errMalformed, s, strings.TrimSpace(helloMagic))
	}
	switch r := strings.TrimPrefix(s, helloMagic); r {
	case "client":
		return mpc.P0, nil
	case "server":
		return mpc.P1, nil
	case "helper":
		return mpc.P2, nil
	default:
		return 0, fmt.Errorf("%w: hello names unknown role %q", errMalformed, r)
	}
}
