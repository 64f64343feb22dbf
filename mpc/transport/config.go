package transport

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"veil/internal/pinned"
	"veil/mpc"
)

// Defaults for the optional settings of a Config.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultMaxMessage = 1 << 30 // 1 GiB
)

// MaxMessageLimit is the largest max_message the frame format allows: a
// data frame's length has 31 bits (see the package documentation).
const MaxMessageLimit = 1<<31 - 1

// Config describes the parties of a deployment (two, client and server,
// or three, with the helper): where each one listens and which
// certificate it must present. All parties use the same file (each may
// add its own private key path); it is a JSON object:
//
//	{
//	  "parties": [
//	    {"role": "client", "addr": "127.0.0.1:7000", "cert": "keys/client.crt"},
//	    {"role": "server", "addr": "127.0.0.1:7001", "cert": "keys/server.crt"},
//	    {"role": "helper", "addr": "127.0.0.1:7002", "cert": "keys/helper.crt"}
//	  ],
//	  "timeout": "10s",
//	  "max_message": "1GiB"
//	}
//
// "parties" lists each role of the deployment exactly once, in any order:
// client and server, and the helper for a three-party backend. Per party:
//
//   - "role": "client" (P0), "server" (P1) or "helper" (P2); "P0", "P1"
//     and "P2" are accepted too.
//   - "addr": host:port where the party accepts connections, as the other
//     parties dial it. Required for the server and the helper; the client
//     only dials (a lower-numbered party dials a higher-numbered one), so
//     its addr is optional and unused.
//   - "listen": optional host:port the party binds instead of addr, for
//     example "0.0.0.0:7001" behind NAT. Defaults to addr.
//   - "cert": the party's certificate (PEM), as written by GenerateIdentity.
//     Its public key is pinned: a peer claiming this role must prove that it
//     holds the matching private key. Each role needs its own key.
//   - "key": optional path of the party's private key (PEM). It is read
//     only by that party, and only when no key is given on the command
//     line; other parties never need it, so a shared file usually omits it.
//
// Relative paths are relative to the directory of the configuration file.
//
// "timeout" (a Go duration such as "10s" or "500ms"; default 10s) is how
// long a peer may stay completely silent before Recv from it fails with
// mpc.ErrTimeout: every party sends a heartbeat frame about once a second
// (more often for timeouts under five seconds), so silence means the peer
// is stalled or unreachable, not busy. It also bounds each connection
// attempt's handshake.
//
// "max_message" (bytes, as a number or a string with a suffix B, KB, MB,
// GB, KiB, MiB or GiB; default 1GiB, at most MaxMessageLimit) is the
// largest message a party accepts; a peer announcing a longer one is cut
// off with an error.
//
// "attestation" (optional) holds the settings of maliciously secure
// sessions (veil party --malicious): which attester a party uses and the
// policy it applies to its peers' evidence. This package keeps it
// unparsed; see mpc/aramis.ParseSettings.
//
// Unknown fields are an error, so that a misspelt setting does not pass
// unnoticed.
type Config struct {
	// Parties holds the parties' settings, indexed by mpc.Party: P0 …
	// P(len−1), two or three of them.
	Parties []PartyConfig
	// Timeout is how long a peer may be silent; zero means DefaultTimeout.
	Timeout time.Duration
	// MaxMessage is the largest message accepted, in bytes; zero means
	// DefaultMaxMessage.
	MaxMessage int64
	// Attestation is the file's "attestation" section, unparsed: the
	// settings of maliciously secure sessions (see mpc/aramis.Settings).
	Attestation json.RawMessage
	// Dir is the directory of the configuration file, against which
	// relative paths resolve.
	Dir string
}

// PartyConfig is one party's entry of a Config.
type PartyConfig struct {
	Role     mpc.Party
	Addr     string            // where the others dial it ("" for a client)
	Listen   string            // where it binds; "" means Addr
	CertFile string            // the certificate's path, resolved
	KeyFile  string            // the private key's path, resolved; may be ""
	Cert     *x509.Certificate // the pinned certificate
}

type fileConfig struct {
	Parties     []fileParty     `json:"parties"`
	Timeout     string          `json:"timeout"`
	MaxMessage  json.RawMessage `json:"max_message"`
	Attestation json.RawMessage `json:"attestation"`
}

type fileParty struct {
	Role   string `json:"role"`
	Addr   string `json:"addr"`
	Listen string `json:"listen"`
	Cert   string `json:"cert"`
	Key    string `json:"key"`
}

// LoadConfig reads the configuration file at path (see Config) and the
// certificates it names, and checks it: every role present exactly once,
// addresses well formed, certificates readable, and no two roles sharing a
// public key.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("transport: config: %w", err)
	}
	cfg, err := parseConfig(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("transport: config %s: %w", path, err)
	}
	return cfg, nil
}

