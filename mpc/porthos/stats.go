package porthos

import "veil/mpc"

// Cost reports this party's traffic so far: payload bytes, messages and
// rounds, in total and by operation (the protocol function called
// directly, or the program instruction for Run) in order of first use.
func (e *Engine) Cost() mpc.Cost {
	st := mpc.Cost{Party: e.me, Rounds: e.rounds, Sent: e.sent[:], Recv: e.recvd[:], Msgs: e.msgs}
	st.Sent, st.Recv = append([]int64(nil), st.Sent...), append([]int64(nil), st.Recv...)
	for _, op := range e.acct.order {
		o := *e.acct.ops[op]
		o.Sent = append([]int64(nil), o.Sent...)
		st.Ops = append(st.Ops, o)
	}
	return st
}
