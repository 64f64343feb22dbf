package tf

import "fmt"

// Attribute accessors. Each returns def when the attribute is absent and
// an error when it has the wrong kind.

func attrString(n *NodeDef, key, def string) (string, error) {
	a := n.attr(key)
	if a == nil || a.Kind == AttrNone {
		return def, nil
	}
	if a.Kind != AttrS {
		return "", fmt.Errorf("attribute %s is not a string", key)
	}
	return string(a.S), nil
}

func attrInt(n *NodeDef, key string, def int64) (int64, error) {
	a := n.attr(key)
	if a == nil || a.Kind == AttrNone {
		return def, nil
	}
	if a.Kind != AttrI {
		return 0, fmt.Errorf("attribute %s is not an integer", key)
	}
	return a.I, nil
}

func attrFloat(n *NodeDef, key string, def float32) (float32, error) {
	a := n.attr(key)
	if a == nil || a.Kind == AttrNone {
		return def, nil
	}
	if a.Kind != AttrF {
		return 0, fmt.Errorf("attribute %s is not a float", key)
	}
	return a.F, nil
}

func attrBool(n *NodeDef, key string, def bool) (bool, error) {
	a := n.attr(key)
	if a == nil || a.Kind == AttrNone {
		return def, nil
	}
	if a.Kind != AttrB {
		return false, fmt.Errorf("attribute %s is not a bool", key)
	}
	return a.B, nil
}

func attrInts(n *NodeDef, key string, def []int64) ([]int64, error) {
	a := n.attr(key)
	if a == nil || a.Kind == AttrNone {
		return def, nil
	}
	if a.Kind != AttrList {
		return nil, fmt.Errorf("attribute %s is not a list", key)
	}
	if a.List == nil {
		return nil, nil
	}
	return a.List.I, nil
}

func attrStrings(n *NodeDef, key string) ([]string, error) {
	a := n.attr(key)
	if a == nil || a.Kind == AttrNone {
		return nil, nil
	}
	if a.Kind != AttrList {
		return nil, fmt.Errorf("attribute %s is not a list", key)
	}
	var out []string
	if a.List != nil {
		for _, s := range a.List.S {
			out = append(out, string(s))
		}
	}
	return out, nil
}

// checkNHWC rejects any data_format other than NHWC.
func checkNHWC(n *NodeDef) error {
	f, err := attrString(n, "data_format", "NHWC")
	if err != nil {
		return err
	}
	if f != "NHWC" {
		return fmt.Errorf("data_format %q is not supported (only NHWC)", f)
	}
	return nil
}
