package transport

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"veil/mpc"
)

// writeKeys generates the three identities under dir/keys.
func writeKeys(t testing.TB, dir string) {
	t.Helper()
	for _, p := range mpc.PartiesOf(3) {
		if err := GenerateIdentity(p, filepath.Join(dir, "keys")); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

const (
	pClient = `{"role": "client", "addr": "127.0.0.1:7000", "cert": "keys/client.crt"}`
	pServer = `{"role": "server", "addr": "127.0.0.1:7001", "cert": "keys/server.crt"}`
	pHelper = `{"role": "helper", "addr": "127.0.0.1:7002", "cert": "keys/helper.crt"}`
)

func parties(ps ...string) string { return `{"parties": [` + strings.Join(ps, ", ") + `]` }

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	writeKeys(t, dir)
	writeFile(t, filepath.Join(dir, "garbage.crt"), "not a certificate\n")
	abs := filepath.Join(dir, "keys", "client.crt")

	tests := []struct {
		name    string
		json    string
		wantErr string // "" for success
		check   func(*testing.T, *Config)
	}{
		{
			name: "defaults",
			json: parties(pClient, pServer, pHelper) + `}`,
			check: func(t *testing.T, c *Config) {
				if c.Timeout != DefaultTimeout || c.MaxMessage != DefaultMaxMessage {
					t.Errorf("timeout %v, max %d", c.Timeout, c.MaxMessage)
				}
				for _, p := range mpc.PartiesOf(3) {
					pc := c.Parties[p]
					if pc.Role != p || pc.Cert == nil || pc.Cert.Subject.CommonName != p.Role() {
						t.Errorf("party %s: %+v", p, pc)
					}
					if want := filepath.Join(dir, "keys", p.Role()+".crt"); pc.CertFile != want {
						t.Errorf("cert path %s, want %s", pc.CertFile, want)
					}
				}
			},
		},
		{
			name: "settings, any order, absolute path, key, listen",
			json: parties(pHelper,
				`{"role": "P1", "addr": "server.example:7001", "listen": "0.0.0.0:7001", "cert": "keys/server.crt", "key": "keys/server.key"}`,
				`{"role": "client", "cert": "`+abs+`"}`) + `, "timeout": "500ms", "max_message": "64MiB"}`,
			check: func(t *testing.T, c *Config) {
				if c.Timeout != 500*time.Millisecond || c.MaxMessage != 64<<20 {
					t.Errorf("timeout %v, max %d", c.Timeout, c.MaxMessage)
				}
				s := c.Parties[mpc.P1]
				if s.Addr != "server.example:7001" || s.Listen != "0.0.0.0:7001" || s.KeyFile != filepath.Join(dir, "keys", "server.key") {
					t.Errorf("server %+v", s)
				}
				if c.Parties[mpc.P0].CertFile != abs {
					t.Errorf("absolute path rewritten to %s", c.Parties[mpc.P0].CertFile)
				}
			},
		},
		{
			name: "max_message as a number",
			json: parties(pClient, pServer, pHelper) + `, "max_message": 1000}`,
			check: func(t *testing.T, c *Config) {
				if c.MaxMessage != 1000 {
					t.Errorf("max %d", c.MaxMessage)
				}
			},
		},
		{name: "two parties", json: parties(pClient, pServer) + `}`, check: func(t *testing.T, c *Config) {
			if len(c.Parties) != 2 || c.Parties[1].Role != mpc.P1 {
				t.Errorf("parties %+v", c.Parties)
			}
		}},
		{name: "one party", json: parties(pClient) + `}`, wantErr: "1 parties; a deployment has 2"},
		{name: "missing role", json: parties(pClient, pHelper) + `}`, wantErr: "role helper, but a 2-party deployment has roles client, server"},
		{name: "missing role of three", json: parties(pClient, pHelper, pHelper) + `}`, wantErr: "role helper appears more than once"},
		{name: "role left out", json: parties(pClient, pServer, `{"addr": "127.0.0.1:1", "cert": "keys/helper.crt"}`) + `}`, wantErr: "party 3: missing role"},
		{name: "unknown role", json: parties(pClient, pServer, `{"role": "judge", "addr": "127.0.0.1:1", "cert": "keys/helper.crt"}`) + `}`, wantErr: `unknown role "judge"`},
		{name: "duplicate role", json: parties(pClient, pServer, pServer) + `}`, wantErr: "role server appears more than once"},
		{name: "four parties", json: parties(pClient, pServer, pHelper, pServer) + `}`, wantErr: "4 parties; a deployment has 2"},
		{name: "address without port", json: parties(pClient, `{"role": "server", "addr": "127.0.0.1", "cert": "keys/server.crt"}`, pHelper) + `}`, wantErr: "server: addr"},
		{name: "address without host", json: parties(pClient, `{"role": "server", "addr": ":7001", "cert": "keys/server.crt"}`, pHelper) + `}`, wantErr: "has no host"},
		{name: "port out of range", json: parties(pClient, pServer, `{"role": "helper", "addr": "127.0.0.1:70000", "cert": "keys/helper.crt"}`) + `}`, wantErr: "helper: addr"},
		{name: "bad listen", json: parties(pClient, `{"role": "server", "addr": "h:1", "listen": "nope", "cert": "keys/server.crt"}`, pHelper) + `}`, wantErr: "server: listen"},
		{name: "missing addr", json: parties(pClient, `{"role": "server", "cert": "keys/server.crt"}`, pHelper) + `}`, wantErr: "server: missing addr"},
		{name: "missing cert", json: parties(pClient, pServer, `{"role": "helper", "addr": "127.0.0.1:7002"}`) + `}`, wantErr: "helper: missing cert"},
		{name: "unreadable cert", json: parties(pClient, pServer, `{"role": "helper", "addr": "127.0.0.1:7002", "cert": "keys/nope.crt"}`) + `}`, wantErr: filepath.Join(dir, "keys", "nope.crt")},
		{name: "not a certificate", json: parties(pClient, pServer, `{"role": "helper", "addr": "127.0.0.1:7002", "cert": "garbage.crt"}`) + `}`, wantErr: "garbage.crt: no PEM CERTIFICATE"},
		{name: "shared key", json: parties(pClient, pServer, `{"role": "helper", "addr": "127.0.0.1:7002", "cert": "keys/server.crt"}`) + `}`, wantErr: "server and helper have the same public key"},
		{name: "bad timeout", json: parties(pClient, pServer, pHelper) + `, "timeout": "soon"}`, wantErr: "timeout"},
		{name: "negative timeout", json: parties(pClient, pServer, pHelper) + `, "timeout": "-1s"}`, wantErr: "must be positive"},
		{name: "bad max_message", json: parties(pClient, pServer, pHelper) + `, "max_message": "lots"}`, wantErr: "max_message"},
		{name: "max_message too big", json: parties(pClient, pServer, pHelper) + `, "max_message": "2GiB"}`, wantErr: "exceeds the frame format's limit"},
		{name: "unknown field", json: parties(pClient, pServer, pHelper) + `, "timeuot": "1s"}`, wantErr: `unknown field "timeuot"`},
		{name: "not JSON", json: `parties: 3`, wantErr: "invalid character"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("config%d.json", i))
			writeFile(t, path, tt.json)
			cfg, err := LoadConfig(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, cfg)
				return
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q, want it to contain %q and the file name", err, tt.wantErr)
			}
		})
	}
	if _, err := LoadConfig(filepath.Join(dir, "absent.json")); err == nil || !strings.Contains(err.Error(), "absent.json") {
		t.Errorf("missing config file: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64 // 0: an error
	}{
		{"1", 1}, {"1048576", 1 << 20}, {"1KiB", 1 << 10}, {"64MiB", 64 << 20}, {"1GiB", 1 << 30},
		{"1 GiB", 1 << 30}, {"10KB", 10000}, {"2MB", 2e6}, {"1GB", 1e9}, {"512B", 512},
		{"2147483647", 1<<31 - 1}, {"2GiB", 0}, {"0", 0}, {"-5", 0}, {"", 0}, {"MiB", 0}, {"1.5GiB", 0}, {"1TiB", 0},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if tt.want == 0 {
			if err == nil {
				t.Errorf("parseSize(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestConfigIdentity(t *testing.T) {
	dir := t.TempDir()
	writeKeys(t, dir)
	path := filepath.Join(dir, "veil.json")
	writeFile(t, path, parties(pClient,
		`{"role": "server", "addr": "127.0.0.1:7001", "cert": "keys/server.crt", "key": "keys/server.key"}`, pHelper)+`}`)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		me      mpc.Party
		key     string
		wantErr string
	}{
		{"key from the config", mpc.P1, "", ""},
		{"key on the command line", mpc.P0, filepath.Join(dir, "keys", "client.key"), ""},
		{"no key", mpc.P2, "", `no "key" for helper`},
		{"someone else's key", mpc.P2, filepath.Join(dir, "keys", "client.key"), "helper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := cfg.Identity(tt.me, tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.Leaf.Subject.CommonName != tt.me.Role() {
				t.Errorf("got the identity of %q", id.Leaf.Subject.CommonName)
			}
		})
	}
}
