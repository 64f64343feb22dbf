package porthos

import (
	"fmt"
	"strconv"
	"veil/fixed"

	"veil/mpc"
)

// BackendName is the name Porthos registers under (see mpc.Register).
const BackendName = "3pc"

func init() {
	mpc.Register(mpc.Backend{
		Name:    BackendName,
		Parties: 3,
		Summary: "Porthos: client, server and helper; semi-honest, malicious with mpc/aramis",
		Options: map[string]string{
			"compare":   "comparison protocol: fast (default, bit-sliced carry circuit) or porthos (the paper's)",
			"lower":     "true runs Relu, MaxPool and ArgMax as their lowering onto primitives instead of the fused protocols",
			"magnitude": "bits of the magnitude bound |x| < 2^k the fast comparison may assume (8…62; default the program's traced bound; 62 runs the full circuit)",
		},
		New: func(net mpc.Network, o mpc.Options) (mpc.Engine, error) {
			opt, err := ParseOptions(o)
			if err != nil {
				return nil, err
			}
			e, err := New(net, opt)
			if err != nil { // not a typed nil in the interface
				return nil, err
			}
			return e, nil
		},
	})
}

// ParseOptions reads Options from a session's backend options (keys
// "compare", "lower" and "magnitude").
func ParseOptions(o mpc.Options) (Options, error) {
	var opt Options
	b, err := mpc.Lookup(BackendName)
	if err != nil {
		return opt, err
	}
	if err := o.Check(b); err != nil {
		return opt, err
	}
	if s, ok := o["compare"]; ok {
		if opt.Compare, err = ParseCompare(s); err != nil {
			return opt, err
		}
	}
	if s, ok := o["lower"]; ok {
		if opt.Lower, err = strconv.ParseBool(s); err != nil {
			return opt, fmt.Errorf("porthos: option lower=%q: want true or false", s)
		}
	}
	if s, ok := o["magnitude"]; ok {
		if opt.MagnitudeBits, err = strconv.Atoi(s); err != nil || opt.MagnitudeBits < fixed.MinCompareBits || opt.MagnitudeBits > fixed.MaxCompareBits {
			return opt, fmt.Errorf("porthos: option magnitude=%q: want a number of bits from %d to %d", s, fixed.MinCompareBits, fixed.MaxCompareBits)
		}
	}
	return opt, nil
}
