package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"veil/mpc"
	"veil/mpc/transport"
)

// TestKeygenFiles: veil keygen makes its directory 0700 and the keys
// 0600, and never replaces an existing key.
func TestKeygenFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if out, err := veil(t, "keygen", "--dir", dir, "--role", "server"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("key directory mode %v, want 0700 (%v)", fi.Mode().Perm(), err)
		}
		if fi, err := os.Stat(filepath.Join(dir, "server.key")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("key mode %v, want 0600 (%v)", fi.Mode().Perm(), err)
		}
	}
	before, _ := os.ReadFile(filepath.Join(dir, "server.key"))
	if out, err := veil(t, "keygen", "--dir", dir, "--role", "server"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("keygen over an existing key: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "server.key")); string(after) != string(before) {
		t.Fatal("the existing key was replaced")
	}
}

// TestKeygenParseHosts checks --host values: the addresses they give,
// the documented default ports (server 7101, helper 7102), the client
// without one, and errors naming the flag and the value.
func TestKeygenParseHosts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		hosts []string
		want  []string // addresses by party, if no error
		err   string   // part of the error, "" for success
	}{
		{name: "defaults", n: 3, hosts: []string{"server=vendor.example", "helper=10.0.0.5"}, want: []string{"", "vendor.example:7101", "10.0.0.5:7102"}},
		{name: "ports and client", n: 3, hosts: []string{"helper=10.0.0.5:7200", "client=hospital.example", "server=vendor.example:7100"}, want: []string{"", "vendor.example:7100", "10.0.0.5:7200"}},
		{name: "two parties", n: 2, hosts: []string{"P1=vendor.example."}, want: []string{"", "vendor.example.:7101"}},
		{name: "ipv6", n: 3, hosts: []string{"server=2001:db8::1", "helper=[2001:db8::2]:65535"}, want: []string{"", "[2001:db8::1]:7101", "[2001:db8::2]:65535"}},
		{name: "ipv6 bracketed", n: 2, hosts: []string{"server=[::1]", "client=::1"}, want: []string{"", "[::1]:7101"}},
		{name: "short name", n: 2, hosts: []string{"server=vendor_1:1"}, want: []string{"", "vendor_1:1"}},

		{name: "unknown role", n: 3, hosts: []string{"nurse=a.example"}, err: `--host nurse=a.example: unknown role "nurse"`},
		{name: "no equals", n: 3, hosts: []string{"a.example:7101"}, err: "--host a.example:7101: want ROLE=HOST[:PORT]"},
		{name: "role outside parties", n: 2, hosts: []string{"server=a", "helper=b"}, err: "--host helper=b: a 2-party deployment has no helper (roles client, server)"},
		{name: "duplicate role", n: 3, hosts: []string{"server=a", "helper=b", "P1=c"}, err: "--host P1=c: the server is already at --host server=a"},
		{name: "duplicate client", n: 2, hosts: []string{"client=a", "server=b", "client=a"}, err: "--host client=a: the client is already"},
		{name: "missing helper", n: 3, hosts: []string{"server=a", "client=c"}, err: "--host: no address for the helper"},
		{name: "missing server", n: 3, hosts: []string{"helper=a"}, err: "add --host server=HOST[:PORT]"},
		{name: "no host", n: 2, hosts: []string{"server="}, err: "--host server=: no host"},
		{name: "only a port", n: 2, hosts: []string{"server=:7101"}, err: "--host server=:7101: no host"},
		{name: "empty port", n: 2, hosts: []string{"server=a:"}, err: "--host server=a:: no port after the colon"},
		{name: "bad host:port", n: 2, hosts: []string{"server=a:b:c"}, err: "--host server=a:b:c: a:b:c is not HOST or HOST:PORT"},
		{name: "port zero", n: 2, hosts: []string{"server=a:0"}, err: "--host server=a:0: port 0 is outside 1 to 65535"},
		{name: "port too large", n: 2, hosts: []string{"server=a:65536"}, err: "port 65536 is outside 1 to 65535"},
		{name: "port far too large", n: 2, hosts: []string{"server=a:99999999999999999999"}, err: "is outside 1 to 65535"},
		{name: "named port", n: 2, hosts: []string{"server=a:https"}, err: `--host server=a:https: port "https" is not a number`},
		{name: "signed port", n: 2, hosts: []string{"server=a:+7101"}, err: `port "+7101" is not a number`},
		{name: "client port", n: 2, hosts: []string{"server=a", "client=c:7100"}, err: "--host client=c:7100: the client only dials"},
		{name: "space in host", n: 2, hosts: []string{"server=a b"}, err: `"a b" is neither an IP address nor a host name`},
		{name: "url", n: 2, hosts: []string{"server=https://a.example"}, err: "https://a.example is not HOST or HOST:PORT (no URL)"},
		{name: "bad label", n: 2, hosts: []string{"server=-a.example"}, err: "neither an IP address nor a host name"},
		{name: "empty label", n: 2, hosts: []string{"server=a..example"}, err: "neither an IP address nor a host name"},
		{name: "bad ipv4", n: 2, hosts: []string{"server=10.0.0.256"}, err: `"10.0.0.256" is neither`},
		{name: "unspecified", n: 2, hosts: []string{"server=0.0.0.0:7101"}, err: "0.0.0.0 is no address to dial"},
		{name: "bracketed ipv4", n: 2, hosts: []string{"server=[10.0.0.1]"}, err: "only an IPv6 address goes in brackets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addrs, err := parseHosts(tc.hosts, tc.n)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(addrs, tc.want) {
				t.Errorf("addresses %q, want %q", addrs, tc.want)
			}
		})
	}
}

