package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Limits on what one file may make the loaders allocate. A dataset file
// can come from anyone (a downloaded archive, a client's upload), so
// neither a small compressed file nor a lying header may ask for more
// memory than these; together they keep a load below 1 GiB.
const (
	// DefaultMaxPixels is the default bound on the width × height of one
	// decoded image, and of a resize target (Options.MaxPixels,
	// `--max-pixels` on the command line): 16 Mi pixels, a 4096×4096
	// scan. Decoding and resizing take at most 32 bytes per pixel (a
	// 16-bit RGBA image, its float32 channels and a 16-bit copy to
	// resize), so 512 MiB at this bound.
	DefaultMaxPixels = 1 << 24
	// MaxValues bounds the values of all samples of one dataset together
	// (512 MiB as float32): the 60,000 Fashion-MNIST training images
	// hold 47 Mi. Use Options.Limit to load a prefix of a larger set.
	MaxValues = 1 << 27
	// MaxFileBytes bounds the bytes read from one file after
	// decompression: an IDX file's header and body (whose size the
	// header declares, and which must then match it exactly), a CSV or
	// JSON file's text, an image file.
	MaxFileBytes = 256 << 20
)

// errTooLarge is wrapped by every refusal of the limits above.
var errTooLarge = errors.New("exceeds the loader's limit")

// openMaybeGzip opens path and returns a reader of its contents,
// decompressed if it starts with the gzip magic.
func openMaybeGzip(path string) (io.Reader, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(2)
	if len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return br, f, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("data: %s: bad gzip data: %v", path, err)
	}
	return gzipErrors{zr}, f, nil
}

// gzipErrors says that a read error comes from the gzip stream.
type gzipErrors struct{ r io.Reader }

func (g gzipErrors) Read(b []byte) (int, error) {
	n, err := g.r.Read(b)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("bad or truncated gzip data: %w", err)
	}
	return n, err
}

// readMaybeGzip returns the contents of path, decompressed if it starts
// with the gzip magic, refusing contents of more than MaxFileBytes.
func readMaybeGzip(path string) ([]byte, error) {
	r, c, err := openMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	b, err := readAtMost(r, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	return b, nil
}

// readAtMost reads r to its end, growing the result only as data
// arrives (doubling, so that all it allocates adds up to at most twice
// what it returns), and fails once more than max bytes arrive.
func readAtMost(r io.Reader, max int) ([]byte, error) {
	b := make([]byte, 0, min(max+1, 64<<10))
	for {
		if len(b) == cap(b) {
			if len(b) > max {
				return nil, fmt.Errorf("contents (after decompression) of more than %d bytes (%w)", max, errTooLarge)
			}
			next := 2 * cap(b)
			if next >= max {
				next = max + 1 // one byte more tells a too long input
			}
			b = append(make([]byte, 0, next), b...)
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			if len(b) > max {
				return nil, fmt.Errorf("contents (after decompression) of more than %d bytes (%w)", max, errTooLarge)
			}
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// readIDXFile returns the contents of an IDX file, raw or gzipped, after
// reading its header: the body may be no longer than the header declares
// (so a small gzip file cannot expand without bound), and the declared
// size must be within MaxFileBytes. parseIDX checks the rest.
func readIDXFile(path string) ([]byte, error) {
	r, c, err := openMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	hdr := make([]byte, 4, 4+4*255)
	if n, err := io.ReadFull(r, hdr); err != nil {
		return hdr[:n], nil // parseIDX names what is missing
	}
	size, ndim := idxElemSize(hdr[2]), int(hdr[3])
	if hdr[0] != 0 || hdr[1] != 0 || size == 0 || ndim == 0 {
		return hdr, nil // parseIDX names the bad magic
	}
	hdr = hdr[:4+4*ndim]
	if n, err := io.ReadFull(r, hdr[4:]); err != nil {
		return hdr[:4+n], nil
	}
	dims := make([]uint32, ndim)
	body := uint64(size)
	for i := range dims {
		dims[i] = binary.BigEndian.Uint32(hdr[4+4*i:])
		if body *= uint64(dims[i]); body > MaxFileBytes {
			body = MaxFileBytes + 1 // and stays above: no overflow
		}
	}
	if body > MaxFileBytes {
		return nil, fmt.Errorf("data: %s: IDX dimensions %v declare more data than the loader's limit of %d bytes (%w)", path, dims, MaxFileBytes, errTooLarge)
	}
	declared := uint64(len(hdr)) + body
	// One byte more than declared is read so that parseIDX reports
	// trailing data; nothing beyond it is.
	b, err := readAtMost(io.LimitReader(r, int64(declared)+1), int(declared)+1)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	return append(hdr, b...), nil
}

// add appends s to ds, refusing to hold more than MaxValues values in all.
func (ds *Dataset) add(s Sample) error {
	if ds.values+len(s.Pixels) > MaxValues {
		return fmt.Errorf("data: %s: %d samples hold more than %d values, the loader's limit (%w; load fewer with a limit)", ds.Source, len(ds.Samples)+1, MaxValues, errTooLarge)
	}
	ds.values += len(s.Pixels)
	ds.Samples = append(ds.Samples, s)
	return nil
}
