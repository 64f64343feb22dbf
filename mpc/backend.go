package mpc

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"veil/fixed"
)

// An Engine is one party's executor of a secure backend in one session:
// it runs compiled programs one after another over the session's network.
// The input owner (P0) passes the encoded program inputs and receives the
// outputs; the weight owner (P1) holds the program with its weights; every
// other party holds the public program (fixed.Program.Public) and passes
// no inputs. Every party of the session calls Run with the same program,
// in the same order.
type Engine interface {
	// Run executes prog once and returns the outputs this party learns
	// (P0's; nil at the others). An error aborts the session: the peers
	// are told and nothing is released.
	Run(ctx context.Context, prog *fixed.Program, inputs ...[]uint64) ([][]uint64, error)
	// Abort stops the session after err and tells the peers; it returns
	// err.
	Abort(err error) error
	// Cost reports this party's protocol traffic and rounds so far.
	Cost() Cost
}

// A Planner is an Engine that can prepare ahead for the runs of a
// session: Plan(n) says that the next n runs are of one program, so the
// engine may make the input-independent work of several of them (an
// offline phase) at once. Every party of the session calls Plan with the
// same n before those runs; a run of another program ends the plan.
type Planner interface {
	Plan(n int)
}

// A Backend is a secure backend that sessions can pick by name.
type Backend struct {
	// Name is how sessions, configuration files and the command line
	// name the backend ("3pc").
	Name string
	// Parties is the number of parties it runs between: P0 (input owner,
	// output receiver), P1 (weight owner) and helpers P2….
	Parties int
	// Summary is one line for listings.
	Summary string
	// Options lists the option keys New accepts, each with a one-line
	// description.
	Options map[string]string
	// WorkingSet is the memory one party's process is expected to need
	// besides the server's weights: activations and the protocol's
	// temporaries, pools and caches. Zero means 192 MiB.
	WorkingSet int64
	// GCPercent is the garbage collector's target (GOGC) for its party
	// processes, which the soft memory limit (WorkingSet plus the
	// weights) caps: above Go's default of 100 for a backend that
	// allocates fast and keeps little. Zero leaves the default.
	GCPercent int
	// New starts one party's engine over net with the given options
	// (keys from Options; unknown keys are an error). The parties of a
	// session call it at the same time, with the same options.
	New func(net Network, opt Options) (Engine, error)
}

// Options are a backend's settings as key/value pairs (such as
// "compare": "fast"): a value that travels with the session, so that two
// sessions in one process may differ. Every party of a session must use
// the same options.
type Options map[string]string

// Check returns an error naming the first key of o that b does not
// accept.
func (o Options) Check(b *Backend) error {
	for _, k := range slices.Sorted(maps.Keys(o)) {
		if _, ok := b.Options[k]; !ok {
			known := slices.Sorted(maps.Keys(b.Options))
			return fmt.Errorf("backend %s has no option %q (its options: %s)", b.Name, k, strings.Join(known, ", "))
		}
	}
	return nil
}

var (
	registryMu sync.RWMutex
	registry   = map[string]*Backend{}
)

// Register makes a backend available by name. Backend packages call it
// from init; registering a name twice panics.
func Register(b Backend) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if b.Name == "" || b.New == nil || b.Parties < 2 || b.Parties > MaxParties {
		panic(fmt.Sprintf("mpc: invalid backend registration %q", b.Name))
	}
	if _, dup := registry[b.Name]; dup {
		panic("mpc: backend " + b.Name + " registered twice")
	}
	registry[b.Name] = &b
}

// Lookup returns the backend registered under name.
func Lookup(name string) (*Backend, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	if b, ok := registry[name]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("unknown secure backend %q (available: %s)", name, strings.Join(backendNames(), ", "))
}

// Backends lists the registered backends' names, sorted.
func Backends() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return backendNames()
}

func backendNames() []string { return slices.Sorted(maps.Keys(registry)) }
