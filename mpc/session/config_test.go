package session

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"veil/mpc"
	"veil/mpc/transport"
)

// identities writes fresh identities for the first n parties to a new
// directory and returns it.
func identities(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range mpc.PartiesOf(n) {
		if err := transport.GenerateIdentity(p, dir); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestWriteHostsConfig: the file WriteHostsConfig writes loads with
// transport.LoadConfig with the addresses given, and each party finds its
// key beside it; a file that would not load is not written and leaves an
// earlier one as it was.
func TestWriteHostsConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		addrs []string
		prep  func(t *testing.T, dir string) // before writing
		err   string                         // "" for success
	}{
		{name: "three", n: 3, addrs: []string{"", "vendor.example:7101", "10.0.0.5:7200"}},
		{name: "two", n: 2, addrs: []string{"", "[2001:db8::1]:7101"}},
		{name: "client addr", n: 2, addrs: []string{"hospital.example:7100", "vendor.example:7101"}},
		{name: "one party", n: 1, addrs: []string{""}, err: "1 parties"},
		{name: "four parties", n: 3, addrs: []string{"", "a:1", "b:2", "c:3"}, err: "4 parties"},
		{name: "no server addr", n: 2, addrs: []string{"", ""}, err: "server: missing addr"},
		{name: "bad addr", n: 3, addrs: []string{"", "a:1", "b"}, err: "helper: addr"},
		{name: "port zero", n: 2, addrs: []string{"", "a:0"}, err: "port must be a number"},
		{
			name: "missing cert", n: 3, addrs: []string{"", "a:1", "b:2"},
			prep: func(t *testing.T, dir string) { os.Remove(transport.CertFile(mpc.P2, dir)) },
			err:  "helper.crt",
		},
		{
			name: "shared key", n: 2, addrs: []string{"", "a:1"},
			prep: func(t *testing.T, dir string) {
				b, err := os.ReadFile(transport.CertFile(mpc.P0, dir))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(transport.CertFile(mpc.P1, dir), b, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			err: "same public key",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := identities(t, tc.n)
			if tc.prep != nil {
				tc.prep(t, dir)
			}
			const earlier = "earlier\n"
			want := filepath.Join(dir, "parties.json")
			if err := os.WriteFile(want, []byte(earlier), 0o644); err != nil {
				t.Fatal(err)
			}
			path, err := WriteHostsConfig(dir, tc.addrs, 5*time.Second)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				if strings.Contains(err.Error(), ".parties.json-") {
					t.Errorf("error %q names the temporary file", err)
				}
				if b, _ := os.ReadFile(want); string(b) != earlier {
					t.Errorf("the earlier parties.json was replaced by %q", b)
				}
				if left, _ := filepath.Glob(filepath.Join(dir, ".parties.json-*")); len(left) > 0 {
					t.Errorf("left behind %v", left)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if path != want {
				t.Errorf("path %s, want %s", path, want)
			}
			cfg, err := transport.LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Parties) != tc.n || cfg.Timeout != 5*time.Second {
				t.Fatalf("loaded %d parties, timeout %v", len(cfg.Parties), cfg.Timeout)
			}
			for _, p := range mpc.PartiesOf(tc.n) {
				if got := cfg.Parties[p].Addr; got != tc.addrs[p] {
					t.Errorf("%s: addr %q, want %q", p, got, tc.addrs[p])
				}
				if _, err := cfg.Identity(p, ""); err != nil {
					t.Errorf("%s: %v", p, err)
				}
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".parties.json-*")); len(left) > 0 {
				t.Errorf("left behind %v", left)
			}
		})
	}
}

// TestWriteLoopbackConfig: the loopback file puts every party but the
// client on its own 127.0.0.1 port and loads.
func TestWriteLoopbackConfig(t *testing.T) {
	for _, n := range []int{2, 3} {
		dir := identities(t, n)
		path, err := WriteLoopbackConfig(dir, n, DefaultTimeout)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := transport.LoadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, pc := range cfg.Parties {
			switch {
			case pc.Role == mpc.P0 && pc.Addr != "":
				t.Errorf("%d parties: the client has addr %q", n, pc.Addr)
			case pc.Role != mpc.P0 && (!strings.HasPrefix(pc.Addr, "127.0.0.1:") || seen[pc.Addr]):
				t.Errorf("%d parties: %s has addr %q", n, pc.Role, pc.Addr)
			}
			seen[pc.Addr] = true
		}
	}
}
