package data

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// LoadCSV reads rows of pixel values followed by an integer label (the
// format of scikit-learn's digits.csv: 64 values in 0..16, then the label).
// Images are square and single-channel: a row of n+1 fields is a
// sqrt(n)×sqrt(n) image. The file may be gzipped. A first row without
// any number is taken as a header and skipped; blank lines are ignored.
// Raw values are divided by Options.PixelMax (0 means 255, so use 16 for the
// digits data).
func LoadCSV(path string, opt Options) (*Dataset, error) {
	c, err := opt.check(255)
	if err != nil {
		return nil, err
	}
	b, err := readMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	return decodeCSV(path, b, c)
}

func decodeCSV(path string, b []byte, c checked) (*Dataset, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1 // checked below, with a clearer message
	r.ReuseRecord = true
	r.TrimLeadingSpace = true
	ds := &Dataset{Source: path}
	fields, side := 0, 0
	seen := false
	for {
		if c.Limit > 0 && len(ds.Samples) >= c.Limit {
			break
		}
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("data: %s: %v", path, err)
		}
		line, _ := r.FieldPos(0)
		first := !seen
		seen = true
		if fields == 0 {
			if len(rec) < 2 {
				return nil, fmt.Errorf("data: %s:%d: %d field(s), want pixel values followed by a label", path, line, len(rec))
			}
			if first && noNumbers(rec) {
				continue // header
			}
			fields = len(rec)
			n := fields - 1
			side = int(math.Round(math.Sqrt(float64(n))))
			if side*side != n {
				return nil, fmt.Errorf("data: %s:%d: %d pixel values do not form a square image", path, line, n)
			}
		}
		if len(rec) != fields {
			return nil, fmt.Errorf("data: %s:%d: %d fields, want %d like the first row", path, line, len(rec), fields)
		}
		raw := make([]float32, fields-1)
		for i, f := range rec[:fields-1] {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("data: %s:%d: field %d: %q is not a number", path, line, i+1, f)
			}
			raw[i] = float32(v)
		}
		lf := strings.TrimSpace(rec[fields-1])
		label, err := strconv.Atoi(lf)
		if err != nil {
			// Accept integral floats such as "3.0".
			v, ferr := strconv.ParseFloat(lf, 64)
			if ferr != nil || v != math.Trunc(v) || math.Abs(v) > 1<<31 {
				return nil, fmt.Errorf("data: %s:%d: label %q is not an integer", path, line, lf)
			}
			label = int(v)
		}
		if label < 0 {
			return nil, fmt.Errorf("data: %s:%d: label %d is negative", path, line, label)
		}
		s, err := c.finish(path, raw, side, side, 1, label)
		if err != nil {
			return nil, err
		}
		if err := ds.add(s); err != nil {
			return nil, err
		}
	}
	if len(ds.Samples) == 0 {
		return nil, fmt.Errorf("data: %s: no samples", path)
	}
	return ds, nil
}

// noNumbers reports whether no field of rec is a number (a header row).
func noNumbers(rec []string) bool {
	for _, f := range rec {
		if _, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err == nil {
			return false
		}
	}
	return true
}
