package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"veil/fixed"
	"veil/mpc"
	"veil/mpc/transport"
)

// DefaultTimeout is the silence after which a peer counts as stalled in
// the configurations this package writes: below ten seconds, so that a
// stalled party is reported within ten seconds of its last message.
const DefaultTimeout = 8 * time.Second

// WriteLoopbackConfig writes dir/parties.json for the first n parties'
// identities in dir (see transport.GenerateIdentity): the client, the
// server and, for n = 3, the helper, every party but the client listening
// on a free loopback port. It returns the file's path.
func WriteLoopbackConfig(dir string, n int, timeout time.Duration) (string, error) {
	if n < 2 || n > mpc.MaxParties {
		return "", fmt.Errorf("session: %d parties; a deployment has 2 or 3", n)
	}
	addrs := make([]string, n)
	for _, p := range mpc.PartiesOf(n)[1:] {
		port, err := freePort()
		if err != nil {
			return "", err
		}
		addrs[p] = fmt.Sprintf("127.0.0.1:%d", port)
	}
	return writeConfig(dir, addrs, timeout, false)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Result is what a loopback run returns.
type Result struct {
	Program *fixed.Program // the public program the client received
	Outputs [][]float64    // the client's decoded first output, one per input
	// AllOutputs holds every output of each inference, decoded.
	AllOutputs [][][]float64
	Reports    []*Report // one per party
	// Wall is the whole run's time: keys, connections and every
	// inference.
	Wall time.Duration
	// Malicious says that the parties ran under Aramis
	// (RunLoopbackAramis).
	Malicious bool
}

// RunLoopback runs the backend's parties in this process, each with its own
// TLS connections to the others over 127.0.0.1 (fresh keys in a temporary
// directory), and every input through the secure protocol. prog is the
// server's full program.
func RunLoopback(ctx context.Context, prog *fixed.Program, inputs [][]float32, timeout time.Duration) (*Result, error) {
	return RunLoopbackWith(ctx, prog, inputs, LoopbackOptions{Timeout: timeout})
}

// LoopbackOptions are the settings of RunLoopbackWith.
type LoopbackOptions struct {
	// Timeout is the parties' stall timeout.
	Timeout time.Duration
	// Wrap, if set, turns each party's connected network into the one the
	// session runs over (for example mpc/aramis.Secure, for malicious
	// security); the session closes what it returns.
	Wrap func(p mpc.Party, nw mpc.Network) (mpc.Network, error)
	// Session are the options of the session every party runs.
	Session Options
}

// RunLoopbackWith is RunLoopback with options.
func RunLoopbackWith(ctx context.Context, prog *fixed.Program, inputs [][]float32, opts LoopbackOptions) (*Result, error) {
	start := time.Now()
	timeout := opts.Timeout
	b, err := opts.Session.backend()
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	dir, err := os.MkdirTemp("", "veil-loopback-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	parties := mpc.PartiesOf(b.Parties)
	for _, p := range parties {
		if err := transport.GenerateIdentity(p, dir); err != nil {
			return nil, err
		}
	}
	path, err := WriteLoopbackConfig(dir, b.Parties, timeout)
	if err != nil {
		return nil, err
	}
	cfg, err := transport.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := &Result{Reports: make([]*Report, b.Parties)}
	errs := make([]error, b.Parties)
	var wg sync.WaitGroup
	for _, p := range parties {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = runParty(ctx, cfg, p, prog, inputs, res, opts)
			if errs[p] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	res.Wall = time.Since(start)
	return res, nil
}

func runParty(ctx context.Context, cfg *transport.Config, p mpc.Party, prog *fixed.Program, inputs [][]float32, res *Result, opts LoopbackOptions) error {
	id, err := cfg.Identity(p, "")
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	tn, err := transport.Connect(cctx, cfg, p, id)
	cancel()
	if err != nil {
		return err
	}
	var nw mpc.Network = tn
	if opts.Wrap != nil {
		if nw, err = opts.Wrap(p, tn); err != nil {
			tn.Close()
			return err
		}
	}
	defer nw.Close()
	switch p {
	case mpc.P0:
		q, outs, rep, err := Client(ctx, nw, opts.Session, func(*fixed.Program) ([][]float32, error) { return inputs, nil })
		if err != nil {
			return err
		}
		res.Program, res.AllOutputs, res.Reports[p] = q, outs, rep
		res.Outputs = make([][]float64, len(outs))
		for i, o := range outs {
			res.Outputs[i] = o[0]
		}
	case mpc.P1:
		rep, err := Server(ctx, nw, prog, opts.Session)
		if err != nil {
			return err
		}
		res.Reports[p] = rep
	default:
		rep, err := Helper(ctx, nw, opts.Session)
		if err != nil {
			return err
		}
		res.Reports[p] = rep
	}
	return nil
}
