package device

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"veil/internal/netutil"
	"veil/internal/pinned"
	"veil/internal/record"
)

// After the TLS 1.3 handshake (mutual authentication by pinned keys), T
// and D protect their frames themselves instead of through TLS's 16 KB
// records: every frame is sealed with AES-256-GCM under a key per
// direction exported from the TLS session (RFC 8446 §7.5, label
// "veil slalom frames v1"), in records of at most recordMax bytes, each
// with a 96-bit counter nonce that never repeats within the direction
// (veil's record layer, internal/record, numbering the records
// implicitly: the counter is not sent).
// On the wire a frame is its plaintext length n (4 bytes, big endian,
// authenticated as associated data together with the record index) and
// ⌈n/recordMax⌉ records, each ciphertext ‖ 16-byte tag. A receiver reads
// each record straight into the frame buffer and opens it in place, so a
// large frame costs a few big socket reads and no copy, where TLS costs a
// system call and a copy per 16 KB. A modified, dropped, replayed,
// reordered or injected record fails authentication and ends the
// connection.
//
// The handshake must end before either side sends a frame (the TLS
// client could otherwise read frame bytes into its record buffer): the
// TLS server (D) sends the first frame, msgFramesHello, only after its
// handshake completed, and the client (T) sends nothing before it has
// opened that frame.
const (
	sealLabel = "veil slalom frames v1"
	recordMax = 1 << 22
	tagSize   = record.TagSize
)

// frameRecordAAD is the frame length and the record's index in the frame.
func frameRecordAAD(dst []byte, n uint32, i int) []byte {
	dst = binary.BigEndian.AppendUint32(dst[:0], n)
	return binary.BigEndian.AppendUint32(dst, uint32(i))
}

// sealedConn carries frames over the raw connection under the exported
// keys: one direction of veil's record layer (internal/record) each way,
// its records numbered implicitly (the counter is the nonce and is not
// sent).
type sealedConn struct {
	r    *bufio.Reader
	w    *bufio.Writer
	out  record.Sealer
	in   record.Opener
	wbuf []byte
	aad  [8]byte
}

// newSealedConn derives the two directions' keys from the finished TLS
// session; client is the TLS client's side. Frames travel over rw (the
// raw connection, through its Conn's deadlines).
func newSealedConn(rw io.ReadWriter, cs tls.ConnectionState, client bool) (*sealedConn, error) {
	km, err := pinned.ExportKey(cs, sealLabel, 64)
	if err != nil {
		return nil, fmt.Errorf("slalom: exporting frame keys: %w", err)
	}
	defer clear(km)
	toServer, toClient := km[:32], km[32:]
	if !client {
		toServer, toClient = toClient, toServer
	}
	p, err := record.NewPair(toServer, toClient)
	if err != nil {
		return nil, fmt.Errorf("slalom: frame keys: %w", err)
	}
	return &sealedConn{r: bufio.NewReaderSize(rw, 64<<10), w: bufio.NewWriterSize(rw, 1<<20), out: p.Out, in: p.In}, nil
}

// writeFrame seals the frame whose plaintext is the concatenation of parts.
func (c *sealedConn) writeFrame(parts ...[]byte) error {
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(total))
	if _, err := c.w.Write(hdr[:]); err != nil {
		return err
	}
	pi, po := 0, 0 // the next plaintext byte: parts[pi][po]
	for i, left := 0, total; ; i++ {
		m := min(left, recordMax)
		if cap(c.wbuf) < m+tagSize {
			c.wbuf = make([]byte, 0, m+tagSize)
		}
		pt := c.wbuf[:0]
		for len(pt) < m {
			if po == len(parts[pi]) {
				pi, po = pi+1, 0
				continue
			}
			k := min(m-len(pt), len(parts[pi])-po)
			pt = append(pt, parts[pi][po:po+k]...)
			po += k
		}
		ct, err := c.out.Seal(pt[:0], pt, frameRecordAAD(c.aad[:], uint32(total), i))
		if err != nil {
			return fmt.Errorf("slalom: %w", err)
		}
		if _, err := c.w.Write(ct); err != nil {
			return err
		}
		if left -= m; left == 0 {
			return c.w.Flush()
		}
	}
}

// readFrame reads and opens one frame into buf (reused if large enough,
// at most limit bytes of plaintext) and returns the plaintext. The buffer
// grows record by record as the records arrive (netutil.Grow: at most
// twice what arrived plus one record), not to the length the header
// announces, which nothing has authenticated yet.
func (c *sealedConn) readFrame(buf []byte, limit int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n > limit {
		return nil, fmt.Errorf("slalom: frame of %d bytes refused (limit %d)", n, limit)
	}
	buf = buf[:0]
	for i := 0; ; i++ {
		off := len(buf)
		m := min(n-off, recordMax)
		// Each record is read where its plaintext goes; its tag is then
		// overwritten by the next record.
		var err error
		buf, err = netutil.AppendFull(netutil.Grow(buf, m+tagSize, n+tagSize), c.r, m+tagSize)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		rec := buf[off:]
		if _, err := c.in.Open(rec[:0], rec, frameRecordAAD(c.aad[:], uint32(n), i)); err != nil {
			if errors.Is(err, record.ErrAuth) {
				return nil, errors.New("slalom: frame failed authentication (modified, replayed, reordered or injected)")
			}
			return nil, fmt.Errorf("slalom: %w", err)
		}
		if buf = buf[:off+m]; len(buf) == n {
			return buf, nil
		}
	}
}
