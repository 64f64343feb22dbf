package porthos

import "veil/mpc"

// ScaleDown divides shared values by 2^s locally: mpc.TruncateShare on
// the shares of P0 and P1 (P2 holds none). The result is ⌊x/2^s⌋ or one
// more, barring a failure of probability |x|/2^64 per element with x0
// uniform, as it is after every Beaver product and after Share.
//
// Cost: 0 bits, 0 rounds. Security: no message is sent.
func (e *Engine) ScaleDown(x []uint64, s int) []uint64 {
	return mpc.TruncateShare(e.me, x, s)
}
