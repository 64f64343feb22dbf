package tf_test

import (
	"fmt"
	"log"

	"veil/ir"
	"veil/model/tf"
)

func ExampleLoadTFJS() {
	g, err := tf.LoadTFJS("../../testdata/models/tfjs-nsfw-mobilenet_v2_mid", tf.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("input", g.Values[g.Inputs[0]].Shape, "output", g.Values[g.Outputs[0]].Shape, g.Layout)
	fmt.Println(ir.FormatOpCounts(g.OpCounts()))
	// Output:
	// input [1×224×224×3] output [1×5] NHWC
	// Add×11 AvgPool×1 Clip×35 Conv×52 MatMul×1 Mul×1 Reshape×1 Softmax×1 Sub×1
}

func ExampleUnfuse() {
	gd, err := tf.ReadTFJS("../../testdata/models/tfjs-nsfw-mobilenet_v2_mid/model.json")
	if err != nil {
		log.Fatal(err)
	}
	if err := tf.Unfuse(gd); err != nil {
		log.Fatal(err)
	}
	ops := map[string]int{}
	for _, n := range gd.Nodes {
		ops[n.Op]++
	}
	fmt.Println(ops["Conv2D"], ops["DepthwiseConv2dNative"], ops["BiasAdd"], ops["Relu6"], ops["_FusedConv2D"])
	// Output: 35 17 53 35 0
}
