//go:build unix

package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"veil/fixed"
	"veil/internal/pinned"
	"veil/mpc/session"
	"veil/service"
)

var (
	loadClients    = flag.Int("serve.clients", 4, "TestServeLoad: concurrent clients")
	loadInferences = flag.Int("serve.inferences", 3, "TestServeLoad: inferences per client")
)

// TestServeLoad runs -serve.clients concurrent clients, each one session
// of -serve.inferences Fashion-MNIST images (distinct across clients),
// against one veil serve process serving the bundled LeNet, with one
// veil helper process in 3PC and alone in 2PC, and checks that no
// session fails and that every output agrees with the cleartext
// executor (same top-1, logits within the propagated bound). It reports
// the throughput, the latency percentiles of one inference and each
// daemon's memory: idle, peak, and after the load, which must fall back
// near its idle level.
//
//	go test ./cmd/veil -run TestServeLoad -v -serve.clients 32 -serve.inferences 20
func TestServeLoad(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	mustVeil(t, "keygen", "--dir", keys, "--parties", "3", "--loopback")
	progPath := filepath.Join(dir, "lenet.vp")
	mustVeil(t, "compile", lenet, "--scale", fmt.Sprint(defaultScale), "-o", progPath)
	prog, err := fixed.ReadFile(progPath)
	if err != nil {
		t.Fatal(err)
	}
	nc, ni := *loadClients, *loadInferences
	df := dataFlags{}
	xs, err := df.loadExamples(fashionT, nc*ni, prog.InputShape(), prog.InputLayout())
	if err != nil {
		t.Fatal(err)
	}
	if len(xs) < nc*ni {
		t.Fatalf("%d images for %d clients × %d", len(xs), nc, ni)
	}
	pin := func(file string) pinned.Pin {
		crt, err := pinned.ReadCertificate(filepath.Join(keys, file))
		if err != nil {
			t.Fatal(err)
		}
		return pinned.PinOf(crt)
	}
	id, err := pinned.LoadKey(filepath.Join(keys, "client.key"), "client")
	if err != nil {
		t.Fatal(err)
	}
	for _, backend := range []string{"3pc", "2pc"} {
		t.Run(backend, func(t *testing.T) {
			addr := freeAddr(t)
			cfg := fmt.Sprintf(`{"listen": %q, "key": "keys/server.key", "models": {"lenet": "lenet.vp"}, "clients": "any", "max_sessions": %d, "timeout": "60s", "backend": %q`, addr, nc, backend)
			daemons := map[string]*exec.Cmd{}
			if backend == "3pc" {
				haddr := freeAddr(t)
				hcfg := filepath.Join(dir, "helper.json")
				if err := os.WriteFile(hcfg, []byte(fmt.Sprintf(`{"listen": %q, "key": "keys/helper.key", "servers": "keys/server.crt", "max_sessions": %d, "timeout": "60s"}`, haddr, nc)), 0o600); err != nil {
					t.Fatal(err)
				}
				daemons["helper"], _ = startDaemon(t, "helper", "--config", hcfg)
				cfg += fmt.Sprintf(`, "helper": {"addr": %q, "cert": "keys/helper.crt"}`, haddr)
			}
			cfgPath := filepath.Join(dir, "serve.json")
			if err := os.WriteFile(cfgPath, []byte(cfg+"}"), 0o600); err != nil {
				t.Fatal(err)
			}
			var log *lockedBuffer
			daemons["server"], log = startDaemon(t, "serve", "--config", cfgPath)
			time.Sleep(200 * time.Millisecond)
			idle, peak := map[string]int64{}, map[string]*atomic.Int64{}
			for name, d := range daemons {
				idle[name], peak[name] = procMemory(t, d.Process.Pid, "VmRSS"), &atomic.Int64{}
			}
			// Sample the daemons' resident memory while the load runs.
			stop, sampled := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(sampled)
				for {
					select {
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
						for name, d := range daemons {
							peak[name].Store(max(peak[name].Load(), procMemory(t, d.Process.Pid, "VmRSS")))
						}
					}
				}
			}()
			var mu sync.Mutex
			var lat []time.Duration
			outs := make([][]float64, nc*ni)
			var wg sync.WaitGroup
			start := time.Now()
			for c := range nc {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
					defer cancel()
					cl, err := service.Dial(ctx, addr, service.ClientConfig{Identity: id, Server: pin("server.crt"), Helper: pin("helper.crt"),
						Options: session.Options{Backend: backend}, Timeout: 60 * time.Second})
					if err != nil {
						t.Errorf("client %d: %v", c, err)
						return
					}
					defer cl.Close()
					mine := xs[c*ni : (c+1)*ni]
					res, err := cl.Infer(ctx, service.Request{Model: "lenet", Program: fmt.Sprintf("%x", prog.PublicDigest())}, func(*fixed.Program) ([][]float32, error) {
						in := make([][]float32, len(mine))
						for i, x := range mine {
							in[i] = x.Input
						}
						return in, nil
					})
					if err != nil {
						t.Errorf("client %d: %v", c, err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					lat = append(lat, res.Report.PerInfer...)
					for i, o := range res.Outputs {
						outs[c*ni+i] = o[0]
					}
				}()
			}
			wg.Wait()
			wall := time.Since(start)
			close(stop)
			<-sampled
			if t.Failed() {
				t.Fatalf("server log:\n%s", log.String())
			}
			checkSecureOutputs(t, prog, xs[:nc*ni], outs)
			slices.Sort(lat)
			pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(math.Ceil(p*float64(len(lat))))-1)] }
			mem := ""
			for _, name := range slices.Sorted(maps.Keys(daemons)) {
				// Back to idle: a daemon frees memory once no session runs.
				pid := daemons[name].Process.Pid
				var after int64
				deadline := time.Now().Add(15 * time.Second)
				for {
					after = procMemory(t, pid, "VmRSS")
					if after <= idle[name]+64<<20 || time.Now().After(deadline) {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
				mem += fmt.Sprintf("; %s RSS idle %s, peak %s, after the load %s", name, mib(idle[name]), mib(procMemory(t, pid, "VmHWM")), mib(after))
				if after > idle[name]+64<<20 {
					t.Errorf("the %s's memory stayed at %s after the load (idle %s)", name, mib(after), mib(idle[name]))
				}
			}
			t.Logf("%s: %d clients × %d LeNet inferences: %d outputs checked, %.1f s, %.1f inferences/s; latency of one inference p50 %v, p99 %v%s",
				backend, nc, ni, len(lat), wall.Seconds(), float64(len(lat))/wall.Seconds(), pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), mem)
			if !strings.Contains(log.String(), "session") {
				t.Errorf("the server logged no session:\n%s", log.String())
			}
		})
	}
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// procMemory reads a memory field (VmRSS, VmHWM) of process pid, in bytes.
func procMemory(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc here to read the server's memory: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

// freeAddr returns a loopback address with a port free now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor waits until the log contains s.
func waitFor(t *testing.T, log *lockedBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(log.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q after 20 s: %s", s, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
