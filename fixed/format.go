package fixed

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// The compiled-program file format, version 1 (all integers little
// endian):
//
//	offset  size  field
//	0       8     magic "VEILPROG"
//	8       4     format version (uint32, currently 1)
//	12      4     header length H (uint32)
//	16      H     header: UTF-8 JSON of Program (tensors, instructions,
//	              scale, scale table, stats; see the struct tags)
//	16+H    8·N   weight data: the Data of every weight tensor in tensor
//	              order, each value a uint64 (two's complement at the
//	              tensor's scale); N is the sum of their shapes' sizes
//
// The header's "data_sha256" is the SHA-256 of the weight data; a reader
// checks it, the header's consistency (Validate) and that nothing follows
// the data.
//
// A public program (see Program.Public: the structure the client and the
// helper of a secure execution hold, without the model's weights) has
// "public": true in its header and no weight data at all.
const (
	Magic         = "VEILPROG"
	FormatVersion = 1
	maxHeader     = 16 << 20
)

type fileHeader struct {
	*Program
	FormatVersion int    `json:"format_version"`
	DataSHA256    string `json:"data_sha256"`
	Public        bool   `json:"public,omitempty"`
}

// Write writes p in the program file format.
func (p *Program) Write(w io.Writer) error {
	h := sha256.New()
	for _, t := range p.Tensors {
		if t.Kind == KindWeight {
			writeUints(h, t.Values())
		}
	}
	public := !p.HasWeightData()
	if public {
		for _, t := range p.Tensors {
			if t.Kind == KindWeight && t.HasValues() {
				return fmt.Errorf("program %q: weight %q has data but others have none", p.Name, t.Name)
			}
		}
	}
	hdr, err := json.Marshal(fileHeader{Program: p, FormatVersion: FormatVersion, DataSHA256: hex.EncodeToString(h.Sum(nil)), Public: public})
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	bw.WriteString(Magic)
	binary.Write(bw, binary.LittleEndian, uint32(FormatVersion))
	binary.Write(bw, binary.LittleEndian, uint32(len(hdr)))
	bw.Write(hdr)
	for _, t := range p.Tensors {
		if t.Kind == KindWeight {
			writeUints(bw, t.Values())
		}
	}
	return bw.Flush()
}

func writeUints(w io.Writer, xs []uint64) {
	var buf [8 * 1024]byte
	for len(xs) > 0 {
		n := min(len(xs), len(buf)/8)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint64(buf[8*i:], xs[i])
		}
		w.Write(buf[:8*n])
		xs = xs[n:]
	}
}

// WriteFile writes p to path.
func (p *Program) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := p.Write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// IsProgram reports whether data starts with the program file magic.
func IsProgram(data []byte) bool { return bytes.HasPrefix(data, []byte(Magic)) }

// ReadFile reads and validates a program file, streaming the weights
// into place (the file is never held in memory twice).
func ReadFile(path string) (*Program, error) { return readFile(path, false) }

// ReadFileCompact is ReadFile for a program to hold for a long time: it
// stores every weight at its declared width as it arrives (see Compact),
// so that the 64-bit values are never in memory all at once. A weight
// value beyond its declared width is an error.
func ReadFileCompact(path string) (*Program, error) { return readFile(path, true) }

