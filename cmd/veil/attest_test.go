package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"veil/attest"
)

const (
	sevReport = "../../attest/testdata/sev-snp-report.bin"
	sevVCEK   = "../../attest/testdata/sev-snp-vcek.der"
	tdxQuote  = "../../attest/testdata/tdx-quote.dat"
	// What the recorded reports carry (see attest/testdata/README.md).
	sevMeasurement = "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01"
	sevReportData  = "0102030405000000000000000000000000000000000000000000000000000000" +
		"0000000000000000000000000000000000000000000000000000000000000000"
	tdxMRTD       = "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb"
	tdxReportData = "6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113"
	recordedAt    = "2024-06-01T00:00:00Z"
)

func writeFile(t *testing.T, path, s string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAttestSimulatedProduceVerify(t *testing.T) {
	dir := t.TempDir()
	if _, err := veil(t, "keygen", "--dir", dir, "--role", "client"); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "client.key")
	ev := filepath.Join(dir, "ev.bin")

	// Without a TEE, producing needs the insecure flag.
	if _, derr := attest.Detect(); errors.Is(derr, attest.ErrNoTEE) {
		_, err := veil(t, "attest", "produce", "--key", key, "--session", "0011", "-o", ev)
		if err == nil || !strings.Contains(err.Error(), "no TEE found") || !strings.Contains(err.Error(), "--insecure-simulated") {
			t.Fatalf("produce without a TEE: %v", err)
		}
	}
	out, err := veil(t, "attest", "produce", "--insecure-simulated", "--platform-key-file", filepath.Join(dir, "platform.key"),
		"--key", key, "--session", "0011", "--nonce", "aa", "--nonce", "bb", "-o", ev)
	if err != nil {
		t.Fatal(err, out)
	}
	m := regexp.MustCompile(`simulated platform key: ([0-9a-f]{64})`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "WARNING: simulated evidence is insecure") {
		t.Fatalf("produce output:\n%s", out)
	}
	platform := m[1]
	self, err := attest.SelfMeasurement()
	if err != nil {
		t.Fatal(err)
	}
	policy := writeFile(t, filepath.Join(dir, "policy.json"), `{"measurements":["`+hex.EncodeToString(self)+`"]}`)
	otherPolicy := writeFile(t, filepath.Join(dir, "other.json"), `{"measurements":["`+strings.Repeat("3f", 48)+`"],"insecure_allow_simulated":true}`)
	emptyPolicy := writeFile(t, filepath.Join(dir, "empty.json"), `{"insecure_allow_simulated":true}`)
	tampered := filepath.Join(dir, "tampered.bin")
	b, err := os.ReadFile(ev)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1 // last byte of the public key the evidence names
	if err := os.WriteFile(tampered, b, 0o644); err != nil {
		t.Fatal(err)
	}

	base := []string{"attest", "verify", ev, "--session", "0011", "--nonce", "aa", "--nonce", "bb"}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		wantOut []string
	}{
		{"accepted", append(base, "--policy", policy, "--insecure-allow-simulated", "--platform-key", platform), "",
			[]string{"format:      simulated-insecure", "measurement: " + hex.EncodeToString(self), "debug:       false",
				"to session 0011 with 2 nonce(s): true", "evidence accepted by the policy"}},
		{"simulated refused by default", append(base, "--policy", policy, "--platform-key", platform),
			"attest: simulated evidence refused (set insecure-allow-simulated to accept)", nil},
		{"platform key not pinned", append(base, "--policy", policy, "--insecure-allow-simulated"), "no simulated platform key pinned", nil},
		{"other platform key", append(base, "--policy", policy, "--insecure-allow-simulated", "--platform-key", strings.Repeat("00", 32)), "is not pinned", nil},
		{"measurement not allowed", append(base, "--policy", otherPolicy, "--platform-key", platform), "not in the allowed set",
			[]string{"measurement: " + hex.EncodeToString(self)}},
		{"empty policy", append(base, "--policy", emptyPolicy, "--platform-key", platform), "empty allowed set refuses everything", nil},
		{"nonces swapped", []string{"attest", "verify", ev, "--session", "0011", "--nonce", "bb", "--nonce", "aa", "--policy", policy,
			"--insecure-allow-simulated", "--platform-key", platform}, "report data does not bind this key/session", []string{"2 nonce(s): false"}},
		{"other session", []string{"attest", "verify", ev, "--session", "0012", "--nonce", "aa", "--nonce", "bb", "--policy", policy,
			"--insecure-allow-simulated", "--platform-key", platform}, "report data does not bind this key/session", nil},
		{"public key swapped", []string{"attest", "verify", tampered, "--session", "0011", "--nonce", "aa", "--nonce", "bb", "--policy", policy,
			"--insecure-allow-simulated", "--platform-key", platform}, "report data does not bind this key/session", nil},
		{"no policy", base, "--policy is required", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := veil(t, tc.args...)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q\n%s", err, tc.wantErr, out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestAttestRecordedReports(t *testing.T) {
	dir := t.TempDir()
	sev, tdx := filepath.Join(dir, "sev.ev"), filepath.Join(dir, "tdx.ev")
	if _, err := veil(t, "attest", "pack", "--format", "sev-snp", "--report", sevReport, "--vcek", sevVCEK, "-o", sev); err != nil {
		t.Fatal(err)
	}
	if _, err := veil(t, "attest", "pack", "--format", "tdx", "--report", tdxQuote, "-o", tdx); err != nil {
		t.Fatal(err)
	}
	if _, err := veil(t, "attest", "pack", "--format", "sev-snp", "--report", sevReport, "-o", sev+"2"); err == nil {
		t.Fatal("packed SEV-SNP evidence without its VCEK")
	}
	tamperedSEV := filepath.Join(dir, "sev-tampered.ev")
	b, err := os.ReadFile(sev)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, mustDecode(t, sevMeasurement))
	if i < 0 {
		t.Fatal("measurement not found in the packed evidence")
	}
	b[i] ^= 1
	if err := os.WriteFile(tamperedSEV, b, 0o644); err != nil {
		t.Fatal(err)
	}
	both := `["` + sevMeasurement + `","` + tdxMRTD + `"]`
	allowDebug := writeFile(t, filepath.Join(dir, "debug.json"), `{"measurements":`+both+`,"allow_debug":true}`)
	noDebug := writeFile(t, filepath.Join(dir, "nodebug.json"), `{"measurements":`+both+`}`)
	highTCB := writeFile(t, filepath.Join(dir, "tcb.json"), `{"measurements":`+both+`,"allow_debug":true,"min_tcb":`+"4901323769462652931"+`}`)
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		wantOut []string
	}{
		{"sev-snp accepted", []string{sev, "--policy", allowDebug, "--report-data", sevReportData, "--at", recordedAt}, "",
			[]string{"format:      sev-snp", "measurement: " + sevMeasurement, "debug:       true", "tcb:         0x4405000000000002",
				"signer:      VCEK", "binds the given report data: true", "evidence accepted"}},
		{"tdx accepted", []string{tdx, "--policy", noDebug, "--report-data", tdxReportData, "--at", recordedAt}, "",
			[]string{"format:      tdx", "measurement: " + tdxMRTD, "debug:       false", "signer:      PCK", "evidence accepted"}},
		{"sev-snp debug refused", []string{sev, "--policy", noDebug, "--report-data", sevReportData, "--at", recordedAt}, "attest: debug enabled", nil},
		{"sev-snp TCB refused", []string{sev, "--policy", highTCB, "--report-data", sevReportData, "--at", recordedAt}, "below the minimum", nil},
		{"sev-snp tampered", []string{tamperedSEV, "--policy", allowDebug, "--report-data", sevReportData, "--at", recordedAt},
			"sev-snp signature or certificate chain invalid", nil},
		{"sev-snp expired", []string{sev, "--policy", allowDebug, "--report-data", sevReportData, "--at", "2030-01-01T00:00:00Z"}, "expired", nil},
		{"tdx not bound to a session", []string{tdx, "--policy", noDebug, "--session", "00", "--at", recordedAt},
			"report data does not bind this key/session", []string{"binds public key - to session 00 with 0 nonce(s): false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := veil(t, append([]string{"attest", "verify"}, tc.args...)...)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q\n%s", err, tc.wantErr, out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAttestVerifyHardening: veil attest verify on crafted evidence and
// under the new policy fields. The crafted TDX quote (the recorded one
// with a QE auth data length of 0xffff, 4,980 bytes) used to crash the
// command with a panic inside go-tdx-guest; it is now refused with the
// bad length named.
func TestAttestVerifyHardening(t *testing.T) {
	dir := t.TempDir()
	quote, err := os.ReadFile(tdxQuote)
	if err != nil {
		t.Fatal(err)
	}
	crafted := append(bytes.Clone(quote), make([]byte, 6)...)
	crafted[1218], crafted[1219] = 0xff, 0xff // QE auth data length
	craftedFile := filepath.Join(dir, "crafted.dat")
	if err := os.WriteFile(craftedFile, crafted, 0o644); err != nil {
		t.Fatal(err)
	}
	sev, tdx, bad := filepath.Join(dir, "sev.ev"), filepath.Join(dir, "tdx.ev"), filepath.Join(dir, "crafted.ev")
	for _, args := range [][]string{
		{"--format", "sev-snp", "--report", sevReport, "--vcek", sevVCEK, "-o", sev},
		{"--format", "tdx", "--report", tdxQuote, "-o", tdx},
		{"--format", "tdx", "--report", craftedFile, "-o", bad},
	} {
		if out, err := veil(t, append([]string{"attest", "pack"}, args...)...); err != nil {
			t.Fatal(err, out)
		}
	}
	chip := "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d"
	both := `"measurements":["` + sevMeasurement + `","` + tdxMRTD + `"],"allow_debug":true`
	policy := func(name, extra string) string {
		return writeFile(t, filepath.Join(dir, name+".json"), `{`+both+extra+`}`)
	}
	plain := policy("plain", "")
	sevOnly := policy("sev-only", `,"formats":["sev-snp"]`)
	roles := policy("roles", `,"roles":{"server":{"platform_ids":["`+chip+`"]},"client":{},"helper":{"platform_ids":["01"]}}`)
	vmpl := policy("vmpl", `,"sev_snp":{"vmpl":1}`)
	seam := policy("seam", `,"tdx":{"mr_seam":["`+strings.Repeat("77", 48)+`"]}`)
	sevArgs := []string{sev, "--report-data", sevReportData, "--at", recordedAt}
	tdxArgs := []string{tdx, "--report-data", tdxReportData, "--at", recordedAt}
	badArgs := []string{bad, "--report-data", tdxReportData, "--at", recordedAt}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"crafted quote", append(badArgs, "--policy", plain), "attest: tdx quote: QE auth data of 65535 bytes at offset 1220 points past the end of its structure"},
		{"crafted quote, sev-snp only", append(badArgs, "--policy", sevOnly), `attest: format not allowed: "tdx" evidence (the policy accepts sev-snp)`},
		{"tdx, sev-snp only", append(tdxArgs, "--policy", sevOnly), `format not allowed: "tdx"`},
		{"sev-snp, sev-snp only", append(sevArgs, "--policy", sevOnly), ""},
		{"role server pinned", append(sevArgs, "--policy", roles, "--role", "server"), ""},
		{"role client unpinned", append(sevArgs, "--policy", roles, "--role", "client"), ""},
		{"role helper elsewhere", append(sevArgs, "--policy", roles, "--role", "helper"), "attest: platform 3ac3fe21e13fb099… not pinned by the role helper"},
		{"role missing", append(sevArgs, "--policy", roles), "pins platforms per role: give --role"},
		{"role unknown", append(sevArgs, "--policy", roles, "--role", "sever"), `--role: attest: policy pins roles client, helper, server but not "sever"`},
		{"vmpl", append(sevArgs, "--policy", vmpl), "attest: sev-snp vmpl 0, the policy requires 1"},
		{"mr_seam", append(tdxArgs, "--policy", seam), "attest: tdx mr_seam 2fd279c16164a93d… not in the allowed set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := veil(t, append([]string{"attest", "verify"}, tc.args...)...)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q\n%s", err, tc.wantErr, out)
			}
		})
	}
}
