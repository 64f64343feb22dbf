package fixed_test

import (
	"testing"

	"veil/mpc/mpctest"
)

// TestConformance runs the backend suite on the oracle with every
// composite lowered: the lowerings against the oracle's own composites.
func TestConformance(t *testing.T) {
	mpctest.Conformance(t, mpctest.Oracle())
}
