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
//	  "backend": "2pc",
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
// timeout the transport's (default 10 s); backend 2pc (the default) or
// 3pc, which needs "helper": {"addr": "HOST:PORT", "cert": "helper.crt"},
// the helper service (veil helper) and its certificate, pinned; options
// the backend's; max_pending_per_host the handshakes one host may have
// in progress at once (default twice max_sessions, at least 8);
// session_timeout the longest one session may take (default 15m);
// metrics, if set, the address of the operations endpoints
// (Server.Handler: /metrics, /healthz, /readyz), apart from the
// clients'. Relative paths are relative to the file's directory.
type Config struct {
	daemonConfig
	Models     map[string]string `json:"models"`
	Clients    string            `json:"clients"`
	Backend    string            `json:"backend,omitempty"`
	Helper     *helperRef        `json:"helper,omitempty"`
	Metrics    string            `json:"metrics,omitempty"`
	MaxPending int               `json:"max_pending_per_host,omitempty"`
	// SessionTimeout, a duration such as "15m": see Server.SessionTimeout.
	SessionTimeout string `json:"session_timeout,omitempty"`

	sessionTimeout time.Duration
}

// HelperConfig is veil helper's configuration file, JSON:
//
//	{
//	  "listen": "0.0.0.0:7400",
//	  "key": "helper.key",
//	  "servers": "servers.pem",
//	  "max_sessions": 8,
//	  "timeout": "30s",
//	  "options": {"compare": "fast"},
//	  "metrics": "127.0.0.1:9400"
//	}
//
// servers is the PEM file of the keys of the servers the helper works
// for (read again whenever it changes); options the 3pc backend's, as
// the servers set them; metrics, if set, the address of the operations
// endpoints (Helper.Handler); the rest as in Config.
type HelperConfig struct {
	daemonConfig
	Servers string `json:"servers"`
	Metrics string `json:"metrics,omitempty"`
}

// daemonConfig is what both daemons' files have.
type daemonConfig struct {
	Listen      string      `json:"listen"`
	Key         string      `json:"key"`
	MaxSessions int         `json:"max_sessions,omitempty"`
	Timeout     string      `json:"timeout,omitempty"`
	Options     mpc.Options `json:"options,omitempty"`

	dir     string
	timeout time.Duration
}

// helperRef names the helper service of a server's 3pc sessions.
type helperRef struct {
	Addr string `json:"addr"`
	Cert string `json:"cert"`
}

// LoadConfig reads and checks veil serve's configuration file at path.
func LoadConfig(path string) (*Config, error) {
	var c Config
	if err := load(path, &c, &c.daemonConfig); err != nil {
		return nil, err
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("service config %s: %w", path, err)
	}
	return &c, nil
}

// LoadHelperConfig reads and checks veil helper's configuration file.
func LoadHelperConfig(path string) (*HelperConfig, error) {
	var c HelperConfig
	if err := load(path, &c, &c.daemonConfig); err != nil {
		return nil, err
	}
	if c.Servers == "" {
		return nil, fmt.Errorf(`helper config %s: no "servers": the file of the keys of the servers this helper works for`, path)
	}
	if err := checkAddr("metrics", c.Metrics); err != nil {
		return nil, fmt.Errorf("helper config %s: %w", path, err)
	}
	return &c, nil
}

// load decodes the file at path into v, refusing unknown fields, and
// checks its common part d.
func load(path string, v any, d *daemonConfig) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("service config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("service config %s: %w", path, err)
	}
	d.dir = filepath.Dir(path)
	if err := d.check(); err != nil {
		return fmt.Errorf("service config %s: %w", path, err)
	}
	return nil
}

func (d *daemonConfig) check() error {
	switch {
	case d.Listen == "":
		return errors.New(`no "listen" address`)
	case d.Key == "":
		return errors.New(`no "key": the private key file`)
	case d.MaxSessions < 0:
		return fmt.Errorf(`"max_sessions" %d is negative`, d.MaxSessions)
	}
	if err := checkAddr("listen", d.Listen); err != nil {
		return err
	}
	var err error
	d.timeout, err = parseDuration("timeout", d.Timeout)
	return err
}

