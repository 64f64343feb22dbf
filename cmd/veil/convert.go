package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"veil/model"
	"veil/model/tf"
)

func convertCmd() *cobra.Command {
	var (
		out    string
		unfuse bool
	)
	cmd := &cobra.Command{
		Use:   "convert TFJS_MODEL -o MODEL.pb",
		Short: "Write a TF.js graph model as a binary frozen TensorFlow GraphDef",
		Long: `convert reads a TF.js graph model (model.json or its directory, with its
weight shards, dequantizing uint8/uint16/float16 weights) and writes it as a
binary frozen GraphDef with every weight a float32 Const. Both files import
to the same graph. With --unfuse the TF.js-only fused ops are rewritten into
standard TensorFlow ops so that TensorFlow itself can load the file.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("give the output .pb file with -o")
			}
			if f, err := model.Detect(args[0]); err != nil {
				return err
			} else if f != model.TFJS {
				return fmt.Errorf("%s is a %s model; convert reads TF.js graph models", args[0], f)
			}
			if err := tf.ConvertTFJS(args[0], out, unfuse); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "GraphDef file to write")
	cmd.Flags().BoolVar(&unfuse, "unfuse", false, "rewrite fused TF.js ops as standard TensorFlow ops")
	return cmd
}
