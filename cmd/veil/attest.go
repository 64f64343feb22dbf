package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"veil/attest"
	"veil/internal/pinned"
)

func attestCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attest",
		Short: "Produce and verify attestation evidence binding a key to a session (SEV-SNP, TDX, simulated)",
		Long: `attest produces evidence on this platform (an SEV-SNP or TDX confidential
VM, or, only with --insecure-simulated, a software simulation that proves
nothing) binding a public key to a session id and the verifiers' nonces,
verifies such evidence against a policy file, and packages recorded
platform reports as evidence.

Report data = SHA-512(domain ‖ len ‖ public key ‖ len ‖ session ‖ count ‖
(len ‖ nonce)...). A policy file is JSON (every field optional; an empty
"measurements" refuses everything):

  {"formats":["sev-snp","tdx"],
   "measurements":["hex",...],"allow_debug":false,"min_tcb":0,
   "platform_ids":["hex",...],
   "roles":{"server":{"platform_ids":["hex"]},"client":{},"helper":{}},
   "sev_snp":{"vmpl":0,"allow_migration_agent":false},
   "tdx":{"mr_seam":["hex"],"mr_config_id":["hex"],"mr_owner":["hex"],
          "mr_owner_config":["hex"],"rtmr0":["hex"],...,"rtmr3":["hex"],
          "td_attributes":{"value":"hex","mask":"hex"},"xfam":{"value":"hex","mask":"hex"},
          "min_qe_svn":0,
          "collateral":{"tcb_info":"...","tcb_signing_chain":"PEM","qe_identity":"...",
                        "pck_crl":"hex","pck_crl_issuer_chain":"PEM","root_crl":"hex"}},
   "insecure_allow_simulated":false,"simulated_platform_keys":["hex",...]}

"formats" (default: sev-snp and tdx, plus simulated-insecure when allowed)
refuses other formats before their bytes are parsed; "platform_ids" pins
machines (SEV-SNP CHIP_ID, TDX PPID, simulated key); "roles" pins them per
role (verify --role); "sev_snp" requires the report's VMPL and refuses
MIGRATE_MA; "tdx" pins TD registers (sets: one of the values), attribute
bits (mask) and the quoting enclave's minimum ISVSVN, and checks Intel PCS
collateral given offline. See attest/README.md for what is verified and
what is not.`,
	}
	cmd.AddCommand(attestProduceCmd(), attestVerifyCmd(), attestPackCmd())
	return cmd
}

// hexList decodes --nonce style flags.
func hexList(name string, vals []string) ([][]byte, error) {
	out := make([][]byte, 0, len(vals))
	for _, v := range vals {
		b, err := hex.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("--%s %q is not hex", name, v)
		}
		out = append(out, b)
	}
	return out, nil
}

