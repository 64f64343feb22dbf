package data

import (
	"encoding/binary"
	"fmt"
	"math"
)

// IDX element types (the third byte of the magic number).
const (
	idxUint8   = 0x08
	idxInt8    = 0x09
	idxInt16   = 0x0B
	idxInt32   = 0x0C
	idxFloat32 = 0x0D
	idxFloat64 = 0x0E
)

// idxArray is a decoded IDX file: its dimensions and its body.
type idxArray struct {
	typ  byte
	dims []int
	body []byte
}

func idxElemSize(typ byte) int {
	switch typ {
	case idxUint8, idxInt8:
		return 1
	case idxInt16:
		return 2
	case idxInt32, idxFloat32:
		return 4
	case idxFloat64:
		return 8
	}
	return 0
}

// at returns element i as a float64 (big-endian, as IDX specifies).
func (a *idxArray) at(i int) float64 {
	switch a.typ {
	case idxUint8:
		return float64(a.body[i])
	case idxInt8:
		return float64(int8(a.body[i]))
	case idxInt16:
		return float64(int16(binary.BigEndian.Uint16(a.body[2*i:])))
	case idxInt32:
		return float64(int32(binary.BigEndian.Uint32(a.body[4*i:])))
	case idxFloat32:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(a.body[4*i:])))
	default:
		return math.Float64frombits(binary.BigEndian.Uint64(a.body[8*i:]))
	}
}

// parseIDX checks the magic and the sizes of an IDX file's contents.
func parseIDX(path string, b []byte) (*idxArray, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("data: %s: truncated IDX header (%d bytes)", path, len(b))
	}
	if b[0] != 0 || b[1] != 0 {
		return nil, fmt.Errorf("data: %s: bad IDX magic %02x%02x%02x%02x (want 0000 then type and rank)", path, b[0], b[1], b[2], b[3])
	}
	typ, ndim := b[2], int(b[3])
	size := idxElemSize(typ)
	if size == 0 {
		return nil, fmt.Errorf("data: %s: bad IDX magic: unknown element type 0x%02x", path, typ)
	}
	if ndim == 0 {
		return nil, fmt.Errorf("data: %s: bad IDX magic: rank 0", path)
	}
	hdr := 4 + 4*ndim
	if len(b) < hdr {
		return nil, fmt.Errorf("data: %s: truncated IDX header: %d dimensions need %d bytes, file has %d", path, ndim, hdr, len(b))
	}
	a := &idxArray{typ: typ, dims: make([]int, ndim), body: b[hdr:]}
	// Multiply the dimensions up, stopping as soon as the product exceeds
	// the body so that absurd headers cannot overflow.
	limit := uint64(len(a.body))
	need := uint64(size)
	over := false
	for i := range a.dims {
		d := binary.BigEndian.Uint32(b[4+4*i:])
		a.dims[i] = int(d)
		if !over {
			need *= uint64(d)
			if need > limit {
				over = true
			}
		}
	}
	if over {
		return nil, fmt.Errorf("data: %s: truncated IDX data: dimensions %v need more than the %d bytes present", path, a.dims, len(a.body))
	}
	if need < limit {
		return nil, fmt.Errorf("data: %s: IDX size mismatch: dimensions %v need %d bytes, file has %d (trailing data)", path, a.dims, need, len(a.body))
	}
	return a, nil
}

// LoadIDX reads an IDX images file (N×H×W, or N×H×W×C with channels last) and
// an IDX labels file (N), raw or gzipped. labelsPath may be empty, in which
// case every label is -1. The magic numbers, the sizes and the counts are
// checked.
func LoadIDX(imagesPath, labelsPath string, opt Options) (*Dataset, error) {
	c, err := opt.check(255)
	if err != nil {
		return nil, err
	}
	b, err := readIDXFile(imagesPath)
	if err != nil {
		return nil, err
	}
	var lb []byte
	if labelsPath != "" {
		if lb, err = readIDXFile(labelsPath); err != nil {
			return nil, err
		}
	}
	src := imagesPath
	if labelsPath != "" {
		src += "," + labelsPath
	}
	return decodeIDX(imagesPath, b, labelsPath, lb, src, c)
}

func decodeIDX(imagesPath string, b []byte, labelsPath string, lb []byte, src string, c checked) (*Dataset, error) {
	imgs, err := parseIDX(imagesPath, b)
	if err != nil {
		return nil, err
	}
	var h, w, ch int
	switch len(imgs.dims) {
	case 3:
		h, w, ch = imgs.dims[1], imgs.dims[2], 1
	case 4:
		h, w, ch = imgs.dims[1], imgs.dims[2], imgs.dims[3]
	default:
		return nil, fmt.Errorf("data: %s: IDX images have %d dimensions %v, want 3 (N,H,W) or 4 (N,H,W,C)", imagesPath, len(imgs.dims), imgs.dims)
	}
	n := imgs.dims[0]
	if n > 0 && (h == 0 || w == 0 || ch == 0) {
		return nil, fmt.Errorf("data: %s: IDX images have an empty dimension %v", imagesPath, imgs.dims)
	}
	var labels *idxArray
	if labelsPath != "" {
		if labels, err = parseIDX(labelsPath, lb); err != nil {
			return nil, err
		}
		if len(labels.dims) != 1 {
			return nil, fmt.Errorf("data: %s: IDX labels have %d dimensions %v, want 1", labelsPath, len(labels.dims), labels.dims)
		}
		if labels.typ == idxFloat32 || labels.typ == idxFloat64 {
			return nil, fmt.Errorf("data: %s: IDX labels are floating point, want integers", labelsPath)
		}
		if labels.dims[0] != n {
			return nil, fmt.Errorf("data: count mismatch: %s has %d images but %s has %d labels", imagesPath, n, labelsPath, labels.dims[0])
		}
	}
	per := h * w * ch
	if per*c.take(n) > MaxValues {
		return nil, fmt.Errorf("data: %s: %d images of %dx%dx%d hold more than %d values, the loader's limit (load fewer with a limit)", imagesPath, c.take(n), h, w, ch, MaxValues)
	}
	ds := &Dataset{Source: src, Samples: make([]Sample, 0, c.take(n))}
	for i := 0; i < c.take(n); i++ {
		raw := make([]float32, per)
		for j := range raw {
			raw[j] = float32(imgs.at(i*per + j))
		}
		label := -1
		if labels != nil {
			label = int(labels.at(i))
			if label < 0 {
				return nil, fmt.Errorf("data: %s: label %d of sample %d is negative", labelsPath, label, i)
			}
		}
		s, err := c.finish(imagesPath, raw, h, w, ch, label)
		if err != nil {
			return nil, err
		}
		if err := ds.add(s); err != nil {
			return nil, err
		}
	}
	return ds, nil
}
