package main

import (
	"context"
	"errors"
	"fmt"
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
	var (
		cfgPath string
		drain   time.Duration
		logJSON bool
	)
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Serve secure inferences of your models to many clients (2PC), until stopped",
		Long: `serve is the model owner's long-running server: it accepts clients (veil infer,
or the Go package veil/service) over mutually authenticated TLS, each in a
two-party (2pc) session of its own, with no helper. The configuration file
(see the service package's Config) names the address, the server's key, the
compiled programs served by name, the admitted client keys (a PEM file read
again whenever it changes, or "any"), the number of sessions run at once (a
request beyond it is refused as busy) and, optionally, the address of the
operations endpoints: /metrics (Prometheus), /healthz and /readyz. Clients pin the server's key
and may pin each model's program by its digest, printed at start-up.

SIGINT or SIGTERM stops accepting, lets the running sessions finish for up
to --drain, then stops. Logs (one line per connection and per session, never
inputs, outputs, weights or keys) go to standard error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := service.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			srv, err := cfg.Server()
			if err != nil {
				return err
			}
			var h slog.Handler = slog.NewTextHandler(cmd.ErrOrStderr(), nil)
			if logJSON {
				h = slog.NewJSONHandler(cmd.ErrOrStderr(), nil)
			}
			srv.Logger = slog.New(h)
			ln, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			for _, name := range slices.Sorted(maps.Keys(srv.Models)) {
				srv.Logger.Info("model", "name", name, "program", srv.Digest(name))
			}
			if cfg.Metrics != "" {
				mln, err := net.Listen("tcp", cfg.Metrics)
				if err != nil {
					ln.Close()
					return fmt.Errorf("serve: metrics: %w", err)
				}
				ops := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
				go ops.Serve(mln)
				defer ops.Close()
				srv.Logger.Info("operations endpoints", "addr", mln.Addr().String(), "paths", "/metrics /healthz /readyz")
			}
			srv.Logger.Info("serving", "addr", ln.Addr().String(), "max_sessions", max(cfg.MaxSessions, 0))
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			srv.Logger.Info("stopping: no new sessions; waiting for the running ones", "drain", drain)
			dctx, cancel := context.WithTimeout(context.Background(), drain)
			defer cancel()
			err = srv.Shutdown(dctx)
			if serr := <-errc; !errors.Is(serr, service.ErrServerClosed) {
				return serr
			}
			if err != nil {
				return fmt.Errorf("serve: sessions still running after %v were stopped: %w", drain, err)
			}
			srv.Logger.Info("stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "the server's configuration file (JSON; see the package documentation of veil/service)")
	cmd.Flags().DurationVar(&drain, "drain", 30*time.Second, "on SIGINT or SIGTERM, how long running sessions may take to finish")
	cmd.Flags().BoolVar(&logJSON, "log-json", false, "log JSON lines instead of text")
	cmd.MarkFlagRequired("config")
	return cmd
}