func attestProduceCmd() *cobra.Command {
	var (
		insecure    bool
		keyFile     string
		pubHex      string
		session     string
		nonces      []string
		out         string
		platformKey string
		measurement string
		debug       bool
		tcb         uint64
	)
	cmd := &cobra.Command{
		Use:   "produce (--key KEYFILE | --pub HEX) --session HEX [--nonce HEX]... -o EVIDENCE",
		Short: "Produce evidence binding a public key to a session and nonces",
		Long: `produce asks this machine's TEE (SEV-SNP or TDX, found through /dev/sev-guest,
/dev/tdx_guest or configfs-tsm) for evidence whose report data binds the
public key (from --key, a PEM private key or certificate such as veil keygen
writes, or --pub HEX) to --session and the --nonce values, in order, and
writes it to -o.

Without a TEE, --insecure-simulated signs a simulated report with a software
platform key (--platform-key-file, created if missing; a fresh key if not
given) claiming this executable's SHA-384 as measurement. It proves nothing
and verifiers refuse it unless told --insecure-allow-simulated.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (keyFile == "") == (pubHex == "") {
				return errors.New("give exactly one of --key and --pub")
			}
			if out == "" {
				return errors.New("-o is required")
			}
			var pub []byte
			var err error
			if keyFile != "" {
				k, err := pinned.PublicOf(keyFile)
				if err != nil {
					return err
				}
				if pub, err = attest.PublicKeyBytes(k); err != nil {
					return err
				}
			} else if pub, err = hex.DecodeString(pubHex); err != nil || len(pub) == 0 {
				return fmt.Errorf("--pub %q is not a non-empty hex string", pubHex)
			}
			sid, err := hex.DecodeString(session)
			if err != nil || len(sid) == 0 {
				return fmt.Errorf("--session %q is not a non-empty hex string", session)
			}
			ns, err := hexList("nonce", nonces)
			if err != nil {
				return err
			}
			simOnly := cmd.Flags().Changed("platform-key-file") || cmd.Flags().Changed("measurement") ||
				cmd.Flags().Changed("debug") || cmd.Flags().Changed("tcb")
			if simOnly && !insecure {
				return errors.New("--platform-key-file, --measurement, --debug and --tcb apply only with --insecure-simulated")
			}
			w := cmd.OutOrStdout()
			kind := attest.KindTEE
			if insecure {
				kind = attest.FormatSimulated
			}
			a, created, err := attest.Choose(kind, platformKey)
			if err != nil && !insecure {
				return fmt.Errorf("%w (use --insecure-simulated for a simulated, insecure attester)", err)
			} else if err != nil {
				return err
			}
			if s, ok := a.(*attest.Simulated); ok {
				if created {
					fmt.Fprintf(w, "wrote simulated platform key %s\n", platformKey)
				}
				if measurement != "" {
					if s.Measurement, err = hex.DecodeString(measurement); err != nil || len(s.Measurement) == 0 {
						return fmt.Errorf("--measurement %q is not a non-empty hex string", measurement)
					}
				}
				s.Debug, s.TCB = debug, tcb
				fmt.Fprintln(w, "WARNING: simulated evidence is insecure: it proves nothing about the code that runs")
				fmt.Fprintf(w, "simulated platform key: %x\n", s.PlatformKey())
			}
			ev, err := attest.AttestKey(a, pub, sid, ns...)
			if err != nil {
				return err
			}
			b, err := ev.MarshalBinary()
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(w, "format:      %s\n", ev.Format)
			fmt.Fprintf(w, "public key:  %x\n", pub)
			fmt.Fprintf(w, "report data: %s\n", attest.Bind(pub, sid, ns...))
			fmt.Fprintf(w, "wrote %s (%d bytes)\n", out, len(b))
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&insecure, "insecure-simulated", false, "without a TEE: sign a simulated report with a software key (INSECURE, for tests and demos)")
	f.StringVar(&keyFile, "key", "", "PEM private key or certificate whose public key to bind")
	f.StringVar(&pubHex, "pub", "", "public key to bind, hex")
	f.StringVar(&session, "session", "", "session id, hex")
	f.StringSliceVar(&nonces, "nonce", nil, "verifier nonce, hex (repeat, in the verifiers' order)")
	f.StringVarP(&out, "output", "o", "", "evidence file to write")
	f.StringVar(&platformKey, "platform-key-file", "", "simulated platform private key (PEM), created if missing")
	f.StringVar(&measurement, "measurement", "", "simulated: measurement to claim, hex (default: SHA-384 of this executable)")
	f.BoolVar(&debug, "debug", false, "simulated: claim debug enabled")
	f.Uint64Var(&tcb, "tcb", 0, "simulated: TCB version to claim")
	return cmd
}

func attestVerifyCmd() *cobra.Command {
	var (
		policyFile     string
		session        string
		nonces         []string
		platformKeys   []string
		allowSimulated bool
		at             string
		reportData     string
		role           string
	)
	cmd := &cobra.Command{
		Use:   "verify EVIDENCE --policy POLICY.json --session HEX [--nonce HEX]...",
		Short: "Verify evidence against a policy and show what it binds",
		Long: `verify checks EVIDENCE (as produce or pack wrote it): the platform's
signature and certificate chain (offline, against the vendor roots built
into veil), then the policy: format allowed, measurement in the allowed
set, debug off unless allowed, TCB at least min_tcb, platform pinned,
the format's own fields (SEV-SNP VMPL and migration agent; TDX registers,
attributes, collateral), and report data binding the evidence's public
key to --session and the --nonce values (in order). It prints what the
evidence claims and exits 1 naming the first failed check.

--role NAME applies the policy's pins for that role (a policy with
"roles" needs it).

