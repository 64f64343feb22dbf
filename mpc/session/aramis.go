package session

import (
	"context"
	"fmt"
	"os"

	"veil/fixed"
	"veil/mpc"
	"veil/mpc/aramis"
)

// RunLoopbackAramis is RunLoopbackWith with every party under Aramis
// (malicious security, mpc/aramis): simulated attestation, with platform
// keys written for this run to a temporary directory and a policy that
// accepts exactly them and this executable (aramis.WriteSimulated), each
// party committing to its input by the one rule of Commitment. A Wrap in
// opts stands between a party's network and its Aramis layer, as the
// party's host does.
//
// Simulated evidence proves nothing about the code the parties run: run
// this only on the user's explicit word (aramis.CheckLoopback), for tests
// and demos.
func RunLoopbackAramis(ctx context.Context, prog *fixed.Program, inputs [][]float32, opts LoopbackOptions) (*Result, error) {
	b, err := opts.Session.backend()
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	commitments := make([][]byte, b.Parties)
	for _, p := range mpc.PartiesOf(b.Parties) {
		if commitments[p], err = Commitment(p, prog, inputs); err != nil {
			return nil, fmt.Errorf("session: %s's commitment: %w", p, err)
		}
	}
	dir, err := os.MkdirTemp("", "veil-aramis-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	raw, err := aramis.WriteSimulated(dir, b.Parties)
	if err != nil {
		return nil, err
	}
	settings, err := aramis.ParseSettings(raw, dir)
	if err != nil {
		return nil, err
	}
	host := opts.Wrap
	opts.Wrap = func(p mpc.Party, nw mpc.Network) (mpc.Network, error) {
		if host != nil {
			var err error
			if nw, err = host(p, nw); err != nil {
				return nil, err
			}
		}
		return settings.Secure(nw, p, commitments[p], opts.Timeout)
	}
	res, err := RunLoopbackWith(ctx, prog, inputs, opts)
	if err != nil {
		return nil, err
	}
	res.Malicious = true
	return res, nil
}
