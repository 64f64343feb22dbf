//go:build unix

package transport

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"veil/mpc"
)

// The server runs in a child process (this test binary, re-executed) so
// that the test can stop it with SIGSTOP or kill it with SIGKILL, as an
// operator or the OOM killer might.
const childEnv = "VEIL_TRANSPORT_CHILD_CONFIG"

// TestMain lets the test binary serve as the child server.
func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(childServer(path))
	}
	os.Exit(m.Run())
}

// childServer connects as the server, with the listener inherited as file
// descriptor 3, and echoes the client's messages until the connection ends.
func childServer(path string) int {
	cfg, err := LoadConfig(path)
	if err != nil {
		return 2
	}
	id, err := cfg.Identity(mpc.P1, "")
	if err != nil {
		return 3
	}
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		return 4
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := connect(ctx, cfg, mpc.P1, id, ln)
	if err != nil {
		return 5
	}
	defer n.Close()
	for {
		m, err := n.Recv(mpc.P0)
		if err != nil {
			return 0
		}
		if err := n.Send(mpc.P0, m); err != nil {
			return 0
		}
	}
}

func TestChildProcess(t *testing.T) {
	const timeout = time.Second
	tests := []struct {
		name    string
		sig     syscall.Signal
		want    string
		timeout bool
		within  time.Duration
	}{
		{"stopped", syscall.SIGSTOP, "timed out", true, 2 * timeout},
		{"killed", syscall.SIGKILL, "connection lost", false, timeout / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, `"timeout": "1s"`)
			lnFile, err := f.lns[mpc.P1].(*net.TCPListener).File()
			if err != nil {
				t.Fatal(err)
			}
			f.lns[mpc.P1].Close()
			f.lns[mpc.P1] = nil
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+filepath.Join(f.dir, "veil.json"))
			cmd.ExtraFiles = []*os.File{lnFile}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lnFile.Close()
			defer func() {
				cmd.Process.Signal(syscall.SIGCONT)
				cmd.Process.Kill()
				cmd.Wait()
			}()

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			nets, errs := f.connectAll(ctx, [3]*Config{}, f.ids)
			for _, p := range []mpc.Party{mpc.P0, mpc.P2} {
				if errs[p] != nil {
					t.Fatal(errs[p])
				}
			}
			defer closeAll(nets)

			// The child is alive and answers.
			if err := nets[0].Send(mpc.P1, []byte("ping")); err != nil {
				t.Fatal(err)
			}
			if m, err, _ := recvWithin(t, nets[0], mpc.P1, 10*time.Second); err != nil || string(m) != "ping" {
				t.Fatalf("echo: %q, %v", m, err)
			}
			// Idle but alive: heartbeats keep it from timing out.
			time.Sleep(2 * timeout)
			if err := nets[0].Send(mpc.P1, []byte("still there?")); err != nil {
				t.Fatal(err)
			}
			if m, err, _ := recvWithin(t, nets[0], mpc.P1, 10*time.Second); err != nil || string(m) != "still there?" {
				t.Fatalf("echo after idling: %q, %v", m, err)
			}

			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			for _, q := range []mpc.Party{mpc.P0, mpc.P2} {
				_, err, took := recvWithin(t, nets[q], mpc.P1, 10*time.Second)
				t.Logf("%s: %v after %v", q, err, took)
				wantPeerError(t, err, mpc.P1, tt.want)
				if errors.Is(err, mpc.ErrTimeout) != tt.timeout || took > tt.within {
					t.Errorf("%s: %v after %v, want it within %v", q, err, took, tt.within)
				}
			}
		})
	}
}
