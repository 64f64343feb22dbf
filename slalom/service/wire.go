package service

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"veil/internal/netutil"
)

// writeFrame writes one frame: BE32(2 + len(body)) ‖ version ‖ typ ‖ body.
func writeFrame(w io.Writer, typ byte, body []byte) error {
	if len(body)+2 > maxFrame {
		return fmt.Errorf("frame of %d bytes exceeds the maximum of %d", len(body)+2, maxFrame)
	}
	b := make([]byte, 6+len(body))
	binary.BigEndian.PutUint32(b, uint32(2+len(body)))
	b[4], b[5] = version, typ
	copy(b[6:], body)
	_, err := w.Write(b)
	return err
}

// readFrame reads one frame whose length field is at most max (at most
// maxFrame). It returns io.EOF only when the peer closed the
// connection at a frame boundary. The buffer grows as the bytes arrive
// (netutil.AppendFull), not to the announced length.
func readFrame(r io.Reader, max int) (typ byte, body []byte, err error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, nil, errors.New("truncated frame header")
		}
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n < 2 || int64(n) > int64(min(max, maxFrame)) {
		return 0, nil, fmt.Errorf("frame length %d outside [2, %d]", n, min(max, maxFrame))
	}
	buf, err := netutil.AppendFull(nil, r, int(n))
	if err != nil {
		return 0, nil, fmt.Errorf("truncated frame of %d bytes: %w", n, err)
	}
	if buf[0] != version {
		return 0, nil, fmt.Errorf("frame of protocol version %d, want %d", buf[0], version)
	}
	return buf[1], buf[2:], nil
}

func appendLP(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// reader decodes big-endian fields, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errors.New("truncated")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) lp(max int) []byte {
	n := r.u32()
	if r.err == nil && int64(n) > int64(max) {
		r.err = fmt.Errorf("field of %d bytes (max %d)", n, max)
		return nil
	}
	return r.take(int(n))
}

// encodeInput is kind-1 message: BE32 count ‖ float32 values, LE.
func encodeInput(x []float32) []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 4+4*len(x)), uint32(len(x)))
	for _, v := range x {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func decodeInput(b []byte, want int) ([]float32, error) {
	if len(b) < 4 {
		return nil, errors.New("input message too short")
	}
	n := binary.BigEndian.Uint32(b)
	if int64(n) != int64(want) {
		return nil, fmt.Errorf("input of %d values, the model takes %d", n, want)
	}
	if len(b) != 4+4*want {
		return nil, fmt.Errorf("input message of %d bytes, want %d", len(b), 4+4*want)
	}
	x := make([]float32, want)
	for i := range x {
		v := math.Float32frombits(binary.LittleEndian.Uint32(b[4+4*i:]))
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("input value %d is not finite", i)
		}
		x[i] = v
	}
	return x, nil
}

// encodeOutput is kind-2 message: BE32 scale ‖ BE32 count ‖ int64, LE.
func encodeOutput(z []int64, scale int) []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 8+8*len(z)), uint32(scale))
	b = binary.BigEndian.AppendUint32(b, uint32(len(z)))
	for _, v := range z {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return b
}

func decodeOutput(b []byte, st *Statement) ([]int64, error) {
	if len(b) < 8 {
		return nil, errors.New("output message too short")
	}
	scale, n := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if int64(scale) != int64(st.OutScale) {
		return nil, fmt.Errorf("output at scale %d, the statement says %d", scale, st.OutScale)
	}
	if int64(n) != int64(st.OutLen) || len(b) != 8+8*st.OutLen {
		return nil, fmt.Errorf("output of %d values in %d bytes, the statement says %d values", n, len(b), st.OutLen)
	}
	z := make([]int64, n)
	for i := range z {
		z[i] = int64(binary.LittleEndian.Uint64(b[8+8*i:]))
	}
	return z, nil
}

func clip(s string) []byte {
	if len(s) > maxMessageText {
		s = s[:maxMessageText]
	}
	return []byte(s)
}
