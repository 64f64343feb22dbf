package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"veil/fixed"
	"veil/internal/pinned"
	"veil/mpc"
	"veil/mpc/session"
)

// Config is veil serve's configuration file, JSON:
//
//	{
//	  "listen": "0.0.0.0:7300",
//	  "key": "server.key",
//	  "models": {"lenet": "lenet.veil", "mlp": "mlp.veil"},
//	  "clients": "clients.pem",
//	  "max_sessions": 4,
//	  "timeout": "30s",
//	  "options": {"ot-k": "4"},
//	  "metrics": "127.0.0.1:9300"
//	}
//
// listen is the address to accept clients on; key the server's private
// key (veil keygen writes one; clients pin its public half); models the
// compiled programs (veil compile) served, by the name clients ask for;
// clients the admission file (PEM certificates or public keys of the
// admitted clients, read again whenever it changes) or "any" to admit
// every client; max_sessions the sessions run at once (default 4);
// timeout the transport's (default 10 s); options the 2pc backend's;
// max_pending_per_host the handshakes one host may have in progress at
// once (default twice max_sessions, at least 8); metrics, if set, the
// address of the operations endpoints
// (Server.Handler: /metrics, /healthz, /readyz), apart from the
// clients'.
// Relative paths are relative to the file's directory.
type Config struct {
	Listen      string            `json:"listen"`
	Key         string            `json:"key"`
	Models      map[string]string `json:"models"`
	Clients     string            `json:"clients"`
	MaxSessions int               `json:"max_sessions,omitempty"`
	Timeout     string            `json:"timeout,omitempty"`
	Options     mpc.Options       `json:"options,omitempty"`
	Metrics     string            `json:"metrics,omitempty"`
	MaxPending  int               `json:"max_pending_per_host,omitempty"`

	dir     string
	timeout time.Duration
}

// LoadConfig reads and checks the configuration file at path.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("service config: %w", err)
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("service config %s: %w", path, err)
	}
	c.dir = filepath.Dir(path)
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("service config %s: %w", path, err)
	}
	return &c, nil
}

func (c *Config) check() error {
	switch {
	case c.Listen == "":
		return errors.New(`no "listen" address`)
	case c.Key == "":
		return errors.New(`no "key": the server's private key file`)
	case len(c.Models) == 0:
		return errors.New(`no "models"`)
	case c.Clients == "":
		return errors.New(`no "clients": an admission file of client keys, or "any"`)
	case c.MaxPending < 0:
		return fmt.Errorf(`"max_pending_per_host" %d is negative`, c.MaxPending)
	case c.MaxSessions < 0:
		return fmt.Errorf(`"max_sessions" %d is negative`, c.MaxSessions)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf(`"listen" %q: %w`, c.Listen, err)
	}
	if c.Metrics != "" {
		if _, _, err := net.SplitHostPort(c.Metrics); err != nil {
			return fmt.Errorf(`"metrics" %q: %w`, c.Metrics, err)
		}
	}
	if c.Timeout != "" {
		d, err := time.ParseDuration(c.Timeout)
		if err != nil || d <= 0 {
			return fmt.Errorf(`"timeout" %q is not a positive duration such as "30s"`, c.Timeout)
		}
		c.timeout = d
	}
	for name, path := range c.Models {
		if name == "" || path == "" {
			return fmt.Errorf("model %q at %q: a name and a program file are needed", name, path)
		}
	}
	return nil
}

func (c *Config) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// Server loads the key, the programs and the admission file the
// configuration names and returns the server they make.
func (c *Config) Server() (*Server, error) {
	id, err := pinned.LoadKey(c.path(c.Key), "veil server")
	if err != nil {
		return nil, fmt.Errorf("service: server key: %w", err)
	}
	s := &Server{Identity: id, Models: map[string]*fixed.Program{}, MaxSessions: c.MaxSessions, MaxPendingPerHost: c.MaxPending, Timeout: c.timeout,
		Options: session.Options{Backend: "2pc", BackendOptions: c.Options}}
	for _, name := range slices.Sorted(maps.Keys(c.Models)) {
		p, err := fixed.ReadFile(c.path(c.Models[name]))
		if err != nil {
			return nil, fmt.Errorf("service: model %q: %w", name, err)
		}
		s.Models[name] = p
	}
	if c.Clients == "any" {
		s.AdmitAny = true
	} else if s.Admission, err = LoadAdmission(c.path(c.Clients)); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	return s, nil
}
