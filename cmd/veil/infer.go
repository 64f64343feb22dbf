package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"veil/fixed"
	"veil/internal/pinned"
	"veil/ir"
	"veil/model"
	"veil/mpc/session"
	"veil/service"
)

// inferReport is what veil infer --json prints.
type inferReport struct {
	Model       string               `json:"model"`
	Program     string               `json:"program"`
	N           int                  `json:"n"`
	Predictions []session.Prediction `json:"predictions"`
	Accuracy    *float64             `json:"accuracy,omitempty"`
	WallS       float64              `json:"wall_s"`
	BytesSent   int64                `json:"bytes_sent"`
	BytesRecv   int64                `json:"bytes_recv"`
}

func inferCmd() *cobra.Command {
	var (
		df                          dataFlags
		keyPath, serverKey, program string
		backend, helperKey          string
		modelName                   string
		asJSON                      bool
		timeout                     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "infer ADDR --model NAME --key KEY --server-key FILE [--backend 3pc --helper-key FILE] [IMAGE...]",
		Short: "Run images through a model of a veil serve server, securely",
		Long: `infer dials the veil serve server at ADDR, pins its key (--server-key: its
certificate or public key file), presents the client's own key (--key), and
runs the images (IMAGE arguments or --data) through the model NAME in one
two-party session: the server never sees the images, the client never sees
the weights, only the client sees the outputs. --program pins the model's
program by its digest (veil serve prints it): a server serving another is
refused. With --backend 3pc the session also runs through the helper service
the server names, whose key the client pins (--helper-key). Prints each
image's top-1 as veil predict does (--json: one object).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := pinned.LoadKey(keyPath, "veil client")
			if err != nil {
				return err
			}
			pub, err := pinned.ReadPublic(serverKey)
			if err != nil {
				return fmt.Errorf("--server-key: %w", err)
			}
			pin, err := pinned.PinKey(pub)
			if err != nil {
				return fmt.Errorf("--server-key: %w", err)
			}
			var helperPin pinned.Pin
			switch {
			case backend == "3pc" && helperKey == "":
				return usagef("--backend 3pc: give --helper-key, the helper's certificate: a 3PC client trusts the helper not to collude with the server, and pins it")
			case backend != "3pc" && helperKey != "":
				return usagef("--helper-key is for --backend 3pc")
			case backend != "2pc" && backend != "3pc":
				return usagef("--backend %q: 2pc or 3pc", backend)
			case helperKey != "":
				hpub, err := pinned.ReadPublic(helperKey)
				if err == nil {
					helperPin, err = pinned.PinKey(hpub)
				}
				if err != nil {
					return fmt.Errorf("--helper-key: %w", err)
				}
			}
			samples, names, err := clientSamples(&df, args[1:])
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			dctx, cancel := context.WithTimeout(ctx, timeout)
			c, err := service.Dial(dctx, args[0], service.ClientConfig{Identity: id, Server: pin, Helper: helperPin, Timeout: timeout,
				Options: session.Options{Backend: backend}})
			cancel()
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := c.Infer(ctx, service.Request{Model: modelName, Program: program}, func(p *fixed.Program) ([][]float32, error) {
				// The server's program says how its images were
				// preprocessed; the client follows it.
				changed, err := followServer(&df, p, false)
				if err != nil {
					return nil, err
				}
				if changed {
					if samples, _, err = clientSamples(&df, args[1:]); err != nil {
						return nil, err
					}
				}
				return model.Inputs(samples, p.InputShape(), p.InputLayout())
			})
			if err != nil {
				return err
			}
			labels := make([]int, len(samples))
			for i, s := range samples {
				labels[i] = s.Label
			}
			preds, acc := session.Predictions(res.Program, res.Outputs, names, labels)
			d := res.Program.PublicDigest()
			rep := inferReport{Model: modelName, Program: fmt.Sprintf("%x", d), N: res.Report.N, Predictions: preds, Accuracy: acc,
				WallS: res.Report.Wall.Seconds(), BytesSent: res.Report.Net.TotalSent(), BytesRecv: res.Report.Net.TotalRecv()}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(rep)
			}
			for _, p := range preds {
				fmt.Fprintf(w, "%s: top-1 %d\n", p.Image, p.Top1)
			}
			if acc != nil {
				fmt.Fprintf(w, "accuracy %.2f%% on %d images\n", 100**acc, rep.N)
			}
			fmt.Fprintf(w, "%d secure inferences of %q in %.2f s; sent %s, received %s\n", rep.N, modelName, rep.WallS,
				ir.FormatBytes(rep.BytesSent), ir.FormatBytes(rep.BytesRecv))
			return nil
		},
	}
	df.register(cmd, "the labelled images to run (image folder, IDX pair, CSV, JSON)")
	cmd.Flags().StringVar(&modelName, "model", "", "the model's name on the server")
	cmd.Flags().StringVar(&keyPath, "key", "", "this client's private key (veil keygen writes one)")
	cmd.Flags().StringVar(&serverKey, "server-key", "", "the server's certificate or public key file, pinned")
	cmd.Flags().StringVar(&program, "program", "", "the model's program digest (hex) to pin, as veil serve prints it")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().StringVar(&backend, "backend", "2pc", "the server's backend: 2pc (no helper) or 3pc (with the helper service the server names)")
	cmd.Flags().StringVar(&helperKey, "helper-key", "", "with --backend 3pc: the helper's certificate or public key file, pinned")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the server to answer the connection, and for any message")
	cmd.MarkFlagRequired("model")
	cmd.MarkFlagRequired("key")
	cmd.MarkFlagRequired("server-key")
	return cmd
}
