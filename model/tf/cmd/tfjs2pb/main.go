// Command tfjs2pb converts a TF.js graph model into a binary frozen
// TensorFlow GraphDef with every weight a float32 Const.
//
// Usage:
//
//	tfjs2pb model.json out.pb
//
// The first argument may also be the directory holding model.json.
package main

import (
	"fmt"
	"os"

	"veil/model/tf"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: tfjs2pb model.json out.pb")
		os.Exit(2)
	}
	if err := tf.ConvertTFJS(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "tfjs2pb:", err)
		os.Exit(1)
	}
}