func parseConfig(data []byte, dir string) (*Config, error) {
	var fc fileConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	cfg := &Config{Timeout: DefaultTimeout, MaxMessage: DefaultMaxMessage, Dir: dir}
	if len(fc.Attestation) > 0 && string(fc.Attestation) != "null" {
		cfg.Attestation = fc.Attestation
	}
	if fc.Timeout != "" {
		d, err := time.ParseDuration(fc.Timeout)
		if err != nil {
			return nil, fmt.Errorf("timeout: %w", err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("timeout %q must be positive", fc.Timeout)
		}
		cfg.Timeout = d
	}
	if len(fc.MaxMessage) > 0 && string(fc.MaxMessage) != "null" {
		n, err := parseSizeJSON(fc.MaxMessage)
		if err != nil {
			return nil, fmt.Errorf("max_message: %w", err)
		}
		cfg.MaxMessage = n
	}

	n := len(fc.Parties)
	if n < 2 || n > mpc.MaxParties {
		return nil, fmt.Errorf("%d parties; a deployment has 2 (client and server) or 3 (and the helper)", n)
	}
	cfg.Parties = make([]PartyConfig, n)
	seen := make([]bool, n)
	resolve := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	for i, fp := range fc.Parties {
		if fp.Role == "" {
			return nil, fmt.Errorf("party %d: missing role", i+1)
		}
		role, err := mpc.ParseRole(fp.Role)
		if err != nil {
			return nil, fmt.Errorf("party %d: %w", i+1, err)
		}
		if int(role) >= n {
			return nil, fmt.Errorf("party %d: role %s, but a %d-party deployment has roles %s", i+1, role.Role(), n, roleList(n))
		}
		if seen[role] {
			return nil, fmt.Errorf("role %s appears more than once", role.Role())
		}
		seen[role] = true
		pc := PartyConfig{Role: role, Addr: fp.Addr, Listen: fp.Listen, CertFile: resolve(fp.Cert), KeyFile: resolve(fp.Key)}
		if pc.Addr == "" && role != mpc.P0 {
			return nil, fmt.Errorf("%s: missing addr", role.Role())
		}
		if pc.Addr != "" {
			if err := checkAddr(pc.Addr, true); err != nil {
				return nil, fmt.Errorf("%s: addr: %w", role.Role(), err)
			}
		}
		if pc.Listen != "" {
			if err := checkAddr(pc.Listen, false); err != nil {
				return nil, fmt.Errorf("%s: listen: %w", role.Role(), err)
			}
		}
		if fp.Cert == "" {
			return nil, fmt.Errorf("%s: missing cert", role.Role())
		}
		if pc.Cert, err = pinned.ReadCertificate(pc.CertFile); err != nil {
			return nil, fmt.Errorf("%s: %w", role.Role(), err)
		}
		cfg.Parties[role] = pc
	}
	for _, p := range mpc.PartiesOf(n) {
		if !seen[p] {
			return nil, fmt.Errorf("no party with role %s", p.Role())
		}
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// check validates a Config, whether loaded or built in code.
func (c *Config) check() error {
	if c == nil {
		return errors.New("no configuration")
	}
	if c.Timeout < 0 {
		return fmt.Errorf("negative timeout %v", c.Timeout)
	}
	if c.MaxMessage < 0 || c.MaxMessage > MaxMessageLimit {
		return fmt.Errorf("max_message %d outside 0..%d", c.MaxMessage, int64(MaxMessageLimit))
	}
	if n := len(c.Parties); n < 2 || n > mpc.MaxParties {
		return fmt.Errorf("%d parties; a deployment has 2 or 3", n)
	}
	for _, p := range mpc.PartiesOf(len(c.Parties)) {
		pc := &c.Parties[p]
		if pc.Role != p {
			return fmt.Errorf("Parties[%d] has role %s", p, pc.Role.Role())
		}
		if pc.Cert == nil {
			return fmt.Errorf("%s: no certificate", p.Role())
		}
		if p != mpc.P0 && pc.Addr == "" {
			return fmt.Errorf("%s: missing addr", p.Role())
		}
		for _, q := range mpc.PartiesOf(int(p)) {
			if bytes.Equal(c.Parties[q].Cert.RawSubjectPublicKeyInfo, pc.Cert.RawSubjectPublicKeyInfo) {
				return fmt.Errorf("%s and %s have the same public key; each role needs its own identity", q.Role(), p.Role())
			}
		}
	}
	return nil
}

func (c *Config) timeout() time.Duration {
	if c.Timeout == 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

func (c *Config) maxMessage() int64 {
	if c.MaxMessage == 0 {
		return DefaultMaxMessage
	}
	return c.MaxMessage
}

// Identity loads party me's private key together with the certificate the
// configuration pins for it. keyPath is the key given on the command line;
// if it is empty, the party's "key" entry is used.
func (c *Config) Identity(me mpc.Party, keyPath string) (tls.Certificate, error) {
	if int(me) >= len(c.Parties) {
		return tls.Certificate{}, fmt.Errorf("transport: %s is not a party of this %d-party deployment", me, len(c.Parties))
	}
	pc := c.Parties[me]
	if keyPath == "" {
		keyPath = pc.KeyFile
	}
	if keyPath == "" {
		return tls.Certificate{}, fmt.Errorf("transport: %s: no private key given and the config has no \"key\" for %s", me, me.Role())
	}
	id, err := LoadIdentity(keyPath, pc.CertFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("transport: %s: %w", me, err)
	}
	return id, nil
}

// roleList names the roles of an n-party deployment.
func roleList(n int) string {
	names := make([]string, n)
	for i, p := range mpc.PartiesOf(n) {
		names[i] = p.Role()
	}
	return strings.Join(names, ", ")
}

// checkAddr checks a host:port; dial addresses need a host.
func checkAddr(addr string, needHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if needHost && host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("%q: port must be a number from 1 to 65535", addr)
	}
	return nil
}

// parseSizeJSON reads a size given as a JSON number or string.
func parseSizeJSON(raw json.RawMessage) (int64, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return 0, fmt.Errorf("%s is neither a number nor a string", raw)
		}
		s = n.String()
	}
	return parseSize(s)
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"B", 1},
}

// parseSize parses a byte count such as "1048576", "64MiB" or "1 GB" and
// checks it against the frame format's limit.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive size (examples: 1048576, 64MiB, 1GiB)", s)
	}
	if n > MaxMessageLimit/mult {
		return 0, fmt.Errorf("%q exceeds the frame format's limit of %d bytes", s, int64(MaxMessageLimit))
	}
	return n * mult, nil
}
