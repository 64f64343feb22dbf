package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"veil/internal/keyfile"
	"veil/mpc"
	"veil/mpc/aramis"
	"veil/mpc/session"
	"veil/mpc/transport"
)

func keygenCmd() *cobra.Command {
	var (
		dir      string
		roles    []string
		loopback bool
		parties  int
		mf       maliciousFlags
	)
	cmd := &cobra.Command{
		Use:   "keygen --dir DIR [--role client|server|helper]...",
		Short: "Create a party's TLS identity (Ed25519 key and self-signed certificate)",
		Long: `keygen writes DIR/<role>.key (private, mode 0600) and DIR/<role>.crt for each
role (all of --parties by default: client and server, and the helper for
three), creating DIR with mode 0700 if missing.
Certificates go to the other parties, whose configuration file pins them;
keys never leave their party. Existing files (or symbolic links in their
place) are never overwritten.

With --loopback it also writes DIR/parties.json, a configuration for running
the parties on this machine (all but the client on free 127.0.0.1 ports), as
used by: veil party --config DIR/parties.json --role ...

With --loopback --malicious --insecure-simulated-attestation, parties.json
also gets an "attestation" section for veil party --malicious: a simulated
platform key per party (DIR/<role>.platform.pem) and a policy that accepts
exactly those keys and this veil binary's measurement. Simulated evidence
proves nothing about the code a party runs; on SEV-SNP or TDX machines write
the policy with your build's measurements instead (mpc/aramis.Settings).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := keyfile.MkdirPrivate(dir); err != nil {
				return err
			}
			if parties < 2 || parties > mpc.MaxParties {
				return fmt.Errorf("--parties %d: a deployment has 2 or 3 parties", parties)
			}
			ps := mpc.PartiesOf(parties)
			if len(roles) > 0 {
				ps = nil
				for _, r := range roles {
					p, err := mpc.ParseRole(r)
					if err != nil {
						return err
					}
					if int(p) >= parties {
						return fmt.Errorf("--role %s: a %d-party deployment has roles client, server", r, parties)
					}
					ps = append(ps, p)
				}
			}
			w := cmd.OutOrStdout()
			for _, p := range ps {
				if err := transport.GenerateIdentity(p, dir); err != nil {
					return err
				}
				fmt.Fprintf(w, "%s: wrote %s and %s\n", p, transport.KeyFile(p, dir), transport.CertFile(p, dir))
			}
			if loopback {
				path, err := session.WriteLoopbackConfig(dir, parties, session.DefaultTimeout)
				if err != nil {
					return err
				}
				if mf.on {
					if err := mf.loopback(w); err != nil {
						return err
					}
					section, err := aramis.WriteSimulated(dir, parties)
					if err != nil {
						return err
					}
					if err := aramis.AddSection(path, section); err != nil {
						return err
					}
				}
				fmt.Fprintf(w, "wrote %s\n", path)
			} else if mf.on {
				return fmt.Errorf("--malicious needs --loopback (it writes the attestation section of DIR/parties.json)")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "keys", "directory for the key and certificate files")
	cmd.Flags().StringSliceVar(&roles, "role", nil, "roles to create (default: every party of --parties)")
	cmd.Flags().IntVar(&parties, "parties", 3, "parties of the deployment: 3 (client, server, helper) or 2 (client, server)")
	cmd.Flags().BoolVar(&loopback, "loopback", false, "also write DIR/parties.json for the parties on this machine")
	mf.register(cmd.Flags())
	return cmd
}
