package twopc_test

import (
	"testing"

	"veil/mpc/mpctest"
	"veil/mpc/twopc"
)

// TestConformance runs the backend conformance suite on the two-party
// backend.
func TestConformance(t *testing.T) {
	mpctest.Conformance(t, mpctest.MPC(twopc.BackendName, nil, nil))
}
