package aramis

import (
	"testing"

	"veil/mpc"
	"veil/mpc/mpctest"
	_ "veil/mpc/porthos" // the 3pc backend
	_ "veil/mpc/twopc"   // the 2pc backend
)

// TestConformance runs the backend suite on Porthos (three parties) and
// on 2PC (two) under Aramis: every message authenticated, numbered and
// chained, transcripts checked before each output, with simulated
// attestation.
func TestConformance(t *testing.T) {
	for _, name := range []string{"3pc", "2pc"} {
		t.Run(name, func(t *testing.T) {
			b, err := mpc.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			ats, pol := testAttesters(t, b.Parties)
			cfgs := configs(simulated(ats), pol)
			wrap := func(p mpc.Party, net mpc.Network) (mpc.Network, error) { return Secure(net, cfgs[p]) }
			mpctest.Conformance(t, mpctest.MPC(name, nil, wrap))
		})
	}
}
