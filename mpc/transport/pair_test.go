package transport

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/internal/pinned"
	"veil/mpc"
)

// tlsPair returns both ends of a TLS 1.3 connection over a loopback TCP
// connection, handshakes done.
func tlsPair(t *testing.T) (client, server *tls.Conn, craw, sraw net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, _ := pinned.Generate("a")
	b, _ := pinned.Generate("b")
	anyCert := func(*x509.Certificate) error { return nil }
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var err error
		if sraw, err = ln.Accept(); err == nil {
			server = tls.Server(sraw, pinned.Config(b, "", anyCert))
			err = server.Handshake()
		}
		if err != nil {
			t.Error(err)
		}
	}()
	craw, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client = tls.Client(craw, pinned.Config(a, "", anyCert))
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	return client, server, craw, sraw
}

// TestPairAndJoin builds a three-party network for P0 from two pairs
// (to P1 and to P2), exchanges messages on both links, and checks the
// refusals: a pair of one party with itself, joins missing a link or
// with two links to one party.
func TestPairAndJoin(t *testing.T) {
	var nets [2][2]mpc.Network // [link][end]: link 0 is P0–P1, link 1 P0–P2
	for i, other := range []mpc.Party{mpc.P1, mpc.P2} {
		c, s, craw, sraw := tlsPair(t)
		var err error
		if nets[i][0], err = Pair(mpc.P0, other, c, craw, 5*time.Second, 0); err != nil {
			t.Fatal(err)
		}
		if nets[i][1], err = Pair(other, mpc.P0, s, sraw, 5*time.Second, 0); err != nil {
			t.Fatal(err)
		}
	}
	j, err := Join(mpc.P0, 3, nets[0][0], nets[1][0])
	if err != nil {
		t.Fatal(err)
	}
	if j.Parties() != 3 || j.Me() != mpc.P0 {
		t.Fatalf("joined: %d parties, me %s", j.Parties(), j.Me())
	}
	for i, to := range []mpc.Party{mpc.P1, mpc.P2} {
		if err := j.Send(to, []byte("hello "+to.Role())); err != nil {
			t.Fatal(err)
		}
		m, err := nets[i][1].Recv(mpc.P0)
		if err != nil || string(m) != "hello "+to.Role() {
			t.Fatalf("%s got %q, %v", to, m, err)
		}
		if err := nets[i][1].Send(mpc.P0, []byte("back")); err != nil {
			t.Fatal(err)
		}
		if m, err := j.Recv(to); err != nil || string(m) != "back" {
			t.Fatalf("from %s: %q, %v", to, m, err)
		}
	}
	if st := j.Stats(); st.MsgsSent[mpc.P1] != 1 || st.MsgsRecv[mpc.P2] != 1 {
		t.Errorf("the joined network counted %+v", st)
	}
	for name, c := range map[string]struct {
		err  error
		want string
	}{
		"missing link": {func() error { _, err := Join(mpc.P0, 3, nets[0][0]); return err }(), "no link to P2"},
		"two links":    {func() error { _, err := Join(mpc.P0, 3, nets[0][0], nets[0][0]); return err }(), "two links"},
		"other party":  {func() error { _, err := Join(mpc.P0, 3, nets[0][0], nets[1][1]); return err }(), "not a pair of P0"},
		"too many":     {func() error { _, err := Join(mpc.P0, 4, nets[0][0]); return err }(), "session of 4"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, c.err, c.want)
		}
	}
	c, _, craw, _ := tlsPair(t)
	if _, err := Pair(mpc.P1, mpc.P1, c, craw, 0, 0); err == nil {
		t.Error("a pair of P1 with itself")
	}
	for _, link := range nets {
		link[0].Close()
		link[1].Close()
	}
}
