// Command veil compiles trained neural networks (ONNX, TensorFlow) into
// fixed-point programs for secure inference and runs them.
//
//	veil info MODEL                    list a model's ops and shapes
//	veil compile MODEL -o PROGRAM      float → fixed, with an automatic scale sweep
//	veil eval MODEL|PROGRAM --data D   accuracy in float or fixed point
//	veil predict MODEL IMAGE...        outputs and top-1 for single images
//	veil convert MODEL.json -o M.pb    write a TF.js graph model as a frozen GraphDef
//	veil demo                          secure inference of the embedded model, from any directory
//	veil version                       version, VCS revision, Go version, backends
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"veil/mpc"
	"veil/mpc/porthos" // registers the 3pc backend
	"veil/mpc/session"
	_ "veil/mpc/twopc" // registers the 2pc backend
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "veil:", err)
		os.Exit(exitStatus(err))
	}
}

// newRoot builds the command tree.
// compareFlag is the root's --compare: the comparison protocol of the
// secure backends that have one.
var compareFlag string

// backendOptionFlags is the root's --backend-option: KEY=VALUE settings
// of the secure backend.
var backendOptionFlags []string

// secureOptions returns the session options for the secure backend
// registered as name: the root's --compare where the backend takes a
// comparison protocol, then every --backend-option (which may set
// compare too); every party of a session must use the same.
func secureOptions(name string) (session.Options, error) {
	b, err := mpc.Lookup(name)
	if err != nil {
		return session.Options{}, err
	}
	opt := session.Options{Backend: name, BackendOptions: mpc.Options{}}
	if _, ok := b.Options["compare"]; ok {
		opt.BackendOptions["compare"] = compareFlag
	}
	for _, kv := range backendOptionFlags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return session.Options{}, usagef("--backend-option %q: want KEY=VALUE", kv)
		}
		opt.BackendOptions[k] = v
	}
	if err := opt.BackendOptions.Check(b); err != nil {
		return session.Options{}, usagef("--backend-option: %v", err)
	}
	return opt, nil
}

// backendFlag registers --backend, the secure backend, on cmd.
func backendFlag(cmd *cobra.Command, name *string) {
	cmd.Flags().StringVar(name, "backend", session.DefaultBackend, "the secure backend: "+strings.Join(mpc.Backends(), ", ")+" (every party must use the same)")
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "veil",
		Short: "Secure neural-network inference: compile real models to fixed point and run them",
		Long: `veil compiles a trained model (ONNX, TensorFlow GraphDef, TF.js graph model)
into a fixed-point program over Z_2^64 that secure backends execute (3PC with
a helper, 2PC without: veil party, demo, bench), serves it to many clients as a
long-running service (veil serve, veil helper, veil infer), and runs models and
programs in the clear for accuracy measurement.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&compareFlag, "compare", "fast",
		"secure comparison protocol for ReLU and MaxPool: fast (bit-sliced carry circuit, 833 bits per ReLU) or porthos (the paper's, 4288 bits); all parties must agree")
	root.PersistentFlags().StringArrayVar(&backendOptionFlags, "backend-option", nil,
		"KEY=VALUE: a setting of the secure backend (2pc: magnitude=BITS, ot-k=1|2|4|8, 1 being IKNP; 3pc: compare, lower=true); repeatable; all parties must agree")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		_, err := porthos.ParseCompare(compareFlag)
		return err
	}
	root.AddCommand(infoCmd(), compileCmd(), evalCmd(), predictCmd(), convertCmd(), keygenCmd(), partyCmd(), serveCmd(), helperCmd(), inferCmd(), demoCmd(), benchCmd(), attestCmd(), slalomCmd(), versionCmd())
	markUsageErrors(root)
	return root
}
