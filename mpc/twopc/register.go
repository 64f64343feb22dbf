package twopc

import (
	"fmt"
	"strconv"

	"veil/mpc"
)

// BackendName is the name the two-party backend registers under (see
// mpc.Register).
const BackendName = "2pc"

func init() {
	mpc.Register(mpc.Backend{
		Name:    BackendName,
		Parties: 2,
		Summary: "client and server only: linear layers by RLWE (mpc/he), comparisons and products by OT (mpc/ot); semi-honest",
		// The OT pools of an offline window (up to 2^22 OTs a direction
		// with their hashes), a layer's query and response ciphertexts
		// (hundreds of 512 KiB each on ResNet-50) and the kept weight
		// transforms (kernelCacheBytes).
		WorkingSet: 1 << 30,
		// Measured on LeNet through two processes: 157 ms at Go's
		// default, 129 ms at 200, 118 ms at 400 (peak 103, 143 and
		// 225 MiB).
		GCPercent: 400,
		Options: map[string]string{
			"magnitude": "bits of the magnitude bound |x| < 2^k every comparison may assume (8…62, default 62)",
			"ot-k":      "SoftSpoken's parameter k of the OT extension: 1 (IKNP, 128 bits per OT), 2, 4 (the default, 32 bits per OT) or 8; both parties must agree",
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
// "magnitude" and "ot-k").
func ParseOptions(o mpc.Options) (Options, error) {
	var opt Options
	b, err := mpc.Lookup(BackendName)
	if err != nil {
		return opt, err
	}
	if err := o.Check(b); err != nil {
		return opt, err
	}
	if s, ok := o["magnitude"]; ok {
		if opt.MagnitudeBits, err = strconv.Atoi(s); err != nil || opt.MagnitudeBits < 8 || opt.MagnitudeBits > 62 {
			return opt, fmt.Errorf("2pc: option magnitude=%q: want a number of bits from 8 to 62", s)
		}
	}
	if s, ok := o["ot-k"]; ok {
		if opt.OTK, err = strconv.Atoi(s); err != nil || (opt.OTK != 1 && opt.OTK != 2 && opt.OTK != 4 && opt.OTK != 8) {
			return opt, fmt.Errorf("2pc: option ot-k=%q: want 1, 2, 4 or 8", s)
		}
	}
	return opt, nil
}
