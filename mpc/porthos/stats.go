package porthos

import (
	"fmt"
	"strings"
	"time"

	"veil/mpc"
)

// OpStats is one party's cost of one kind of operation: the protocol
// function called directly, or the program instruction for Run.
type OpStats struct {
	Op     string
	Calls  int
	Elems  int64    // elements processed (outputs), summed over calls
	Rounds int      // communication rounds
	Sent   [3]int64 // payload bytes this party sent, by peer
	Msgs   int64    // messages this party sent
	Time   time.Duration
}

// TotalSent is the payload this party sent for the operation.
func (s OpStats) TotalSent() int64 { return s.Sent[0] + s.Sent[1] + s.Sent[2] }

// Stats is one party's account of a session: payload bytes (framing
// excluded), messages and rounds, in total and by operation in order of
// first use.
type Stats struct {
	Party  mpc.Party
	Rounds int
	Sent   [3]int64 // payload bytes sent, by peer
	Recv   [3]int64 // payload bytes received, by peer
	Msgs   int64    // messages sent
	Ops    []OpStats
}

// TotalSent is the payload this party sent.
func (s Stats) TotalSent() int64 { return s.Sent[0] + s.Sent[1] + s.Sent[2] }

// TotalRecv is the payload this party received.
func (s Stats) TotalRecv() int64 { return s.Recv[0] + s.Recv[1] + s.Recv[2] }

// Stats reports this party's traffic so far.
func (e *Engine) Stats() Stats {
	st := Stats{Party: e.me, Rounds: e.rounds, Sent: e.sent, Recv: e.recvd, Msgs: e.msgs}
	for _, op := range e.acct.order {
		st.Ops = append(st.Ops, *e.acct.ops[op])
	}
	return st
}

// String formats the per-operation table.
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d rounds, sent %d B, received %d B, %d messages\n", s.Party, s.Rounds, s.TotalSent(), s.TotalRecv(), s.Msgs)
	for _, o := range s.Ops {
		fmt.Fprintf(&b, "  %-12s calls %4d  elems %8d  rounds %4d  sent %10d B  %v\n", o.Op, o.Calls, o.Elems, o.Rounds, o.TotalSent(), o.Time.Round(time.Microsecond))
	}
	return b.String()
}
