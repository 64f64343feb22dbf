package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"veil/service"
)

func serveCmd() *cobra.Command {
	var d daemonFlags
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Serve secure inferences of your models to many clients, until stopped",
		Long: `serve is the model owner's long-running server: it accepts clients (veil infer,
or the Go package veil/service) over mutually authenticated TLS, each in a
session of its own: two-party (2pc, the default: no helper) or three-party
(3pc, with the helper service veil helper, run by another organisation). The
configuration file (see the service package's Config) names the address,
the server's key, the compiled programs served by name, the admitted client
keys (a PEM file read again whenever it changes, or "any"), the number of
sessions run at once (a request beyond it is refused as busy), the backend
and its helper, and, optionally, the address of the operations endpoints:
/metrics (Prometheus), /healthz and /readyz. Clients pin the server's key
and may pin each model's program by its digest, logged at start-up.

SIGINT or SIGTERM stops accepting, lets the running sessions finish for up
to --drain, then stops. Logs (one line per connection and per session, never
inputs, outputs, weights or keys) go to standard error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := service.LoadConfig(d.config)
			if err != nil {
				return err
			}
			srv, err := cfg.Server()
			if err != nil {
				return err
			}
			srv.Logger = d.logger(cmd.ErrOrStderr())
			for _, name := range slices.Sorted(maps.Keys(srv.Models)) {
				srv.Logger.Info("model", "name", name, "program", srv.Digest(name))
			}
			return d.run(cfg.Listen, cfg.Metrics, srv.Logger, srv.Serve, srv.Shutdown, srv.Handler)
		},
	}
	d.register(cmd, "the server's configuration file (JSON; see the package documentation of veil/service)")
	return cmd
}

func helperCmd() *cobra.Command {
	var d daemonFlags
	cmd := &cobra.Command{
		Use:   "helper --config FILE",
		Short: "Serve as the helper of 3PC sessions for the model owners you work for, until stopped",
		Long: `helper is 3PC's dealer as a long-running service, run by an organisation other
than the model owner's (the 3PC trust model: the helper does not collude
with the server). Servers whose keys the configuration's "servers" file
lists open a session with it for each 3pc request; the server's client joins
that session with a one-time token and a throwaway certificate, so the
helper learns which server and session it serves and nothing else: no
client identity, no input, weight or output. The configuration file (see
the service package's HelperConfig) names the address, the helper's key,
the servers' keys, the sessions run at once and the 3pc options.

SIGINT or SIGTERM stops accepting, lets the running sessions finish for up
to --drain, then stops.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := service.LoadHelperConfig(d.config)
			if err != nil {
				return err
			}
			h, err := cfg.Helper()
			if err != nil {
				return err
			}
			h.Logger = d.logger(cmd.ErrOrStderr())
			return d.run(cfg.Listen, cfg.Metrics, h.Logger, h.Serve, h.Shutdown, h.Handler)
		},
	}
	d.register(cmd, "the helper's configuration file (JSON; see the package documentation of veil/service)")
	return cmd
}

// daemonFlags are veil serve's and veil helper's.
type daemonFlags struct {
	config  string
	drain   time.Duration
	logJSON bool
}

func (d *daemonFlags) register(cmd *cobra.Command, configUsage string) {
	cmd.Flags().StringVar(&d.config, "config", "", configUsage)
	cmd.Flags().DurationVar(&d.drain, "drain", 30*time.Second, "on SIGINT or SIGTERM, how long running sessions may take to finish")
	cmd.Flags().BoolVar(&d.logJSON, "log-json", false, "log JSON lines instead of text")
	cmd.MarkFlagRequired("config")
}

func (d *daemonFlags) logger(w io.Writer) *slog.Logger {
	if d.logJSON {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// run listens on addr and serves until SIGINT or SIGTERM, then shuts
// down within the drain time; ops, if set, serves the operations
// endpoints on opsAddr.
func (d *daemonFlags) run(addr, opsAddr string, log *slog.Logger, serve func(net.Listener) error, shutdown func(context.Context) error, ops func() http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if opsAddr != "" && ops != nil {
		mln, err := net.Listen("tcp", opsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics: %w", err)
		}
		hs := &http.Server{Handler: ops(), ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(mln)
		defer hs.Close()
		log.Info("operations endpoints", "addr", mln.Addr().String(), "paths", "/metrics /healthz /readyz")
	}
	log.Info("serving", "addr", ln.Addr().String())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("stopping: no new sessions; waiting for the running ones", "drain", d.drain)
	dctx, cancel := context.WithTimeout(context.Background(), d.drain)
	defer cancel()
	err = shutdown(dctx)
	if serr := <-errc; !errors.Is(serr, service.ErrServerClosed) {
		return serr
	}
	if err != nil {
		return fmt.Errorf("sessions still running after %v were stopped: %w", d.drain, err)
	}
	log.Info("stopped")
	return nil
}
