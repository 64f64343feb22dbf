package service

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/fixed"
	"veil/internal/pinned"
	"veil/internal/testmodel"
	"veil/mpc"
	"veil/mpc/session"
)

// world is a server on a loopback port with the digits MLP as "mlp",
// and identities for clients.
type world struct {
	t      *testing.T
	srv    *Server
	addr   string
	pin    pinned.Pin
	prog   *fixed.Program
	inputs [][]float32
	done   chan error
}

func identity(t *testing.T, name string) tls.Certificate {
	t.Helper()
	id, err := pinned.Generate(name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newWorld(t *testing.T, configure func(*Server)) *world {
	t.Helper()
	prog := testmodel.Program(t, "digits_mlp", 12)
	xs, _ := testmodel.Images(t, prog, "data/digits/test.csv", 16, 4)
	id := identity(t, "server")
	srv := &Server{Identity: id, Models: map[string]*fixed.Program{"mlp": prog}, AdmitAny: true, Timeout: 10 * time.Second}
	if configure != nil {
		configure(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, srv: srv, addr: ln.Addr().String(), pin: pinned.PinOf(id.Leaf), prog: prog, inputs: xs, done: make(chan error, 1)}
	go func() { w.done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-w.done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return w
}

func (w *world) dial(id tls.Certificate) (*Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return Dial(ctx, w.addr, ClientConfig{Identity: id, Server: w.pin, Timeout: 10 * time.Second})
}

// check compares a session's outputs with the cleartext executor's: the
// same top-1 and every logit within 0.05 (the MLP's propagated bound is
// 79 units of 2^-12).
func (w *world) check(res *Result, xs [][]float32) {
	w.t.Helper()
	if len(res.Outputs) != len(xs) {
		w.t.Fatalf("%d outputs for %d inputs", len(res.Outputs), len(xs))
	}
	for i, x := range xs {
		want, err := w.prog.PredictAll(x)
		if err != nil {
			w.t.Fatal(err)
		}
		got := res.Outputs[i][0]
		if argmax(got) != argmax(want[0]) {
			w.t.Errorf("input %d: top-1 %d, the cleartext executor's %d", i, argmax(got), argmax(want[0]))
		}
		for j := range got {
			if d := got[j] - want[0][j]; d > 0.05 || d < -0.05 {
				w.t.Errorf("input %d output %d: %v, the cleartext executor's %v", i, j, got[j], want[0][j])
			}
		}
	}
}

// eventually waits up to 10 s for cond, which a daemon's goroutines make
// true a moment after the client has returned.
func eventually(cond func() bool) {
	for deadline := time.Now().Add(10 * time.Second); !cond() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

func argmax(v []float64) int {
	k := 0
	for i := range v {
		if v[i] > v[k] {
			k = i
		}
	}
	return k
}

// stallInSession starts a session of c that stops once the server's
// program has arrived (the server then waits for the count), and returns
// when it has: closing release lets the client go on with xs; errc gets
// the session's outcome.
func (w *world) stallInSession(c *Client, xs [][]float32) (release chan struct{}, errc chan error) {
	inSession := make(chan struct{})
	release, errc = make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := c.Infer(context.Background(), Request{Model: "mlp"}, func(*fixed.Program) ([][]float32, error) {
			close(inSession)
			<-release
			return xs, nil
		})
		errc <- err
	}()
	<-inSession
	return release, errc
}

// stopMidSession stops a daemon (who) by shutdown with no time to drain
// while a session is stalled (stallInSession), and checks that it stops
// at once and that the session, let go, fails promptly.
func stopMidSession(t *testing.T, who string, shutdown func(context.Context) error, release chan struct{}, errc chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("the %s's shutdown with no time to drain: %v, want context.Canceled", who, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the %s took %v to stop", who, d)
	}
	close(release)
	select {
	case err := <-errc:
		if err == nil {
			t.Fatalf("the session succeeded after its %s stopped", who)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the client hung after its %s stopped", who)
	}
}

func (w *world) prepare(xs [][]float32) func(*fixed.Program) ([][]float32, error) {
	return func(*fixed.Program) ([][]float32, error) { return xs, nil }
}

// TestConcurrentClients runs four clients at once, each two sessions of
// two inferences on its own connection, and checks every output.
func TestConcurrentClients(t *testing.T) {
	w := newWorld(t, func(s *Server) { s.MaxSessions = 4 })
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := w.dial(identity(t, "client"))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for range 2 {
				xs := w.inputs[i%2 : i%2+2]
				res, err := c.Infer(context.Background(), Request{Model: "mlp", Program: w.srv.Digest("mlp")}, w.prepare(xs))
				if err != nil {
					errs <- err
					return
				}
				w.check(res, xs)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A client returns with its outputs a moment before the server
	// counts the session.
	st := w.srv.Stats()
	eventually(func() bool { return st.Inferences.Load() == 16 })
	if st.Sessions.Load() != 8 || st.Inferences.Load() != 16 || st.Failed.Load() != 0 {
		t.Errorf("server counted %d sessions, %d inferences, %d failed; want 8, 16, 0", st.Sessions.Load(), st.Inferences.Load(), st.Failed.Load())
	}
}

// TestRefusals checks the requests a server refuses, each a
// *RefusedError, after which the connection still serves a good one.
func TestRefusals(t *testing.T) {
	w := newWorld(t, nil)
	c, err := w.dial(identity(t, "client"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	other := "00" + w.srv.Digest("mlp")[2:]
	if other == w.srv.Digest("mlp") {
		other = "11" + other[2:]
	}
	for _, req := range []Request{{Model: "resnet"}, {Model: "mlp", Program: other}} {
		_, err := c.Infer(context.Background(), req, w.prepare(w.inputs[:1]))
		var re *RefusedError
		if !errors.As(err, &re) || re.Busy {
			t.Errorf("request %+v: %v, want a refusal", req, err)
		}
	}
	if _, err := c.Infer(context.Background(), Request{Model: "mlp", Program: "not hex"}, w.prepare(w.inputs[:1])); err == nil {
		t.Error("a malformed pin was sent")
	}
	res, err := c.Infer(context.Background(), Request{Model: "mlp"}, w.prepare(w.inputs[:1]))
	if err != nil {
		t.Fatal(err)
	}
	w.check(res, w.inputs[:1])
}

// TestBusyAndIsolation holds the server's only session slot with a
// client stopped in the middle of its session: a second client is
// refused as busy; then the first client vanishes, its session fails
// alone, and the second is served.
func TestBusyAndIsolation(t *testing.T) {
	w := newWorld(t, func(s *Server) { s.MaxSessions = 1 })
	a, err := w.dial(identity(t, "a"))
	if err != nil {
		t.Fatal(err)
	}
	inSession := make(chan struct{})
	release := make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		_, err := a.Infer(context.Background(), Request{Model: "mlp"}, func(*fixed.Program) ([][]float32, error) {
			close(inSession)
			<-release
			return nil, errors.New("client gone")
		})
		a.Close()
		aDone <- err
	}()
	<-inSession
	b, err := w.dial(identity(t, "b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Infer(context.Background(), Request{Model: "mlp"}, w.prepare(w.inputs[:1])); !errors.Is(err, ErrBusy) {
		t.Fatalf("second client while the slot is held: %v, want ErrBusy", err)
	}
	close(release)
	if err := <-aDone; err == nil {
		t.Fatal("the vanished client's session succeeded")
	}
	// The slot frees once the server sees the first client gone.
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := b.Infer(context.Background(), Request{Model: "mlp"}, w.prepare(w.inputs[:2]))
		if errors.Is(err, ErrBusy) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		w.check(res, w.inputs[:2])
		break
	}
	if st := w.srv.Stats(); st.Failed.Load() != 1 || st.Busy.Load() < 1 {
		t.Errorf("failed %d, busy %d; want 1 and at least 1", st.Failed.Load(), st.Busy.Load())
	}
}

// TestAdmission checks that a client whose key the admission file does
// not list is refused in the handshake, and admitted once the file
// lists it, without restarting the server; a wrong server key is
// refused by the client.
func TestAdmission(t *testing.T) {
	dir := t.TempDir()
	known, stranger := identity(t, "known"), identity(t, "stranger")
	file := filepath.Join(dir, "clients.pem")
	writeCerts(t, file, known)
	adm, err := LoadAdmission(file)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, func(s *Server) { s.AdmitAny, s.Admission = false, adm })
	if c, err := w.dial(known); err != nil {
		t.Fatalf("admitted client: %v", err)
	} else {
		res, err := c.Infer(context.Background(), Request{Model: "mlp"}, w.prepare(w.inputs[:1]))
		if err != nil {
			t.Fatal(err)
		}
		w.check(res, w.inputs[:1])
		c.Close()
	}
	// TLS 1.3: the client learns of the refusal at its first read.
	if c, err := w.dial(stranger); err == nil {
		_, err = c.Infer(context.Background(), Request{Model: "mlp"}, w.prepare(w.inputs[:1]))
		c.Close()
		if err == nil {
			t.Fatal("a client the admission file does not list was served")
		}
	}
	time.Sleep(10 * time.Millisecond) // a later modification time
	writeCerts(t, file, known, stranger)
	c, err := w.dial(stranger)
	if err != nil {
		t.Fatalf("client admitted by the edited file: %v", err)
	}
	defer c.Close()
	if _, err := c.Infer(context.Background(), Request{Model: "mlp"}, w.prepare(w.inputs[:1])); err != nil {
		t.Fatalf("client admitted by the edited file: %v", err)
	}
	if adm.Len() != 2 {
		t.Errorf("%d keys admitted, want 2", adm.Len())
	}
	// The client pins the server's key.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Dial(ctx, w.addr, ClientConfig{Identity: known, Server: pinned.PinOf(stranger.Leaf)}); err == nil {
		t.Error("a server with another key than the pinned one was accepted")
	}
}

func writeCerts(t *testing.T, path string, ids ...tls.Certificate) {
	t.Helper()
	var buf bytes.Buffer
	for _, id := range ids {
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: id.Certificate[0]})
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestServerRefusesBadSetup checks the configurations Serve refuses.
func TestServerRefusesBadSetup(t *testing.T) {
	id := identity(t, "server")
	prog := testmodel.Program(t, "digits_mlp", 12)
	for name, s := range map[string]*Server{
		"no identity":    {Models: map[string]*fixed.Program{"m": prog}, AdmitAny: true},
		"no models":      {Identity: id, AdmitAny: true},
		"no admission":   {Identity: id, Models: map[string]*fixed.Program{"m": prog}},
		"public program": {Identity: id, Models: map[string]*fixed.Program{"m": prog.Public()}, AdmitAny: true},
		"3pc":            {Identity: id, Models: map[string]*fixed.Program{"m": prog}, AdmitAny: true, Options: session.Options{Backend: "3pc"}},
		"bad option":     {Identity: id, Models: map[string]*fixed.Program{"m": prog}, AdmitAny: true, Options: session.Options{BackendOptions: mpc.Options{"ot-k": "3"}}},
	} {
		// The setup is checked before the listener.
		if err := s.Serve(nil); err == nil || strings.Contains(err.Error(), "no listener") {
			t.Errorf("%s: %v, want the setup refused", name, err)
		}
	}
}

// TestMetricsAndHealth checks the operations endpoints: the counters and
// the latency histograms after a session, liveness, and readiness until
// shutdown.
func TestMetricsAndHealth(t *testing.T) {
	w := newWorld(t, nil)
	c, err := w.dial(identity(t, "client"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Infer(context.Background(), Request{Model: "mlp"}, w.prepare(w.inputs[:2])); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Infer(context.Background(), Request{Model: "nope"}, w.prepare(w.inputs[:1])); err == nil {
		t.Fatal("an unknown model was served")
	}
	c.Close()
	eventually(func() bool { return w.srv.Stats().Inferences.Load() == 2 })
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		w.srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		"veil_service_sessions_total 1", "veil_service_inferences_total 2", "veil_service_requests_refused_total 1",
		`veil_service_inference_seconds_count{model="mlp"} 2`, `veil_service_session_seconds_count{model="mlp"} 1`,
		"veil_service_active_sessions 0", "veil_service_connections_total 1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !regexp.MustCompile(`veil_service_sent_bytes_total [1-9]`).MatchString(body) {
		t.Error("/metrics counts no bytes sent")
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz before shutdown: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w.srv.Shutdown(ctx)
	if code, _ := get("/readyz"); code != 503 {
		t.Errorf("/readyz after shutdown: %d, want 503", code)
	}
}

// startHelper runs a helper service that works for the servers whose
// identities are given.
func startHelper(t *testing.T, servers ...tls.Certificate) (*Helper, HelperLink) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "servers.pem")
	writeCerts(t, file, servers...)
	adm, err := LoadAdmission(file)
	if err != nil {
		t.Fatal(err)
	}
	id := identity(t, "helper")
	h := &Helper{Identity: id, Servers: adm, Timeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("helper shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("helper Serve returned %v", err)
		}
	})
	return h, HelperLink{Addr: ln.Addr().String(), Key: pinned.PinOf(id.Leaf)}
}

// TestThreeParties runs the service in 3pc: a server and a helper
// service, four concurrent clients whose outputs are checked, and the
// refusals: a client pinning another helper, a 2pc client, a helper
// that does not work for the server.
func TestThreeParties(t *testing.T) {
	srvID := identity(t, "server")
	h, link := startHelper(t, srvID)
	w := newWorld(t, func(s *Server) {
		s.Identity, s.Options, s.Helper = srvID, session.Options{Backend: "3pc"}, &link
	})
	w.pin = pinned.PinOf(srvID.Leaf)
	dial := func(helper pinned.Pin, backend string) (*Client, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return Dial(ctx, w.addr, ClientConfig{Identity: identity(t, "client"), Server: w.pin, Helper: helper, Options: session.Options{Backend: backend}, Timeout: 10 * time.Second})
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dial(link.Key, "3pc")
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			xs := w.inputs[i%3 : i%3+2]
			res, err := c.Infer(context.Background(), Request{Model: "mlp"}, w.prepare(xs))
			if err != nil {
				t.Error(err)
				return
			}
			w.check(res, xs)
		}()
	}
	wg.Wait()
	eventually(func() bool { return h.Stats().Inferences.Load() == 8 })
	if st := h.Stats(); st.Sessions.Load() != 4 || st.Inferences.Load() != 8 {
		t.Errorf("the helper ran %d sessions of %d inferences; want 4 and 8", st.Sessions.Load(), st.Inferences.Load())
	}
	rec := httptest.NewRecorder()
	h.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if body := rec.Body.String(); !strings.Contains(body, "veil_service_sessions_total 4") || !strings.Contains(body, "veil_service_inferences_total 8") {
		t.Errorf("the helper's /metrics does not count its 4 sessions and 8 inferences")
	}
	// The helper learns no client identity: every client it saw
	// presented a throwaway certificate.
	other := identity(t, "other helper")
	c, err := dial(pinned.PinOf(other.Leaf), "3pc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Infer(context.Background(), Request{Model: "mlp"}, w.prepare(w.inputs[:1])); err == nil || !strings.Contains(err.Error(), "helper") {
		t.Errorf("a client pinning another helper: %v", err)
	}
	c.Close()
	c, err = dial(nil, "2pc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Infer(context.Background(), Request{Model: "mlp"}, w.prepare(w.inputs[:1])); err == nil || !strings.Contains(err.Error(), "runs 3pc") {
		t.Errorf("a 2pc client of a 3pc server: %v", err)
	}
	c.Close()
	if _, err := dial(nil, "3pc"); err == nil {
		t.Error("a 3pc client without a helper key dialled")
	}
}

// TestHelperRefusesStrangers checks that a helper refuses a server it
// does not work for (the server then refuses its client, naming the
// helper) and a client whose token no session awaits.
func TestHelperRefusesStrangers(t *testing.T) {
	_, link := startHelper(t, identity(t, "some other server"))
	w := newWorld(t, func(s *Server) { s.Options, s.Helper = session.Options{Backend: "3pc"}, &link })
	c, err := Dial(context.Background(), w.addr, ClientConfig{Identity: identity(t, "client"), Server: w.pin, Helper: link.Key, Options: session.Options{Backend: "3pc"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Infer(context.Background(), Request{Model: "mlp"}, w.prepare(w.inputs[:1]))
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "helper") {
		t.Errorf("a server the helper does not work for: %v", err)
	}
	token := strings.Repeat("ab", 32)
	if _, err := link.dial(context.Background(), mpc.P0, identity(t, "client"), token, time.Second, 0); !errors.As(err, &re) {
		t.Errorf("a client with a token no session awaits: %v", err)
	}
}

// TestHelperStopsMidSession stops the helper service, without waiting,
// while a 3pc session is under way: the helper returns at once, and the
// client's session fails promptly with an error instead of hanging or
// answering; the server serves the next client once a helper is back
// (here: refuses it, naming the helper).
func TestHelperStopsMidSession(t *testing.T) {
	srvID := identity(t, "server")
	h, link := startHelper(t, srvID)
	w := newWorld(t, func(s *Server) {
		s.Identity, s.Options, s.Helper = srvID, session.Options{Backend: "3pc"}, &link
	})
	w.pin = pinned.PinOf(srvID.Leaf)
	c, err := Dial(context.Background(), w.addr, ClientConfig{Identity: identity(t, "client"), Server: w.pin, Helper: link.Key,
		Options: session.Options{Backend: "3pc"}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	release, errc := w.stallInSession(c, w.inputs[:2])
	stopMidSession(t, "helper", h.Shutdown, release, errc)
	if st := h.Stats(); st.Failed.Load() != 1 {
		t.Errorf("the helper counted %d failed sessions, want 1", st.Failed.Load())
	}
	c2, err := Dial(context.Background(), w.addr, ClientConfig{Identity: identity(t, "client"), Server: w.pin, Helper: link.Key, Options: session.Options{Backend: "3pc"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Infer(context.Background(), Request{Model: "mlp"}, w.prepare(w.inputs[:1])); err == nil || !strings.Contains(err.Error(), "helper") {
		t.Errorf("a request while the helper is down: %v, want a refusal naming the helper", err)
	}
}

// TestCheatingClientAlone runs a client that, once its request is
// accepted, sends garbage where the session's messages belong, beside
// an honest client: the cheat's session fails, the honest client's
// outputs are right, and the server goes on serving.
func TestCheatingClientAlone(t *testing.T) {
	w := newWorld(t, func(s *Server) { s.MaxSessions = 2 })
	cheat, err := w.dial(identity(t, "cheat"))
	if err != nil {
		t.Fatal(err)
	}
	defer cheat.Close()
	if err := cheat.nw.Send(mpc.P1, mustJSON(request{Model: "mlp"})); err != nil {
		t.Fatal(err)
	}
	if _, err := cheat.nw.Recv(mpc.P1); err != nil { // accepted
		t.Fatal(err)
	}
	for range 3 {
		cheat.nw.Send(mpc.P1, []byte("not a protocol message"))
	}
	honest, err := w.dial(identity(t, "honest"))
	if err != nil {
		t.Fatal(err)
	}
	defer honest.Close()
	res, err := honest.Infer(context.Background(), Request{Model: "mlp"}, w.prepare(w.inputs[:3]))
	if err != nil {
		t.Fatal(err)
	}
	w.check(res, w.inputs[:3])
	eventually(func() bool { return w.srv.Stats().Failed.Load() == 1 && w.srv.Stats().Inferences.Load() == 3 })
	if st := w.srv.Stats(); st.Failed.Load() != 1 || st.Inferences.Load() != 3 {
		t.Errorf("failed %d, inferences %d; want the cheat's session failed and 3 inferences", st.Failed.Load(), st.Inferences.Load())
	}
}

// TestLogsCarryNoData runs sessions (one refused, one served, one
// failed) with a JSON logger and checks every record's attributes
// against the list of what the service logs: addresses, names, counts,
// durations and errors; never an input, an output, a weight or a key.
func TestLogsCarryNoData(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	w := newWorld(t, func(s *Server) {
		s.Logger = slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return buf.Write(p)
		}), nil))
	})
	c, err := w.dial(identity(t, "client"))
	if err != nil {
		t.Fatal(err)
	}
	c.Infer(context.Background(), Request{Model: "nope"}, w.prepare(w.inputs[:1]))
	if _, err := c.Infer(context.Background(), Request{Model: "mlp"}, w.prepare(w.inputs[:2])); err != nil {
		t.Fatal(err)
	}
	c.Infer(context.Background(), Request{Model: "mlp"}, func(*fixed.Program) ([][]float32, error) { return nil, errors.New("client gone") })
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w.srv.Shutdown(ctx)
	allowed := map[string]bool{"time": true, "level": true, "msg": true, "remote": true, "client": true, "model": true,
		"inferences": true, "s": true, "bytes_sent": true, "err": true, "want": true, "have": true, "sessions": true}
	mu.Lock()
	defer mu.Unlock()
	records := 0
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		records++
		for k := range rec {
			if !allowed[k] {
				t.Errorf("log record with attribute %q: %s", k, line)
			}
		}
	}
	if records < 4 {
		t.Errorf("%d log records, want the connection, the refusal, the session and the failure:\n%s", records, buf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestServerStopsMidSession stops the server without time to drain
// while a client's session is under way: the shutdown returns at once
// and the client's session fails promptly instead of hanging.
func TestServerStopsMidSession(t *testing.T) {
	w := newWorld(t, nil)
	c, err := w.dial(identity(t, "client"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	release, errc := w.stallInSession(c, w.inputs[:2])
	stopMidSession(t, "server", w.srv.Shutdown, release, errc)
}

// TestSessionDeadline holds the only session slot with a client that
// stops answering mid-session (its process alive, heartbeats flowing):
// past the session deadline the server ends that session, and the slot
// serves the next client.
func TestSessionDeadline(t *testing.T) {
	w := newWorld(t, func(s *Server) { s.MaxSessions, s.SessionTimeout = 1, 3*time.Second })
	a, err := w.dial(identity(t, "slow"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	release, aDone := w.stallInSession(a, w.inputs[:1])
	eventually(func() bool { return w.srv.Stats().Failed.Load() == 1 })
	if f := w.srv.Stats().Failed.Load(); f != 1 {
		t.Fatalf("the stalled session was not ended (failed %d)", f)
	}
	b, err := w.dial(identity(t, "next"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	res, err := b.Infer(context.Background(), Request{Model: "mlp"}, w.prepare(w.inputs[:2]))
	if err != nil {
		t.Fatalf("the next client: %v", err)
	}
	w.check(res, w.inputs[:2])
	close(release)
	if err := <-aDone; err == nil {
		t.Error("the stalled client's session succeeded after its deadline")
	}
}
