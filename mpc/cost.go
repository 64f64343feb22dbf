package mpc

import (
	"fmt"
	"strings"
	"time"
)

// OpCost is one party's cost of one kind of operation: a protocol
// function called directly, or a program instruction.
type OpCost struct {
	Op     string
	Calls  int
	Elems  int64   // elements processed (outputs), summed over calls
	Rounds int     // communication rounds
	Sent   []int64 // payload bytes this party sent, by peer
	Msgs   int64   // messages this party sent
	Time   time.Duration
	// Offline marks work done ahead of the input (such as 2PC's
	// precomputed OTs), reported apart from the online phase.
	Offline bool
}

// TotalSent is the payload this party sent for the operation.
func (c OpCost) TotalSent() int64 { return sum(c.Sent) }

// Cost is one party's account of a session's protocol: payload bytes
// (framing excluded), messages and rounds, in total and by operation in
// order of first use.
type Cost struct {
	Party  Party
	Rounds int
	Sent   []int64 // payload bytes sent, by peer
	Recv   []int64 // payload bytes received, by peer
	Msgs   int64   // messages sent
	Ops    []OpCost
}

// TotalSent is the payload this party sent.
func (c Cost) TotalSent() int64 { return sum(c.Sent) }

// Offline returns the payload this party sent and the time it spent in
// the operations done ahead of the input (OpCost.Offline).
func (c Cost) Offline() (sent int64, d time.Duration) {
	for _, o := range c.Ops {
		if o.Offline {
			sent += o.TotalSent()
			d += o.Time
		}
	}
	return sent, d
}

// TotalRecv is the payload this party received.
func (c Cost) TotalRecv() int64 { return sum(c.Recv) }

// String formats the per-operation table.
func (c Cost) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d rounds, sent %d B, received %d B, %d messages\n", c.Party, c.Rounds, c.TotalSent(), c.TotalRecv(), c.Msgs)
	for _, o := range c.Ops {
		fmt.Fprintf(&b, "  %-12s calls %4d  elems %8d  rounds %4d  sent %10d B  %v\n", o.Op, o.Calls, o.Elems, o.Rounds, o.TotalSent(), o.Time.Round(time.Microsecond))
	}
	return b.String()
}

func sum(v []int64) int64 {
	var s int64
	for _, x := range v {
		s += x
	}
	return s
}