func readFile(path string, compact bool) (*Program, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := read(bufio.NewReaderSize(f, 1<<20), compact)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Parse decodes and validates a program from the bytes of a file.
func Parse(data []byte) (*Program, error) { return Read(bytes.NewReader(data)) }

// Read decodes and validates a program from r, which must end where the
// program does. Memory grows only as weight data actually arrives, so a
// corrupt header cannot make it allocate what the input does not hold.
func Read(r io.Reader) (*Program, error) { return read(r, false) }

// read is Read, storing the weights at their declared widths if compact
// is set.
func read(r io.Reader, compact bool) (*Program, error) {
	var pre [16]byte
	if n, _ := io.ReadFull(r, pre[:]); n < 16 || !IsProgram(pre[:]) {
		return nil, fmt.Errorf("not a veil program (missing %q magic)", Magic)
	}
	if v := binary.LittleEndian.Uint32(pre[8:]); v != FormatVersion {
		return nil, fmt.Errorf("program format version %d; this veil reads version %d", v, FormatVersion)
	}
	hl := int(binary.LittleEndian.Uint32(pre[12:]))
	if hl > maxHeader {
		return nil, fmt.Errorf("corrupt program: header of %d bytes exceeds %d", hl, maxHeader)
	}
	hdr := make([]byte, 0, min(hl, 1<<20))
	hdr, err := readN(r, hdr, hl)
	if err != nil {
		return nil, fmt.Errorf("truncated program: header of %d bytes: %w", hl, err)
	}
	var h fileHeader
	h.Program = &Program{}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.DisallowUnknownFields()
	hdr = nil // the decoder holds its own copy
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("corrupt program header: %w", err)
	}
	p := h.Program
	sum := sha256.New()
	var buf [64 << 10]byte
	budget := newWidenBudget()
	for id, t := range p.Tensors {
		if t == nil {
			return nil, fmt.Errorf("tensor %d is missing", id)
		}
		if t.Kind != KindWeight || h.Public {
			continue
		}
		n, err := t.Shape.CheckedSize(MaxTensorElements)
		if err != nil {
			return nil, fmt.Errorf("corrupt program: weight %q: %w", t.Name, err)
		}
		switch bits := t.Bits; {
		case compact && bits > 0 && bits <= 16:
			t.data16, err = readValues[int16](r, sum, buf[:], t, n)
			t.widened = &widened{budget: budget}
		case compact && bits > 0 && bits <= 32:
			t.data32, err = readValues[int32](r, sum, buf[:], t, n)
			t.widened = &widened{budget: budget}
		default:
			t.Data, err = readValues[uint64](r, sum, buf[:], t, n)
		}
		if err != nil {
			return nil, err
		}
	}
	if k, _ := r.Read(buf[:1]); k != 0 {
		extra, _ := io.Copy(io.Discard, r)
		return nil, fmt.Errorf("corrupt program: %d unexpected bytes after the weights", extra+1)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h.DataSHA256 {
		return nil, fmt.Errorf("corrupt program: weight data hash %s does not match header %s", got[:12], short(h.DataSHA256))
	}
	validate := p.Validate
	if h.Public {
		validate = p.ValidatePublic
	}
	if err := validate(); err != nil {
		return nil, fmt.Errorf("invalid program: %w", err)
	}
	if p.Stats.ByOp == nil {
		p.ComputeStats()
	}
	return p, nil
}

// readValues reads weight t's n values from r into a slice of T, which
// must hold each (an error otherwise), hashing their bytes into sum; buf
// is scratch. The slice grows only as values arrive.
func readValues[T int16 | int32 | uint64](r io.Reader, sum io.Writer, buf []byte, t *Tensor, n int) ([]T, error) {
	vals := make([]T, 0, min(n, 1<<16))
	for len(vals) < n {
		chunk := buf[:8*min(n-len(vals), len(buf)/8)]
		if _, err := io.ReadFull(r, chunk); err != nil {
			return nil, fmt.Errorf("truncated program: weight %q needs %d values, got %d", t.Name, n, len(vals))
		}
		sum.Write(chunk)
		for i := 0; i < len(chunk); i += 8 {
			x := int64(binary.LittleEndian.Uint64(chunk[i:]))
			if int64(T(x)) != x {
				return nil, fmt.Errorf("corrupt program: weight %q element %d is %d, beyond its declared %d bits", t.Name, len(vals), x, t.Bits)
			}
			vals = append(vals, T(x))
		}
	}
	if cap(vals) > len(vals) { // not the growth's spare capacity for the program's lifetime
		vals = append(make([]T, 0, len(vals)), vals...)
	}
	return vals, nil
}

// readN appends exactly n bytes from r to b, growing b only as data
// arrives.
func readN(r io.Reader, b []byte, n int) ([]byte, error) {
	var chunk [64 << 10]byte
	for len(b) < n {
		c := chunk[:min(n-len(b), len(chunk))]
		if _, err := io.ReadFull(r, c); err != nil {
			return b, err
		}
		b = append(b, c...)
	}
	return b, nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
