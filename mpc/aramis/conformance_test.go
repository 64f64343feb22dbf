package aramis

import (
	"testing"

	"veil/mpc"
	"veil/mpc/mpctest"
	_ "veil/mpc/porthos" // the 3pc backend
)

// TestConformance runs the backend suite on Porthos under Aramis: every
// message authenticated, numbered and chained, transcripts checked before
// each output, with simulated attestation.
func TestConformance(t *testing.T) {
	ats, pol := testAttesters(t)
	cfgs := configs(simulated(ats), pol)
	wrap := func(p mpc.Party, net mpc.Network) (mpc.Network, error) { return Secure(net, cfgs[p]) }
	mpctest.Conformance(t, mpctest.MPC("3pc", nil, wrap))
}