--report-data HEX demands that exact report data instead (for recorded
reports), --at checks certificates at a given time (RFC 3339) instead of
now. Simulated evidence is refused unless --insecure-allow-simulated (or
the policy's insecure_allow_simulated) and its platform key is pinned
(--platform-key or the policy's simulated_platform_keys).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var ev attest.Evidence
			if err := ev.UnmarshalBinary(b); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if policyFile == "" {
				return errors.New("--policy is required")
			}
			pol, err := attest.LoadPolicy(policyFile)
			if err != nil {
				return err
			}
			if allowSimulated {
				pol.InsecureAllowSimulated = true
			}
			if role != "" {
				if pol, err = pol.ForRole(role); err != nil {
					return fmt.Errorf("--role: %w", err)
				}
			} else if len(pol.Roles) != 0 {
				return fmt.Errorf("%s pins platforms per role: give --role", policyFile)
			}
			keys, err := hexList("platform-key", platformKeys)
			if err != nil {
				return err
			}
			for _, k := range keys {
				if len(k) != ed25519.PublicKeySize {
					return fmt.Errorf("--platform-key: %d bytes, want an Ed25519 public key of %d", len(k), ed25519.PublicKeySize)
				}
			}
			pol.SimulatedPlatformKeys = append(pol.SimulatedPlatformKeys, keys...)
			if at != "" {
				if pol.Now, err = time.Parse(time.RFC3339, at); err != nil {
					return fmt.Errorf("--at: %w", err)
				}
			}
			var want attest.ReportData
			var binds string
			if reportData != "" {
				rd, err := hex.DecodeString(reportData)
				if err != nil || len(rd) != len(want) {
					return fmt.Errorf("--report-data: want %d bytes of hex", len(want))
				}
				copy(want[:], rd)
				binds = "the given report data"
			} else {
				sid, err := hex.DecodeString(session)
				if err != nil || len(sid) == 0 {
					return fmt.Errorf("--session %q is not a non-empty hex string (or give --report-data)", session)
				}
				ns, err := hexList("nonce", nonces)
				if err != nil {
					return err
				}
				want = attest.Bind(ev.PubKey, sid, ns...)
				binds = fmt.Sprintf("public key %s to session %x with %d nonce(s)", hexOrDash(ev.PubKey), sid, len(ns))
			}
			c, err := pol.Check(&ev, want)
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "format:      %s\n", ev.Format)
			if c != nil {
				printClaims(w, c)
				fmt.Fprintf(w, "binds %s: %v\n", binds, c.ReportData == want)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(w, "evidence accepted by the policy")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&policyFile, "policy", "", "policy file (JSON)")
	f.StringVar(&session, "session", "", "session id, hex")
	f.StringSliceVar(&nonces, "nonce", nil, "nonce, hex (repeat, in the order the producer used)")
	f.StringSliceVar(&platformKeys, "platform-key", nil, "pin a simulated platform's public key, hex")
	f.BoolVar(&allowSimulated, "insecure-allow-simulated", false, "accept simulated evidence (INSECURE: it proves nothing)")
	f.StringVar(&at, "at", "", "check certificates at this time (RFC 3339) instead of now")
	f.StringVar(&reportData, "report-data", "", "demand this report data (hex, 64 bytes) instead of binding --session/--nonce")
	f.StringVar(&role, "role", "", "role that presents the evidence (applies the policy's per-role pins)")
	return cmd
}

func hexOrDash(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return hex.EncodeToString(b)
}

func printClaims(w io.Writer, c *attest.Claims) {
	fmt.Fprintf(w, "measurement: %x\n", c.Measurement)
	fmt.Fprintf(w, "debug:       %v\n", c.Debug)
	fmt.Fprintf(w, "tcb:         %#016x (components %x)\n", c.TCB, c.TCBComponents)
	fmt.Fprintf(w, "report data: %s\n", c.ReportData)
	fmt.Fprintf(w, "signer:      %s\n", c.Signer)
	fmt.Fprintf(w, "platform id: %s\n", hexOrDash(c.PlatformID))
	keys := make([]string, 0, len(c.Extra))
	for k := range c.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-24s %s\n", k+":", c.Extra[k])
	}
}

func attestPackCmd() *cobra.Command {
	var (
		format string
		report string
		vcek   string
		pubHex string
		out    string
	)
	cmd := &cobra.Command{
		Use:   "pack --format sev-snp|tdx --report FILE [--vcek FILE] -o EVIDENCE",
		Short: "Package a recorded platform report (and its VCEK) as evidence",
		Long: `pack wraps a raw platform report obtained elsewhere: an SEV-SNP
ATTESTATION_REPORT (with --vcek, the DER VCEK certificate, since verification
is offline) or a TDX quote (its PCK chain is inside). --pub sets the public
key the evidence claims to bind.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" || report == "" {
				return errors.New("--report and -o are required")
			}
			raw, err := os.ReadFile(report)
			if err != nil {
				return err
			}
			ev := &attest.Evidence{Format: format, Raw: raw}
			switch format {
			case attest.FormatSEVSNP:
				if vcek == "" {
					return errors.New("sev-snp needs --vcek (the report's VCEK certificate, DER)")
				}
				der, err := os.ReadFile(vcek)
				if err != nil {
					return err
				}
				if ev.Certs, err = attest.SEVSNPCertTable(der, nil, nil); err != nil {
					return err
				}
			case attest.FormatTDX:
				if vcek != "" {
					return errors.New("--vcek applies to sev-snp only")
				}
			default:
				return fmt.Errorf("--format %q: want %s or %s", format, attest.FormatSEVSNP, attest.FormatTDX)
			}
			if pubHex != "" {
				if ev.PubKey, err = hex.DecodeString(pubHex); err != nil {
					return fmt.Errorf("--pub %q is not hex", pubHex)
				}
			}
			b, err := ev.MarshalBinary()
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s, %d bytes)\n", out, strings.ToUpper(format), len(b))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "", "sev-snp or tdx")
	f.StringVar(&report, "report", "", "raw report file")
	f.StringVar(&vcek, "vcek", "", "sev-snp: VCEK certificate (DER)")
	f.StringVar(&pubHex, "pub", "", "public key the evidence names, hex")
	f.StringVarP(&out, "output", "o", "", "evidence file to write")
	return cmd
}
