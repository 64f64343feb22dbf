package main

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"veil/mpc/aramis"
)

// maliciousFlags select Aramis's malicious security for the commands that
// run all the parties themselves (demo, eval, bench, keygen --loopback).
type maliciousFlags struct {
	on          bool
	insecureSim bool
}

func (f *maliciousFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.on, "malicious", false, "malicious security (Aramis): every party's evidence is attested and every message authenticated, numbered and chained; a party that deviates makes the others stop")
	fs.BoolVar(&f.insecureSim, "insecure-simulated-attestation", false, "with --malicious on a machine without SEV-SNP or TDX: let a software key sign the parties' evidence. INSECURE: it proves nothing about the code the parties run; for tests and demos only")
}

// loopback checks that the parties of this machine may run under Aramis
// with simulated attestation (aramis.CheckLoopback: only with the
// insecure flag) and then prints the warning to w.
func (f *maliciousFlags) loopback(w io.Writer) error {
	if err := aramis.CheckLoopback(f.insecureSim); err != nil {
		return err
	}
	fmt.Fprintln(w, aramis.SimulatedWarning)
	return nil
}
