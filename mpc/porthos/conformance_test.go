package porthos_test

import (
	"testing"

	"veil/mpc"
	"veil/mpc/mpctest"
	_ "veil/mpc/porthos"
)

// TestConformance runs the backend suite on Porthos with both comparison
// protocols, fused and lowered.
func TestConformance(t *testing.T) {
	for _, opt := range []mpc.Options{
		{"compare": "fast"},
		{"compare": "porthos"},
		{"compare": "fast", "lower": "true"},
	} {
		r := mpctest.MPC("3pc", opt, nil)
		t.Run(r.Name, func(t *testing.T) { mpctest.Conformance(t, r) })
	}
}
