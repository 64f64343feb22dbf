package tf

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// ReadTFJS reads a TF.js graph model (the model.json and binary weight
// shards that tensorflowjs_converter writes). path is the model.json file
// or the directory that holds it. The result is a frozen GraphDef: every
// weight from the manifest is placed in its Const node, dequantized
// (uint8/uint16 as v*scale+min, float16 by IEEE half decoding) to
// DT_FLOAT (or DT_INT32/DT_BOOL for integer and boolean weights), and
// GraphDef.Outputs holds the model signature's outputs when it has one.
func ReadTFJS(path string) (*GraphDef, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %w", err)
	}
	dir, name := filepath.Dir(path), filepath.Base(path)
	if st.IsDir() {
		dir, name = path, "model.json"
	}
	return readTFJS(os.DirFS(dir), name, dir)
}

// readTFJS does the work of ReadTFJS on a file system: name is the
// model.json's path in fsys, and the weight shards are read from the same
// directory. root, when set, prefixes file names in error messages so they
// name the files on disk.
func readTFJS(fsys fs.FS, name, root string) (*GraphDef, error) {
	show := func(p string) string {
		if root == "" {
			return p
		}
		return filepath.Join(root, filepath.FromSlash(p))
	}
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("tfjs: reading model: %w", err)
	}
	gd, manifest, inline, err := parseTFJSModel(data)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %s: %w", show(name), err)
	}
	if err := loadWeights(gd, manifest, inline, fsys, path.Dir(name), show); err != nil {
		return nil, fmt.Errorf("tfjs: %s: %w", show(name), err)
	}
	return gd, nil
}

// jsonModel is the top level of a TF.js model.json.
type jsonModel struct {
	Format              string          `json:"format"`
	ModelTopology       json.RawMessage `json:"modelTopology"`
	WeightsManifest     []jsonGroup     `json:"weightsManifest"`
	Signature           json.RawMessage `json:"signature"`
	UserDefinedMetadata struct {
		Signature json.RawMessage `json:"signature"`
	} `json:"userDefinedMetadata"`
}

// jsonGroup is one weightsManifest entry: shard files and the weights
// stored in them, in order.
type jsonGroup struct {
	Paths   []string     `json:"paths"`
	Weights []jsonWeight `json:"weights"`
}

type jsonWeight struct {
	Name         string            `json:"name"`
	Shape        []int64           `json:"shape"`
	DType        string            `json:"dtype"`
	Quantization *jsonQuantization `json:"quantization"`
}

type jsonQuantization struct {
	DType string   `json:"dtype"`
	Min   *float64 `json:"min"`
	Scale *float64 `json:"scale"`
}

// parseTFJSModel decodes model.json into a GraphDef (Const nodes still
// without their weights), the weights manifest, and the set of Const nodes
// whose tensors hold values of their own.
func parseTFJSModel(data []byte) (*GraphDef, []jsonGroup, map[string]bool, error) {
	var m jsonModel
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, nil, nil, fmt.Errorf("decoding model.json: %w", err)
	}
	if m.Format != "" && m.Format != "graph-model" {
		return nil, nil, nil, fmt.Errorf("format is %q; only TF.js graph models (\"graph-model\") are supported", m.Format)
	}
	if !present(m.ModelTopology) {
		return nil, nil, nil, errors.New("model.json has no modelTopology")
	}
	p := &jsonParser{inline: map[string]bool{}, pad: newPadBudget()}
	gd, err := p.graph(m.ModelTopology)
	if err != nil {
		return nil, nil, nil, err
	}
	sig := m.Signature
	if !present(sig) {
		sig = m.UserDefinedMetadata.Signature
	}
	if present(sig) {
		if gd.Outputs, err = signatureOutputs(sig); err != nil {
			return nil, nil, nil, fmt.Errorf("signature: %w", err)
		}
	}
	return gd, m.WeightsManifest, p.inline, nil
}

// signatureOutputs returns the tensor names of a signature's outputs in
// file order.
func signatureOutputs(raw json.RawMessage) ([]string, error) {
	f, err := objFields(raw)
	if err != nil {
		return nil, err
	}
	outs := f["outputs"]
	if len(outs) == 0 || string(outs) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(outs))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("outputs is not an object")
	}
	var names []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		var v struct {
			Name string `json:"name"`
		}
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("output %q: %w", key, err)
		}
		if v.Name == "" {
			v.Name = key
		}
		names = append(names, strings.TrimSuffix(v.Name, ":0"))
	}
	return names, nil
}

