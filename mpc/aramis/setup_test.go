package aramis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"veil/attest"
	"veil/mpc"
	"veil/mpc/mpctest"
)

// TestWriteSimulated: the simulated settings of n parties on one machine
// parse back, accept exactly their keys and this executable, and secure
// a session in which every party sees its peers attested and their
// commitments; reusing the directory keeps the keys.
func TestWriteSimulated(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d parties", n), func(t *testing.T) {
			dir := t.TempDir()
			raw, err := WriteSimulated(dir, n)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ParseSettings(raw, dir)
			if err != nil {
				t.Fatal(err)
			}
			self, _ := attest.SelfMeasurement()
			if s.Attester != AttesterSimulated || !s.UsesSimulated() || len(s.Policy.SimulatedPlatformKeys) != n ||
				len(s.Policy.Measurements) != 1 || !bytes.Equal(s.Policy.Measurements[0], self) {
				t.Fatalf("settings %+v", s)
			}
			for _, p := range mpc.PartiesOf(n) {
				if want := filepath.Join(dir, p.Role()+".platform.pem"); s.SimulatedKeyFiles[p] != want {
					t.Errorf("%s's key file %q, want %q", p, s.SimulatedKeyFiles[p], want)
				}
			}
			again, err := WriteSimulated(dir, n)
			if err != nil || !bytes.Equal(again, raw) {
				t.Errorf("rewriting the settings changed them: %v", err)
			}
			nets := mpc.NewLocal(n, time.Second)
			secured := make([]*Network, n)
			errs := mpctest.Parties(n, func(p mpc.Party) error {
				var err error
				secured[p], err = s.Secure(nets[p], p, []byte("input of "+p.Role()), 5*time.Second)
				return err
			})
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			for _, p := range mpc.PartiesOf(n) {
				peers := secured[p].AttestedPeers()
				if len(peers) != n-1 {
					t.Errorf("%s: attested peers %v", p, peers)
				}
				for _, q := range mpc.PartiesOf(n) {
					if q == p {
						continue
					}
					if got := peers[q.Role()]; !strings.HasPrefix(got, attest.FormatSimulated+" measurement ") {
						t.Errorf("%s says of %s: %q", p, q, got)
					}
					if got := secured[p].Commitment(q); string(got) != "input of "+q.Role() {
						t.Errorf("%s has %s's commitment %q", p, q, got)
					}
				}
			}
			for _, nw := range secured {
				nw.Close()
			}
		})
	}
	if _, err := WriteSimulated(t.TempDir(), 4); err == nil {
		t.Error("simulated settings for 4 parties")
	}
}

// TestCheckSimulated: settings that use simulated attestation, as this
// party's attester or in the peers' evidence, run only when allowed; the
// refusal names the file and the flag.
func TestCheckSimulated(t *testing.T) {
	for _, c := range []struct {
		name      string
		s         Settings
		allowed   bool
		simulated bool
	}{
		{"tee", Settings{Attester: AttesterTEE}, false, false},
		{"simulated attester", Settings{Attester: AttesterSimulated}, false, true},
		{"simulated evidence accepted", Settings{Attester: AttesterTEE, Policy: attest.Policy{InsecureAllowSimulated: true}}, false, true},
		{"simulated, allowed", Settings{Attester: AttesterSimulated}, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.s.UsesSimulated(); got != c.simulated {
				t.Errorf("UsesSimulated() = %v, want %v", got, c.simulated)
			}
			err := c.s.CheckSimulated(c.allowed, "keys/parties.json")
			if refuse := c.simulated && !c.allowed; refuse != (err != nil) {
				t.Fatalf("CheckSimulated: %v; want a refusal: %v", err, refuse)
			}
			if err != nil && (!strings.Contains(err.Error(), "keys/parties.json") || !strings.Contains(err.Error(), "--insecure-simulated-attestation")) {
				t.Errorf("the refusal does not name the file and the flag: %v", err)
			}
		})
	}
}

// TestCheckLoopback: one machine's parties run under simulated Aramis
// only with the insecure flag; without it the refusal says what to do.
func TestCheckLoopback(t *testing.T) {
	if err := CheckLoopback(true); err != nil {
		t.Errorf("with the flag: %v", err)
	}
	err := CheckLoopback(false)
	if err == nil || !strings.Contains(err.Error(), "--insecure-simulated-attestation") || !strings.Contains(err.Error(), "veil party --malicious") {
		t.Errorf("without the flag: %v", err)
	}
}

// TestAddSection: the section lands in the parties file, replacing an
// older one and keeping every other field; a file that is not JSON is
// refused.
func TestAddSection(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "parties.json")
	os.WriteFile(path, []byte(`{"parties":[{"role":"client"}],"timeout":"8s","attestation":{"old":true}}`), 0o644)
	if err := AddSection(path, json.RawMessage(`{"attester":"tee"}`)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if string(m["timeout"]) != `"8s"` || !strings.Contains(string(m["parties"]), "client") || !strings.Contains(string(m["attestation"]), `"tee"`) || strings.Contains(string(b), "old") {
		t.Errorf("parties file after AddSection:\n%s", b)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("not json"), 0o644)
	if err := AddSection(bad, json.RawMessage(`{}`)); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("a file that is not JSON: %v", err)
	}
}

// TestAttestedPeersShortMeasurement: a measurement shorter than eight
// bytes is shown whole (it used to be cut past its end).
func TestAttestedPeersShortMeasurement(t *testing.T) {
	n := &Network{links: []*link{nil, {claims: &attest.Claims{Format: "f", Measurement: []byte{0xab}}}, {claims: &attest.Claims{Format: "g", Measurement: bytes.Repeat([]byte{1}, 48)}}}}
	got := n.AttestedPeers()
	if got["server"] != "f measurement ab" || got["helper"] != "g measurement 0101010101010101…" || len(got) != 2 {
		t.Errorf("AttestedPeers() = %v", got)
	}
}
