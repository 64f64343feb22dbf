package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"veil/mpc"
	"veil/mpc/transport"
	"veil/service"
)

// The service's default ports: veil serve on 7300, veil helper on 7400,
// their operations endpoints on 9300 and 9400 (loopback), all below
// Linux's ephemeral range.
const (
	defaultServePort     = 7300
	defaultHelperPort    = 7400
	defaultMetricsAddr   = "127.0.0.1:9300"
	defaultHelperMetrics = "127.0.0.1:9400"
)

// serviceHosts reads --host ROLE=HOST[:PORT] for the service: the server
// and, with three parties, the helper; their addresses as others dial
// them, with the service's default ports.
func serviceHosts(specs []string, n int) (map[mpc.Party]string, error) {
	addrs := map[mpc.Party]string{}
	for _, s := range specs {
		name, hp, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--host %s: want ROLE=HOST[:PORT]", s)
		}
		p, err := mpc.ParseRole(name)
		if err != nil {
			return nil, fmt.Errorf("--host %s: %w", s, err)
		}
		if p == mpc.P0 || int(p) >= n {
			return nil, fmt.Errorf("--host %s: with --service, give the server's and, with three parties, the helper's", s)
		}
		host, port, err := splitHost(hp)
		if err != nil {
			return nil, fmt.Errorf("--host %s: %w", s, err)
		}
		if port == "" {
			port = strconv.Itoa(map[mpc.Party]int{mpc.P1: defaultServePort, mpc.P2: defaultHelperPort}[p])
		}
		if _, dup := addrs[p]; dup {
			return nil, fmt.Errorf("--host %s: the %s is given twice", s, p.Role())
		}
		addrs[p] = net.JoinHostPort(host, port)
	}
	for _, p := range mpc.PartiesOf(n)[1:] {
		if addrs[p] == "" {
			return nil, fmt.Errorf("--service: no --host %s=HOST[:PORT]", p.Role())
		}
	}
	return addrs, nil
}

// writeServiceConfigs writes DIR/serve.json (and, for three parties,
// DIR/helper.json) for veil serve and veil helper at addrs, serving
// models (NAME=PROGRAM), admitting the client certificate in dir
// (DIR/clients.pem), and checks that both load.
func writeServiceConfigs(w io.Writer, dir string, n int, addrs map[mpc.Party]string, models []string) error {
	if len(models) == 0 {
		return errors.New("--service: give the models to serve, --model NAME=PROGRAM (veil compile makes programs)")
	}
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return ":" + p }
	progs := map[string]string{}
	for _, m := range models {
		name, path, ok := strings.Cut(m, "=")
		if !ok || name == "" || path == "" {
			return fmt.Errorf("--model %s: want NAME=PROGRAM", m)
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("--model %s: %w", m, err)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		progs[name] = abs
	}
	cert, err := os.ReadFile(transport.CertFile(mpc.P0, dir))
	if err != nil {
		return fmt.Errorf("--service: the client's certificate to admit: %w", err)
	}
	write := func(name string, v any) (string, error) {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return "", err
		}
		path := filepath.Join(dir, name)
		return path, os.WriteFile(path, append(b, '\n'), 0o600)
	}
	if err := os.WriteFile(filepath.Join(dir, "clients.pem"), cert, 0o600); err != nil {
		return err
	}
	serve := map[string]any{
		"listen": port(addrs[mpc.P1]), "key": filepath.Base(transport.KeyFile(mpc.P1, dir)), "models": progs,
		"clients": "clients.pem", "max_sessions": 4, "timeout": "30s", "metrics": defaultMetricsAddr,
	}
	if n == 3 {
		serve["backend"] = "3pc"
		serve["helper"] = map[string]string{"addr": addrs[mpc.P2], "cert": filepath.Base(transport.CertFile(mpc.P2, dir))}
		path, err := write("helper.json", map[string]any{
			"listen": port(addrs[mpc.P2]), "key": filepath.Base(transport.KeyFile(mpc.P2, dir)),
			"servers": filepath.Base(transport.CertFile(mpc.P1, dir)), "max_sessions": 8, "timeout": "30s", "metrics": defaultHelperMetrics,
		})
		if err != nil {
			return err
		}
		if _, err := service.LoadHelperConfig(path); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s: veil helper --config %s (listening on %s)\n", path, path, addrs[mpc.P2])
	}
	path, err := write("serve.json", serve)
	if err != nil {
		return err
	}
	if _, err := service.LoadConfig(path); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s: veil serve --config %s (clients dial %s; admitted: %s)\n", path, path, addrs[mpc.P1], filepath.Join(dir, "clients.pem"))
	return nil
}
