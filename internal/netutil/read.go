package netutil

import "io"

// ReadStep is the most AppendFull allocates ahead of the bytes that have
// arrived: 1 MiB.
const ReadStep = 1 << 20

// AppendFull reads exactly n bytes from r and appends them to buf. It
// allocates as the bytes arrive, not as announced: when buf has no room
// left it grows to at most max(2·len, len + ReadStep) (and never past
// the n bytes wanted), so a peer that announces n bytes and sends k of
// them costs a buffer of at most 2·(len(buf) + k) + ReadStep bytes,
// whatever n is. Growing copies what arrived, at most n bytes in total.
//
// On error (io.ErrUnexpectedEOF if r ends early, io.EOF if it ends
// before the first byte) the returned slice holds what did arrive.
func AppendFull(buf []byte, r io.Reader, n int) ([]byte, error) {
	if n < 0 {
		panic("netutil: AppendFull of a negative length")
	}
	want := len(buf) + n
	got := 0
	for len(buf) < want {
		if len(buf) == cap(buf) {
			buf = Grow(buf, min(want-len(buf), ReadStep), want)
		}
		k, err := io.ReadFull(r, buf[len(buf):min(cap(buf), want)])
		buf = buf[:len(buf)+k]
		got += k
		if err != nil {
			if err == io.EOF && got > 0 {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}

// Grow returns buf, or a copy of it, with room for at least n more bytes.
// A new buffer has capacity max(2·len(buf), len(buf)+n), but not more
// than limit if limit leaves room for the n bytes: growing by doubling
// copies each byte at most once on average, and limit (the most the
// caller will ever need) keeps the last step from overshooting.
func Grow(buf []byte, n, limit int) []byte {
	if cap(buf)-len(buf) >= n {
		return buf
	}
	c := max(2*len(buf), len(buf)+n)
	if limit >= len(buf)+n {
		c = min(c, limit)
	}
	nb := make([]byte, len(buf), c)
	copy(nb, buf)
	return nb
}
