package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"veil/internal/keyfile"
	"veil/mpc"
	"veil/mpc/aramis"
	"veil/mpc/session"
	"veil/mpc/transport"
)

// defaultPortBase is the base of --host's default ports: a listening
// party named without a port listens on defaultPortBase plus its index,
// the server on 7101 and the helper on 7102. They lie below Linux's
// ephemeral range (32768–60999), from which outgoing connections draw
// their local ports.
const defaultPortBase = 7100

func keygenCmd() *cobra.Command {
	var (
		dir      string
		roles    []string
		hosts    []string
		loopback bool
		parties  int
		mf       maliciousFlags
		svc      bool
		models   []string
	)
	cmd := &cobra.Command{
		Use:   "keygen --dir DIR [--role client|server|helper]... [--host ROLE=HOST[:PORT]]... [--loopback]",
		Short: "Create a party's TLS identity (Ed25519 key and self-signed certificate)",
		Long: `keygen writes DIR/<role>.key (private, mode 0600) and DIR/<role>.crt for each
role (all of --parties by default: client and server, and the helper for
three), creating DIR with mode 0700 if missing. Existing files (or symbolic
links in their place) are never overwritten.

For parties on hosts of their own:
 1. Each party runs veil keygen --dir keys --role R on its own host, keeps
    keys/R.key (mode 0600) there and sends only keys/R.crt to the others.
 2. One person gathers every .crt in one directory and writes parties.json
    (with --host, keygen creates only the keys --role names):
      veil keygen --dir keys --host server=vendor.example --host helper=10.0.0.5
 3. Every party puts parties.json and the certificates beside its own key
    (the file names it <role>.key; or give veil party --key) and runs:
      veil party --config keys/parties.json --role R

--host ROLE=HOST[:PORT] says where the server and, with three parties, the
helper accept connections; each is required. Without a port, the server
listens on 7101 and the helper on 7102 (7100 plus the role's index, below
Linux's ephemeral ports 32768–60999). The client only dials: its --host is
optional, takes no port and is not written. Behind NAT, add "listen":
"0.0.0.0:PORT" to that party's entry by hand (mpc/transport/CONFIG.md).

With --loopback it also writes DIR/parties.json, a configuration for running
the parties on this machine (all but the client on free 127.0.0.1 ports), as
used by: veil party --config DIR/parties.json --role ...

With --loopback --malicious --insecure-simulated-attestation, parties.json
also gets an "attestation" section for veil party --malicious: a simulated
platform key per party (DIR/<role>.platform.pem) and a policy that accepts
exactly those keys and this veil binary's measurement. Simulated evidence
proves nothing about the code a party runs; on SEV-SNP or TDX machines write
the policy with your build's measurements instead (mpc/aramis.Settings).
--malicious is refused with --host: add that section, with your build's
measurements, to parties.json by hand (mpc/transport/CONFIG.md).

With --service it writes the daemons' files instead (veil serve, veil
helper): DIR/serve.json for the server at --host server=HOST[:PORT]
(default port 7300) serving each --model NAME=PROGRAM and admitting the
client certificate DIR/client.crt (copied to DIR/clients.pem, to which
more clients' certificates may be appended), with the operations
endpoints on 127.0.0.1:9300; with three parties also DIR/helper.json for
the helper at --host helper=HOST[:PORT] (default 7400), working for
DIR/server.crt, and serve.json runs 3pc through it. Identities missing in
DIR are made; existing ones are kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if parties < 2 || parties > mpc.MaxParties {
				return fmt.Errorf("--parties %d: a deployment has 2 or 3 parties", parties)
			}
			if svc {
				switch {
				case loopback || mf.on || len(roles) > 0:
					return errors.New("--service makes every missing identity and the daemons' files: without --loopback, --malicious or --role")
				}
				addrs, err := serviceHosts(hosts, parties)
				if err != nil {
					return err
				}
				if err := keyfile.MkdirPrivate(dir); err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				for _, p := range mpc.PartiesOf(parties) {
					if _, err := os.Stat(transport.CertFile(p, dir)); err == nil {
						continue // made before, or received: kept
					}
					if err := transport.GenerateIdentity(p, dir); err != nil {
						return err
					}
					fmt.Fprintf(w, "%s: wrote %s and %s\n", p, transport.KeyFile(p, dir), transport.CertFile(p, dir))
				}
				return writeServiceConfigs(w, dir, parties, addrs, models)
			}
			if len(models) > 0 {
				return errors.New("--model is for --service")
			}
			switch {
			case len(hosts) > 0 && loopback:
				return fmt.Errorf("--host %s with --loopback: --loopback puts every party on 127.0.0.1; give one or the other", hosts[0])
			case len(hosts) > 0 && mf.on:
				return errors.New("--malicious with --host: keygen writes an attestation policy only for --loopback's simulated parties; add the \"attestation\" section with your build's measurements to parties.json by hand (mpc/transport/CONFIG.md)")
			case mf.on && !loopback:
				return errors.New("--malicious needs --loopback (it writes the attestation section of DIR/parties.json)")
			}
			ps, err := keygenRoles(roles, parties, len(hosts) > 0)
			if err != nil {
				return err
			}
			var addrs []string
			if len(hosts) > 0 {
				if addrs, err = parseHosts(hosts, parties); err != nil {
					return err
				}
				if err := receivedCerts(dir, parties, ps); err != nil {
					return err
				}
			}
			if err := keyfile.MkdirPrivate(dir); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, p := range ps {
				if err := transport.GenerateIdentity(p, dir); err != nil {
					return err
				}
				fmt.Fprintf(w, "%s: wrote %s and %s\n", p, transport.KeyFile(p, dir), transport.CertFile(p, dir))
			}
			switch {
			case len(hosts) > 0:
				path, err := session.WriteHostsConfig(dir, addrs, session.DefaultTimeout)
				if err != nil {
					return err
				}
				at := make([]string, 0, parties-1)
				for _, p := range mpc.PartiesOf(parties)[1:] {
					at = append(at, p.Role()+" at "+addrs[p])
				}
				fmt.Fprintf(w, "wrote %s: %s\n", path, strings.Join(at, ", "))
			case loopback:
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
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "keys", "directory for the key and certificate files")
	cmd.Flags().StringSliceVar(&roles, "role", nil, "roles to create (default: every party of --parties; with --host, none)")
	cmd.Flags().IntVar(&parties, "parties", 3, "parties of the deployment: 3 (client, server, helper) or 2 (client, server)")
	cmd.Flags().BoolVar(&loopback, "loopback", false, "also write DIR/parties.json for the parties on this machine")
	cmd.Flags().StringArrayVar(&hosts, "host", nil, "ROLE=HOST[:PORT]: write DIR/parties.json for parties on these hosts, pinning the certificates in DIR; repeat for the server and the helper (default ports: server 7101, helper 7102; the client only dials and needs none)")
	cmd.Flags().BoolVar(&svc, "service", false, "write DIR/serve.json (and, for three parties, DIR/helper.json) for veil serve and veil helper at the --host addresses (default ports 7300 and 7400), serving the --model programs and admitting DIR/client.crt (DIR/clients.pem); makes the identities missing in DIR")
	cmd.Flags().StringArrayVar(&models, "model", nil, "with --service: NAME=PROGRAM, a compiled program to serve under NAME; repeatable")
	mf.register(cmd.Flags())
	return cmd
}

// keygenRoles returns the parties whose identities keygen creates: those
// --role names, or else every party of the deployment, or none with
// --host (withHosts).
func keygenRoles(roles []string, n int, withHosts bool) ([]mpc.Party, error) {
	if len(roles) == 0 && withHosts {
		return nil, nil
	}
	if len(roles) == 0 {
		return mpc.PartiesOf(n), nil
	}
	var ps []mpc.Party
	for _, r := range roles {
		p, err := mpc.ParseRole(r)
		if err != nil {
			return nil, fmt.Errorf("--role %s: %w", r, err)
		}
		if int(p) >= n {
			return nil, fmt.Errorf("--role %s: a %d-party deployment has roles %s", r, n, roleNames(n))
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// parseHosts reads the --host values of an n-party deployment and returns
// each party's address as the others dial it, indexed by party: "" for
// the client, which only dials.
func parseHosts(specs []string, n int) ([]string, error) {
	addrs := make([]string, n)
	given := make([]string, n)
	for _, s := range specs {
		p, addr, err := parseHost(s)
		if err != nil {
			return nil, fmt.Errorf("--host %s: %w", s, err)
		}
		if int(p) >= n {
			return nil, fmt.Errorf("--host %s: a %d-party deployment has no %s (roles %s)", s, n, p.Role(), roleNames(n))
		}
		if given[p] != "" {
			return nil, fmt.Errorf("--host %s: the %s is already at --host %s", s, p.Role(), given[p])
		}
		given[p], addrs[p] = s, addr
	}
	for _, p := range mpc.PartiesOf(n)[1:] {
		if given[p] == "" {
			return nil, fmt.Errorf("--host: no address for the %s, which accepts connections; add --host %s=HOST[:PORT]", p.Role(), p.Role())
		}
	}
	return addrs, nil
}

// parseHost reads one --host value, ROLE=HOST[:PORT], and returns the role
// and its address as the others dial it: HOST:PORT, with defaultPortBase
// plus the role's index for a missing port, or "" for the client.
func parseHost(s string) (mpc.Party, string, error) {
	name, hp, ok := strings.Cut(s, "=")
	if !ok {
		return 0, "", errors.New("want ROLE=HOST[:PORT]")
	}
	p, err := mpc.ParseRole(name)
	if err != nil {
		return 0, "", err
	}
	host, port, err := splitHost(hp)
	if err != nil {
		return 0, "", err
	}
	if p == mpc.P0 {
		if port != "" {
			return 0, "", errors.New("the client only dials and listens on no port; leave the port out")
		}
		return p, "", nil
	}
	n := uint64(defaultPortBase + int(p))
	if port != "" {
		n, err = strconv.ParseUint(port, 10, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, "", fmt.Errorf("port %q is not a number", port)
		}
		if err != nil || n < 1 || n > 65535 {
			return 0, "", fmt.Errorf("port %s is outside 1 to 65535", port)
		}
	}
	return p, net.JoinHostPort(host, strconv.FormatUint(n, 10)), nil
}

// splitHost splits HOST[:PORT] and checks HOST, a host name or an IP
// address; an IPv6 address is bracketed when a port follows
// ("[2001:db8::1]:7101"). port is "" if none is given.
func splitHost(s string) (host, port string, err error) {
	switch {
	case strings.Contains(s, "/"):
		return "", "", fmt.Errorf("%s is not HOST or HOST:PORT (no URL)", s)
	case net.ParseIP(s) != nil:
		host = s
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		host = s[1 : len(s)-1]
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return "", "", fmt.Errorf("%s: only an IPv6 address goes in brackets", s)
		}
	case !strings.Contains(s, ":"):
		host = s
	default:
		if host, port, err = net.SplitHostPort(s); err != nil {
			return "", "", fmt.Errorf("%s is not HOST or HOST:PORT (an IPv6 address with a port is written [ADDRESS]:PORT)", s)
		}
		if port == "" {
			return "", "", errors.New("no port after the colon")
		}
	}
	if err := checkHost(host); err != nil {
		return "", "", err
	}
	return host, port, nil
}

// checkHost checks that h is an IP address the others can dial or a
// well-formed host name.
func checkHost(h string) error {
	if h == "" {
		return errors.New("no host")
	}
	if ip := net.ParseIP(h); ip != nil {
		if ip.IsUnspecified() {
			return fmt.Errorf("%s is no address to dial (to bind every interface, add \"listen\" to parties.json)", h)
		}
		return nil
	}
	name := strings.TrimSuffix(h, ".")
	bad := fmt.Errorf("%q is neither an IP address nor a host name", h)
	if name == "" || len(name) > 253 {
		return bad
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return bad
		}
		for _, c := range l {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return bad
			}
		}
	}
	if _, err := strconv.Atoi(labels[len(labels)-1]); err == nil {
		return bad // all-numeric last label: a malformed IP address
	}
	return nil
}

// receivedCerts checks, before keygen --host creates anything, that DIR
// holds the certificate of each party of an n-party deployment whose
// identity it does not create (those in create).
func receivedCerts(dir string, n int, create []mpc.Party) error {
	for _, p := range mpc.PartiesOf(n) {
		if slices.Contains(create, p) {
			continue
		}
		if _, err := os.Stat(transport.CertFile(p, dir)); err != nil {
			return fmt.Errorf("--host: no certificate %s: the %s runs veil keygen --role %s on its own host and sends its %s.crt (or add --role %s to create it here)", transport.CertFile(p, dir), p.Role(), p.Role(), p.Role(), p.Role())
		}
	}
	return nil
}

// roleNames names the roles of an n-party deployment.
func roleNames(n int) string {
	names := make([]string, n)
	for i, p := range mpc.PartiesOf(n) {
		names[i] = p.Role()
	}
	return strings.Join(names, ", ")
}