// TestKeygenHostsConfig runs veil keygen --host and loads the parties
// file it writes as veil party --config does.
func TestKeygenHostsConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // addresses by party
	}{
		{
			name: "three parties",
			args: []string{"--role", "client,server,helper", "--host", "server=vendor.example", "--host", "helper=10.0.0.5:7200", "--host", "client=hospital.example"},
			want: []string{"", "vendor.example:7101", "10.0.0.5:7200"},
		},
		{
			name: "two parties",
			args: []string{"--parties", "2", "--role", "client", "--role", "server", "--host", "server=[2001:db8::1]"},
			want: []string{"", "[2001:db8::1]:7101"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			out, err := veil(t, append([]string{"keygen", "--dir", dir}, tc.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			cfg, err := transport.LoadConfig(filepath.Join(dir, "parties.json"))
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Parties) != len(tc.want) {
				t.Fatalf("%d parties, want %d", len(cfg.Parties), len(tc.want))
			}
			for _, p := range mpc.PartiesOf(len(tc.want)) {
				if got := cfg.Parties[p].Addr; got != tc.want[p] {
					t.Errorf("%s: addr %q, want %q", p, got, tc.want[p])
				}
				if _, err := cfg.Identity(p, ""); err != nil {
					t.Errorf("%s: %v", p, err)
				}
			}
		})
	}
}

// TestKeygenHostsDeployment follows the keygen help's steps: each party
// makes its identity in a directory of its own, one person writes
// parties.json from the certificates alone, and each party then loads it
// beside its own key.
func TestKeygenHostsDeployment(t *testing.T) {
	root := t.TempDir()
	roles := []string{"client", "server", "helper"}
	for _, r := range roles {
		if out, err := veil(t, "keygen", "--dir", filepath.Join(root, r), "--role", r); err != nil {
			t.Fatalf("%s: %v\n%s", r, err, out)
		}
	}
	gather := filepath.Join(root, "gather")
	if err := os.Mkdir(gather, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range roles[:2] {
		copyFile(filepath.Join(root, r, r+".crt"), filepath.Join(gather, r+".crt"))
	}
	hosts := []string{"keygen", "--dir", gather, "--host", "server=vendor.example", "--host", "helper=10.0.0.5"}
	if _, err := veil(t, hosts...); err == nil || !strings.Contains(err.Error(), "helper.crt: the helper runs veil keygen") {
		t.Fatalf("keygen --host without the helper's certificate: %v", err)
	}
	if _, err := os.Stat(filepath.Join(gather, "parties.json")); err == nil {
		t.Fatal("parties.json written without the helper's certificate")
	}
	copyFile(filepath.Join(root, "helper", "helper.crt"), filepath.Join(gather, "helper.crt"))
	if out, err := veil(t, hosts...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if keys, _ := filepath.Glob(filepath.Join(gather, "*.key")); len(keys) > 0 {
		t.Errorf("keygen --host created %v", keys)
	}
	for _, r := range roles {
		dir := filepath.Join(root, r)
		for _, f := range []string{"parties.json", "client.crt", "server.crt", "helper.crt"} {
			if f != r+".crt" {
				copyFile(filepath.Join(gather, f), filepath.Join(dir, f))
			}
		}
		cfg, err := transport.LoadConfig(filepath.Join(dir, "parties.json"))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := mpc.ParseRole(r)
		if _, err := cfg.Identity(p, ""); err != nil {
			t.Errorf("%s: %v", r, err)
		}
	}
}

// TestKeygenHostsRefused: flags that cannot go with --host fail before
// anything is written, naming the flags.
func TestKeygenHostsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"loopback", []string{"--host", "server=a", "--host", "helper=b", "--loopback"}, "--host server=a with --loopback"},
		{"malicious", []string{"--role", "client,server,helper", "--host", "server=a", "--host", "helper=b", "--malicious", "--insecure-simulated-attestation"}, `--malicious with --host: keygen writes an attestation policy only for --loopback's simulated parties; add the "attestation" section`},
		{"bad host", []string{"--role", "server", "--host", "server=a:70000", "--host", "helper=b"}, "--host server=a:70000: port 70000 is outside 1 to 65535"},
		{"role outside parties", []string{"--parties", "2", "--host", "server=a", "--host", "helper=b"}, "--host helper=b: a 2-party deployment has no helper"},
		{"missing role", []string{"--role", "client,server,helper", "--host", "helper=b"}, "--host: no address for the server"},
		{"bad role", []string{"--role", "nurse", "--host", "server=a", "--host", "helper=b"}, `--role nurse: unknown role "nurse"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			_, err := veil(t, append([]string{"keygen", "--dir", dir}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("%s was created", dir)
			}
		})
	}
}

// TestKeygenHelpDefaultPorts: the help states the default ports that
// --host applies.
func TestKeygenHelpDefaultPorts(t *testing.T) {
	cmd := keygenCmd()
	for _, p := range []mpc.Party{mpc.P1, mpc.P2} {
		_, addr, err := parseHost(p.Role() + "=h")
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%s %s", p.Role(), strings.TrimPrefix(addr, "h:"))
		if !strings.Contains(cmd.Flags().Lookup("host").Usage, want) {
			t.Errorf("--host usage lacks %q", want)
		}
		if !strings.Contains(strings.Join(strings.Fields(cmd.Long), " "), strings.TrimPrefix(addr, "h:")) {
			t.Errorf("help lacks the %s's port %s", p.Role(), addr)
		}
	}
}