// checkAddr checks the HOST:PORT of field, if given.
func checkAddr(field, addr string) error {
	if addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf(`%q %q: %w`, field, addr, err)
	}
	return nil
}

// parseDuration reads the positive duration of field, if given (zero
// if not).
func parseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	t, err := time.ParseDuration(s)
	if err != nil || t <= 0 {
		return 0, fmt.Errorf(`%q %q is not a positive duration such as "30s"`, field, s)
	}
	return t, nil
}

func (c *Config) check() error {
	switch {
	case len(c.Models) == 0:
		return errors.New(`no "models"`)
	case c.Clients == "":
		return errors.New(`no "clients": an admission file of client keys, or "any"`)
	case c.MaxPending < 0:
		return fmt.Errorf(`"max_pending_per_host" %d is negative`, c.MaxPending)
	case c.Backend != "" && c.Backend != "2pc" && c.Backend != "3pc":
		return fmt.Errorf(`"backend" %q: 2pc or 3pc`, c.Backend)
	case c.Backend == "3pc" && (c.Helper == nil || c.Helper.Addr == "" || c.Helper.Cert == ""):
		return errors.New(`backend 3pc needs "helper": {"addr": "HOST:PORT", "cert": "helper.crt"}`)
	case c.Backend != "3pc" && c.Helper != nil:
		return errors.New(`a "helper" is set, but only backend 3pc uses one`)
	}
	if err := checkAddr("metrics", c.Metrics); err != nil {
		return err
	}
	var err error
	if c.sessionTimeout, err = parseDuration("session_timeout", c.SessionTimeout); err != nil {
		return err
	}
	for name, path := range c.Models {
		if name == "" || path == "" {
			return fmt.Errorf("model %q at %q: a name and a program file are needed", name, path)
		}
	}
	return nil
}

func (d *daemonConfig) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.dir, p)
}

// Server loads the key, the programs, the admission file and the
// helper's certificate the configuration names and returns the server
// they make.
func (c *Config) Server() (*Server, error) {
	id, err := pinned.LoadKey(c.path(c.Key), "veil server")
	if err != nil {
		return nil, fmt.Errorf("service: server key: %w", err)
	}
	backend := c.Backend
	if backend == "" {
		backend = "2pc"
	}
	s := &Server{Identity: id, Models: map[string]*fixed.Program{}, MaxSessions: c.MaxSessions, MaxPendingPerHost: c.MaxPending, Timeout: c.timeout, SessionTimeout: c.sessionTimeout,
		Options: session.Options{Backend: backend, BackendOptions: c.Options}}
	for _, name := range slices.Sorted(maps.Keys(c.Models)) {
		p, err := fixed.ReadFileCompact(c.path(c.Models[name])) // held while the service runs
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
	if c.Helper != nil {
		pub, err := pinned.ReadPublic(c.path(c.Helper.Cert))
		if err != nil {
			return nil, fmt.Errorf("service: helper certificate: %w", err)
		}
		pin, err := pinned.PinKey(pub)
		if err != nil {
			return nil, fmt.Errorf("service: helper certificate: %w", err)
		}
		s.Helper = &HelperLink{Addr: c.Helper.Addr, Key: pin}
	}
	return s, nil
}

// Helper loads the key and the servers' keys the configuration names
// and returns the helper they make.
func (c *HelperConfig) Helper() (*Helper, error) {
	id, err := pinned.LoadKey(c.path(c.Key), "veil helper")
	if err != nil {
		return nil, fmt.Errorf("service: helper key: %w", err)
	}
	adm, err := LoadAdmission(c.path(c.Servers))
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	return &Helper{Identity: id, Servers: adm, MaxSessions: c.MaxSessions, Timeout: c.timeout,
		Options: session.Options{Backend: "3pc", BackendOptions: c.Options}}, nil
}
