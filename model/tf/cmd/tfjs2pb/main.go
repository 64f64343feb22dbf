// Command tfjs2pb converts a TF.js graph model into a binary frozen
// TensorFlow GraphDef with every weight a float32 Const (dequantized).
//
// Usage:
//
//	tfjs2pb [-unfuse] model.json out.pb
//
// The first argument may also be the directory holding model.json. With
// -unfuse, the fused ops (_FusedConv2D, FusedDepthwiseConv2dNative,
// _FusedMatMul) are split into standard TensorFlow ops; FusedDepthwiseConv2dNative
// exists only in TF.js, so TensorFlow itself can read the result only then.
package main

import (
	"flag"
	"fmt"
	"os"

	"veil/model/tf"
)

func main() {
	unfuse := flag.Bool("unfuse", false, "split fused ops into standard TensorFlow ops")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: tfjs2pb [-unfuse] model.json out.pb")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	if err := convert(flag.Arg(0), flag.Arg(1), *unfuse); err != nil {
		fmt.Fprintln(os.Stderr, "tfjs2pb:", err)
		os.Exit(1)
	}
}

func convert(src, dst string, unfuse bool) error {
	gd, err := tf.ReadTFJS(src)
	if err != nil {
		return err
	}
	if unfuse {
		if err := tf.Unfuse(gd); err != nil {
			return err
		}
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if err := tf.WriteGraphDef(f, gd); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
