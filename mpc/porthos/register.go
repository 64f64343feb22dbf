package porthos

import (
	"fmt"
	"strconv"

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
			"compare": "comparison protocol: fast (default, bit-sliced carry circuit) or porthos (the paper's)",
			"lower":   "true runs Relu, MaxPool and ArgMax as their lowering onto primitives instead of the fused protocols",
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
// "compare" and "lower").
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
	return opt, nil
}
