// Command veil compiles trained neural networks (ONNX, TensorFlow) into
// fixed-point programs for secure inference and runs them.
//
//	veil info MODEL                    list a model's ops and shapes
//	veil compile MODEL -o PROGRAM      float → fixed, with an automatic scale sweep
//	veil eval MODEL|PROGRAM --data D   accuracy in float or fixed point
//	veil predict MODEL IMAGE...        outputs and top-1 for single images
//	veil convert MODEL.json -o M.pb    write a TF.js graph model as a frozen GraphDef
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"veil/mpc/porthos"
	"veil/mpc/session"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "veil:", err)
		os.Exit(1)
	}
}

// newRoot builds the command tree.
// secureOpts are the options of the secure backend, from the root
// command's flags (--compare); every party of a session must use the same.
var secureOpts session.Options

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "veil",
		Short: "Secure neural-network inference: compile real models to fixed point and run them",
		Long: `veil compiles a trained model (ONNX, TensorFlow GraphDef, TF.js graph model)
into a fixed-point program over Z_2^64 that secure backends execute, and runs
models and programs in the clear for accuracy measurement.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var compare string
	root.PersistentFlags().StringVar(&compare, "compare", "fast",
		"secure comparison protocol for ReLU and MaxPool: fast (bit-sliced carry circuit, 833 bits per ReLU) or porthos (the paper's, 4288 bits); all parties must agree")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		c, err := porthos.ParseCompare(compare)
		if err != nil {
			return err
		}
		secureOpts.Porthos.Compare = c
		return nil
	}
	root.AddCommand(infoCmd(), compileCmd(), evalCmd(), predictCmd(), convertCmd(), keygenCmd(), partyCmd(), demoCmd(), benchCmd(), attestCmd(), slalomCmd())
	return root
}
