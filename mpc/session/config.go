package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"veil/mpc"
	"veil/mpc/transport"
)

// configFile is a parties file as this package writes it, in the format
// of [transport.Config].
type configFile struct {
	Parties []configParty `json:"parties"`
	Timeout string        `json:"timeout"`
}

type configParty struct {
	Role string `json:"role"`
	Addr string `json:"addr,omitempty"`
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// WriteHostsConfig writes dir/parties.json for a deployment whose parties
// run on hosts of their own. Party p, one of P0 … P(len(addrs)−1), accepts
// connections at addrs[p] (host:port as the others dial it; "" for the
// client, which only dials) and presents the certificate dir/<role>.crt;
// its private key is <role>.key beside the file on its own host (or the
// key given to veil party --key). The certificates must be in dir: the
// file is written, replacing any earlier one, only if it then loads with
// [transport.LoadConfig]. It returns the file's path.
func WriteHostsConfig(dir string, addrs []string, timeout time.Duration) (string, error) {
	return writeConfig(dir, addrs, timeout, true)
}

// writeConfig writes dir/parties.json for the parties P0 …
// P(len(addrs)−1): party p listens at addrs[p] ("" for none) and its
// certificate and key are the files transport.GenerateIdentity writes in
// dir, named relative to it. With check, the file must load with
// transport.LoadConfig before it replaces an earlier one.
func writeConfig(dir string, addrs []string, timeout time.Duration, check bool) (string, error) {
	n := len(addrs)
	if n < 2 || n > mpc.MaxParties {
		return "", fmt.Errorf("session: %d parties; a deployment has 2 or 3", n)
	}
	cfg := configFile{Timeout: timeout.String()}
	for _, p := range mpc.PartiesOf(n) {
		cfg.Parties = append(cfg.Parties, configParty{
			Role: p.Role(),
			Addr: addrs[p],
			Cert: filepath.Base(transport.CertFile(p, dir)),
			Key:  filepath.Base(transport.KeyFile(p, dir)),
		})
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "parties.json")
	// Written beside its final name, so that relative paths resolve
	// alike and the rename replaces an earlier file at once.
	f, err := os.CreateTemp(dir, ".parties.json-*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename, nothing is left
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err != nil {
		return "", err
	}
	if check {
		if _, err := transport.LoadConfig(tmp); err != nil {
			// LoadConfig names the temporary file; say what is
			// wrong with the one it would have become.
			if inner := errors.Unwrap(err); inner != nil {
				err = inner
			}
			return "", fmt.Errorf("session: %s not written: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return path, nil
}