// jsonParser decodes a GraphDef in protobuf's JSON mapping, as TF.js
// stores it: field names in lowerCamelCase or as in the .proto, int64 as
// strings or numbers, bytes as base64, enums by name or number.
type jsonParser struct {
	inline map[string]bool // Const nodes whose tensor holds its own values
	values bool            // the last tensor parsed held values
	pad    *padBudget      // padding of short tensors, for the whole model
}

// objFields decodes a JSON object, normalizing field names (lower case,
// no underscores) so "tensorShape" and "tensor_shape" are the same key.
func objFields(raw json.RawMessage) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[strings.ToLower(strings.ReplaceAll(k, "_", ""))] = v
	}
	return out, nil
}

func present(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

func jsonString(raw json.RawMessage) (string, error) {
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// jsonInt64 accepts a number or a decimal string.
func jsonInt64(raw json.RawMessage) (int64, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strconv.ParseInt(s, 10, 64)
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, err
	}
	if v, err := n.Int64(); err == nil {
		return v, nil
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<63 {
		return 0, fmt.Errorf("%s is not an integer", n)
	}
	return int64(f), nil
}

// jsonFloat accepts a number, a numeric string, or "NaN"/"Infinity"/"-Infinity".
func jsonFloat(raw json.RawMessage) (float64, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		return strconv.ParseFloat(s, 64)
	}
	var f float64
	err := json.Unmarshal(raw, &f)
	return f, err
}

func jsonBool(raw json.RawMessage) (bool, error) {
	var b bool
	err := json.Unmarshal(raw, &b)
	return b, err
}

// jsonBytes decodes base64 in any of the alphabets protobuf JSON allows.
func jsonBytes(raw json.RawMessage) ([]byte, error) {
	s, err := jsonString(raw)
	if err != nil {
		return nil, err
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%q is not base64", s)
}

func jsonType(raw json.RawMessage) (DataType, error) {
	if s, err := jsonString(raw); err == nil {
		return parseDataType(s)
	}
	v, err := jsonInt64(raw)
	if err != nil || v != int64(int32(v)) {
		return 0, fmt.Errorf("bad data type %s", raw)
	}
	return DataType(v), nil
}

// jsonArray decodes a JSON array (null counts as empty) and applies fn to
// every element.
func jsonArray(raw json.RawMessage, fn func(json.RawMessage) error) error {
	if !present(raw) {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return err
	}
	for i, it := range items {
		if err := fn(it); err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
	}
	return nil
}

func (p *jsonParser) graph(raw json.RawMessage) (*GraphDef, error) {
	f, err := objFields(raw)
	if err != nil {
		return nil, fmt.Errorf("modelTopology: %w", err)
	}
	if _, ok := f["node"]; !ok {
		if _, keras := f["modelconfig"]; keras {
			return nil, errors.New("modelTopology is a Keras layers model, not a TF.js graph model")
		}
		return nil, errors.New("modelTopology has no nodes")
	}
	gd := &GraphDef{}
	var nodes []json.RawMessage
	if err := json.Unmarshal(f["node"], &nodes); err != nil {
		return nil, fmt.Errorf("modelTopology.node: %w", err)
	}
	for i, r := range nodes {
		n, err := p.node(r)
		if err != nil {
			return nil, fmt.Errorf("node %d%s: %w", i, quoteName(n), err)
		}
		gd.Nodes = append(gd.Nodes, n)
	}
	if lib := f["library"]; present(lib) {
		lf, err := objFields(lib)
		if err != nil {
			return nil, fmt.Errorf("library: %w", err)
		}
		err = jsonArray(lf["function"], func(r json.RawMessage) error {
			fn, err := p.function(r)
			if err != nil {
				if fn != nil && fn.Name != "" {
					return fmt.Errorf("%q: %w", fn.Name, err)
				}
				return err
			}
			gd.Functions = append(gd.Functions, fn)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("library.function: %w", err)
		}
	}
	if v := f["versions"]; present(v) {
		vf, err := objFields(v)
		if err != nil {
			return nil, fmt.Errorf("versions: %w", err)
		}
		for key, dst := range map[string]*int32{"producer": &gd.Producer, "minconsumer": &gd.MinConsumer} {
			if present(vf[key]) {
				x, err := jsonInt64(vf[key])
				if err != nil || x != int64(int32(x)) {
					return nil, fmt.Errorf("versions.%s: bad value %s", key, vf[key])
				}
				*dst = int32(x)
			}
		}
	}
	return gd, nil
}

// function decodes a FunctionDef of the graph's library.
func (p *jsonParser) function(raw json.RawMessage) (*FunctionDef, error) {
	f, err := objFields(raw)
	if err != nil {
		return nil, err
	}
	fn := &FunctionDef{Ret: map[string]string{}}
	if present(f["signature"]) {
		sf, err := objFields(f["signature"])
		if err != nil {
			return fn, fmt.Errorf("signature: %w", err)
		}
		if present(sf["name"]) {
			if fn.Name, err = jsonString(sf["name"]); err != nil {
				return fn, fmt.Errorf("signature.name: %w", err)
			}
		}
		for key, dst := range map[string]*[]FuncArg{"inputarg": &fn.Inputs, "outputarg": &fn.Outputs} {
			err := jsonArray(sf[key], func(r json.RawMessage) error {
				af, err := objFields(r)
				if err != nil {
					return err
				}
				var a FuncArg
				if present(af["name"]) {
					if a.Name, err = jsonString(af["name"]); err != nil {
						return fmt.Errorf("name: %w", err)
					}
				}
				if present(af["type"]) {
					if a.Type, err = jsonType(af["type"]); err != nil {
						return fmt.Errorf("type: %w", err)
					}
				}
				*dst = append(*dst, a)
				return nil
			})
			if err != nil {
				return fn, fmt.Errorf("signature.%s: %w", key, err)
			}
		}
	}
	var nodes []json.RawMessage
	if present(f["nodedef"]) {
		if err := json.Unmarshal(f["nodedef"], &nodes); err != nil {
			return fn, fmt.Errorf("nodeDef: %w", err)
		}
	}
	for i, r := range nodes {
		n, err := p.node(r)
		if err != nil {
			return fn, fmt.Errorf("nodeDef %d%s: %w", i, quoteName(n), err)
		}
		fn.Nodes = append(fn.Nodes, n)
	}
	if present(f["ret"]) {
		var ret map[string]string
		if err := json.Unmarshal(f["ret"], &ret); err != nil {
			return fn, fmt.Errorf("ret: %w", err)
		}
		for k, v := range ret {
			fn.Ret[k] = v
		}
	}
	return fn, nil
}

func (p *jsonParser) node(raw json.RawMessage) (*NodeDef, error) {
	f, err := objFields(raw)
	if err != nil {
		return nil, err
	}
	n := &NodeDef{Attrs: map[string]*AttrValue{}}
	for key, dst := range map[string]*string{"name": &n.Name, "op": &n.Op, "device": &n.Device} {
		if present(f[key]) {
			if *dst, err = jsonString(f[key]); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	err = jsonArray(f["input"], func(r json.RawMessage) error {
		s, err := jsonString(r)
		n.Inputs = append(n.Inputs, s)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("input: %w", err)
	}
	if present(f["attr"]) {
		var attrs map[string]json.RawMessage
		if err := json.Unmarshal(f["attr"], &attrs); err != nil {
			return n, fmt.Errorf("attr: %w", err)
		}
		for k, r := range attrs {
			p.values = false
			a, err := p.attr(r)
			if err != nil {
				return n, fmt.Errorf("attr %q: %w", k, err)
			}
			n.Attrs[k] = a
			if k == "value" && a.Kind == AttrTensor && p.values {
				p.inline[n.Name] = true
			}
		}
	}
	if n.Op == "Const" {
		if v := n.Attrs["value"]; v == nil || v.Kind != AttrTensor || v.Tensor == nil {
			return n, errors.New("Const has no tensor value attribute")
		}
	}
	return n, nil
}

func (p *jsonParser) attr(raw json.RawMessage) (*AttrValue, error) {
	f, err := objFields(raw)
	if err != nil {
		return nil, err
	}
	a := &AttrValue{}
	set := ""
	for _, key := range []string{"list", "s", "i", "f", "b", "type", "shape", "tensor", "func", "placeholder"} {
		r := f[key]
		if !present(r) {
			continue
		}
		if set != "" {
			return nil, fmt.Errorf("attribute value sets both %q and %q", set, key)
		}
		set = key
		switch key {
		case "list":
			a.Kind = AttrList
			a.List, err = p.list(r)
		case "s":
			a.Kind = AttrS
			a.S, err = jsonBytes(r)
		case "i":
			a.Kind = AttrI
			a.I, err = jsonInt64(r)
		case "f":
			a.Kind = AttrF
			var v float64
			v, err = jsonFloat(r)
			a.F = float32(v)
		case "b":
			a.Kind = AttrB
			a.B, err = jsonBool(r)
		case "type":
			a.Kind = AttrType
			a.Type, err = jsonType(r)
		case "shape":
			a.Kind = AttrShape
			a.Shape, err = p.shape(r)
		case "tensor":
			a.Kind = AttrTensor
			a.Tensor, err = p.tensor(r)
		case "func":
			a.Kind = AttrFunc
			a.Func, err = p.funcName(r)
		case "placeholder":
			a.Kind = AttrPlaceholder
			var s string
			s, err = jsonString(r)
			a.S = []byte(s)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return a, nil
}

func (p *jsonParser) funcName(raw json.RawMessage) (string, error) {
	f, err := objFields(raw)
	if err != nil || !present(f["name"]) {
		return "", err
	}
	return jsonString(f["name"])
}

func (p *jsonParser) list(raw json.RawMessage) (*AttrListValue, error) {
	f, err := objFields(raw)
	if err != nil {
		return nil, err
	}
	l := &AttrListValue{}
	for key, r := range f {
		switch key {
		case "s":
			err = jsonArray(r, func(r json.RawMessage) error {
				b, err := jsonBytes(r)
				l.S = append(l.S, b)
				return err
			})
		case "i":
			err = jsonArray(r, func(r json.RawMessage) error {
				v, err := jsonInt64(r)
				l.I = append(l.I, v)
				return err
			})
		case "f":
			err = jsonArray(r, func(r json.RawMessage) error {
				v, err := jsonFloat(r)
				l.F = append(l.F, float32(v))
				return err
			})
		case "b":
			err = jsonArray(r, func(r json.RawMessage) error {
				v, err := jsonBool(r)
				l.B = append(l.B, v)
				return err
			})
		case "type":
			err = jsonArray(r, func(r json.RawMessage) error {
				v, err := jsonType(r)
				l.Type = append(l.Type, v)
				return err
			})
		case "shape":
			err = jsonArray(r, func(r json.RawMessage) error {
				v, err := p.shape(r)
				l.Shape = append(l.Shape, v)
				return err
			})
		case "tensor":
			err = jsonArray(r, func(r json.RawMessage) error {
				v, err := p.tensor(r)
				l.Tensor = append(l.Tensor, v)
				return err
			})
		case "func":
			err = jsonArray(r, func(r json.RawMessage) error {
				v, err := p.funcName(r)
				l.Func = append(l.Func, v)
				return err
			})
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return l, nil
}

func (p *jsonParser) shape(raw json.RawMessage) (*TensorShape, error) {
	f, err := objFields(raw)
	if err != nil {
		return nil, err
	}
	s := &TensorShape{Dims: []int64{}}
	if present(f["unknownrank"]) {
		if s.UnknownRank, err = jsonBool(f["unknownrank"]); err != nil {
			return nil, fmt.Errorf("unknownRank: %w", err)
		}
	}
	err = jsonArray(f["dim"], func(r json.RawMessage) error {
		df, err := objFields(r)
		if err != nil {
			return err
		}
		var size int64 // absent means 0 in protobuf JSON
		if present(df["size"]) {
			if size, err = jsonInt64(df["size"]); err != nil {
				return fmt.Errorf("size: %w", err)
			}
		}
		s.Dims = append(s.Dims, size)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dim: %w", err)
	}
	return s, nil
}

// tensor decodes a TensorProto in JSON form; p.values records whether it
// held element values.
func (p *jsonParser) tensor(raw json.RawMessage) (*Tensor, error) {
	f, err := objFields(raw)
	if err != nil {
		return nil, err
	}
	var tf tensorFields
	if present(f["dtype"]) {
		if tf.dtype, err = jsonType(f["dtype"]); err != nil {
			return nil, fmt.Errorf("dtype: %w", err)
		}
	}
	if present(f["tensorshape"]) {
		if tf.shape, err = p.shape(f["tensorshape"]); err != nil {
			return nil, fmt.Errorf("tensorShape: %w", err)
		}
	}
	if present(f["tensorcontent"]) {
		if tf.content, err = jsonBytes(f["tensorcontent"]); err != nil {
			return nil, fmt.Errorf("tensorContent: %w", err)
		}
	}
	vals := []struct {
		key string
		num protowire.Number
	}{
		{"floatval", fTensorFloat}, {"doubleval", fTensorDouble}, {"intval", fTensorInt},
		{"int64val", fTensorInt64}, {"boolval", fTensorBool}, {"halfval", fTensorHalf},
		{"uint32val", fTensorUint32}, {"uint64val", fTensorUint64}, {"stringval", fTensorString},
	}
	for _, v := range vals {
		r := f[v.key]
		if !present(r) || string(r) == "[]" {
			continue
		}
		if tf.valField != 0 {
			return nil, fmt.Errorf("tensor has values in both field %d and field %d", tf.valField, v.num)
		}
		tf.valField = v.num
		err := jsonArray(r, func(r json.RawMessage) error {
			switch v.num {
			case fTensorFloat, fTensorDouble:
				x, err := jsonFloat(r)
				if v.num == fTensorFloat {
					tf.floats = append(tf.floats, float32(x))
				} else {
					tf.doubles = append(tf.doubles, x)
				}
				return err
			case fTensorBool:
				x, err := jsonBool(r)
				var i int64
				if x {
					i = 1
				}
				tf.ints = append(tf.ints, i)
				return err
			case fTensorString:
				b, err := jsonBytes(r)
				tf.strings = append(tf.strings, b)
				return err
			case fTensorUint64:
				s := strings.Trim(string(r), `"`)
				x, err := strconv.ParseUint(s, 10, 64)
				tf.ints = append(tf.ints, int64(x))
				return err
			}
			x, err := jsonInt64(r)
			tf.ints = append(tf.ints, x)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.key, err)
		}
	}
	p.values = len(tf.content) > 0 || tf.valField != 0
	return tf.build(p.pad)
}

// loadWeights reads the manifest's shards and puts every weight into the
// Const node of the same name.
func loadWeights(gd *GraphDef, manifest []jsonGroup, inline map[string]bool, fsys fs.FS, dir string, show func(string) string) error {
	type shard struct {
		name       string
		start, end int
	}
	var data []byte
	var shards []shard
	for _, g := range manifest {
		for _, p := range g.Paths {
			name := path.Join(dir, p)
			if path.IsAbs(p) || !fs.ValidPath(path.Clean(p)) || !fs.ValidPath(name) {
				return fmt.Errorf("weight shard path %q leaves the model's directory", p)
			}
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				return fmt.Errorf("weight shard %s: %w", show(name), err)
			}
			shards = append(shards, shard{name, len(data), len(data) + len(b)})
			data = append(data, b...)
		}
	}
	// The TF.js converter names the weights of a library function's
	// constants after the nodes, which it renames "function/node".
	consts := map[string][]*NodeDef{}
	all := gd.Nodes
	for _, fn := range gd.Functions {
		all = append(all[:len(all):len(all)], fn.Nodes...)
	}
	for _, n := range all {
		if n.Op == "Const" {
			consts[n.Name] = append(consts[n.Name], n)
		}
	}
	loaded := map[string]bool{}
	off := 0
	for _, g := range manifest {
		for _, w := range g.Weights {
			t, size, err := decodeWeight(w, data[min(off, len(data)):])
			if err != nil {
				var short *shortError
				if errors.As(err, &short) {
					where := "the manifest lists no shards"
					if len(shards) > 0 {
						last := shards[len(shards)-1]
						for _, s := range shards {
							if off+short.need <= s.end {
								break
							}
							if off < s.end {
								last = s
							}
						}
						where = fmt.Sprintf("weight shard %s (%d bytes) is truncated", show(last.name), last.end-last.start)
					}
					return fmt.Errorf("weight %q needs bytes %d to %d of the weight data, which has only %d: %s", w.Name, off, off+short.need, len(data), where)
				}
				return fmt.Errorf("weight %q: %w", w.Name, err)
			}
			off += size
			// TF.js ignores weights no node uses, and so do we.
			for _, n := range consts[w.Name] {
				n.Attrs["value"] = &AttrValue{Kind: AttrTensor, Tensor: t}
				n.Attrs["dtype"] = &AttrValue{Kind: AttrType, Type: t.DType}
				loaded[w.Name] = true
			}
		}
	}
	for _, n := range all {
		if n.Op != "Const" || loaded[n.Name] || inline[n.Name] {
			continue
		}
		if k, _ := numElements(n.Attrs["value"].Tensor.Shape); k > 0 {
			return fmt.Errorf("Const %q has no weights in the manifest and no values of its own", n.Name)
		}
	}
	return nil
}

// shortError reports weight data that ends before a weight does.
type shortError struct{ need int }

func (e *shortError) Error() string {
	return fmt.Sprintf("weight data too short: need %d bytes", e.need)
}

// decodeWeight decodes one manifest entry from the front of b and returns
// the tensor and the number of bytes it took.
func decodeWeight(w jsonWeight, b []byte) (*Tensor, int, error) {
	n, err := numElements(w.Shape)
	if err != nil {
		return nil, 0, err
	}
	shape := append([]int64{}, w.Shape...)
	var dt DataType
	switch w.DType {
	case "float32":
		dt = DTFloat
	case "int32":
		dt = DTInt32
	case "bool":
		dt = DTBool
	default:
		return nil, 0, fmt.Errorf("weight dtype %q is not supported", w.DType)
	}
	t := &Tensor{DType: dt, Shape: shape}
	le := binary.LittleEndian
	if q := w.Quantization; q != nil {
		var size int
		switch q.DType {
		case "uint8":
			size = 1
		case "uint16", "float16":
			size = 2
		default:
			return nil, 0, fmt.Errorf("quantization dtype %q is not supported", q.DType)
		}
		if len(b) < n*size {
			return nil, 0, &shortError{n * size}
		}
		if q.DType == "float16" {
			if dt != DTFloat {
				return nil, 0, fmt.Errorf("float16 quantization of a %s weight", w.DType)
			}
			t.Floats = make([]float32, n)
			for i := range t.Floats {
				t.Floats[i] = halfToFloat(le.Uint16(b[2*i:]))
			}
			return t, n * size, nil
		}
		if q.Min == nil || q.Scale == nil {
			return nil, 0, fmt.Errorf("%s quantization without min and scale", q.DType)
		}
		if dt == DTBool {
			return nil, 0, fmt.Errorf("%s quantization of a bool weight", q.DType)
		}
		lo, scale := *q.Min, *q.Scale
		get := func(i int) float64 {
			if size == 1 {
				return float64(b[i])
			}
			return float64(le.Uint16(b[2*i:]))
		}
		if dt == DTFloat {
			// As TF.js: the product and sum in float64, rounded once.
			t.Floats = make([]float32, n)
			for i := range t.Floats {
				t.Floats[i] = float32(get(i)*scale + lo)
			}
		} else {
			t.Ints = make([]int64, n)
			for i := range t.Ints {
				t.Ints[i] = int64(int32(math.Floor(get(i)*scale + lo + 0.5)))
			}
		}
		return t, n * size, nil
	}
	size := 4
	if dt == DTBool {
		size = 1
	}
	if len(b) < n*size {
		return nil, 0, &shortError{n * size}
	}
	switch dt {
	case DTFloat:
		t.Floats = make([]float32, n)
		for i := range t.Floats {
			t.Floats[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case DTInt32:
		t.Ints = make([]int64, n)
		for i := range t.Ints {
			t.Ints[i] = int64(int32(le.Uint32(b[4*i:])))
		}
	case DTBool:
		t.Ints = make([]int64, n)
		for i := range t.Ints {
			if b[i] != 0 {
				t.Ints[i] = 1
			}
		}
	}
	return t, n * size, nil
}
