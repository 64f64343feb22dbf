package zoo

import (
	"fmt"
	"math"

	"veil/ir"
)

// vitTi16 is torchvision's VisionTransformer (the vit_b_16 structure;
// Dosovitskiy et al. 2021) at ViT-Ti/16 width (DeiT-Ti; Touvron et al.
// 2021): image 224, patch 16, 12 layers, 3 heads, hidden 192, MLP 768,
// 1000 classes; 5,717,416 parameters. See vit.
func vitTi16(hw int, seed uint64) (*ir.Graph, error) {
	return vit("vit_ti_16", hw, 16, 12, 3, 192, 768, seed)
}

// vit builds torchvision's VisionTransformer as torch 1.13 exports it
// (opset 17):
//
//   - patches: a k×k stride-k convolution, Reshape to [1, D, T−1],
//     Transpose to tokens [1, T−1, D]; the class token concatenated in
//     front, the position embedding added;
//   - each encoder block: x + attention(LayerNorm(x)), then
//     x + MLP(LayerNorm(x)) with MLP = Linear(D, M), GELU (the Erf form),
//     Linear(M, D);
//   - attention as nn.MultiheadAttention exports: tokens to [T, 1, D],
//     the packed q/k/v projection, three Slices, each reshaped to
//     [T, H, D/H] and transposed to heads (k to [H, D/H, T]), q divided by
//     √(D/H), the scores q·kᵀ, Softmax over the last axis, the product
//     with v, back to [T, D], the output projection, back to [1, T, D];
//   - a final LayerNorm, the class token's row (x[:, 0]: a Gather, which
//     the ONNX importer turns into Slice and Reshape), Linear(D, 1000).
//
// LayerNorm's rsqrt holds on the range of the variance traced on
// calibration data: compile with fixed.TraceRanges and fixed.CompileWith.
func vit(name string, hw, patch, layers, heads, dim, mlp int, seed uint64) (*ir.Graph, error) {
	const eps = 1e-6
	b := newBuilder(name, seed)
	x := b.input("input", ir.Shape{1, 3, hw, hw})
	g := hw / patch
	tokens := g*g + 1
	x = b.conv("conv_proj", x, dim, patch, patch, 0, 1, true, gainLinear)
	x = b.transpose("transpose", b.reshape("reshape", x, 1, dim, g*g), 0, 2, 1)
	// torchvision initialises the class token to zeros and the position
	// embedding with deviation 0.02: the class token's row would have a
	// variance of about 0.0008 at the first LayerNorm, below the range of
	// the secure rsqrt at scale 12 (2^−8). A trained class token is not
	// that small; N(0, 1) keeps the row's variance O(1).
	cls := b.constant("class_token", ir.Shape{1, 1, dim}, b.normal(dim, 1))
	x = b.node("concat", ir.OpConcat, ir.Attrs{Axis: 1}, cls, x)
	x = b.add("encoder.add", x, b.constant("encoder.pos_embedding", ir.Shape{1, tokens, dim}, b.normal(tokens*dim, 0.02)))
	hd := dim / heads
	for l := 0; l < layers; l++ {
		p := fmt.Sprintf("encoder.layers.encoder_layer_%d", l)
		a := p + ".self_attention"
		y := b.layerNorm(p+".ln_1", x, eps)
		y = b.transpose(a+".transpose", y, 1, 0, 2)
		qkv := b.split(a+".split", b.linear(a+".in_proj", y, 3*dim, gainLinear), 2, dim, dim, dim)
		toHeads := func(i int, perm ...int) string {
			return b.transpose(fmt.Sprintf("%s.heads%d", a, i), b.reshape(fmt.Sprintf("%s.reshape%d", a, i), qkv[i], tokens, heads, hd), perm...)
		}
		q := b.node(a+".div", ir.OpDiv, ir.Attrs{}, toHeads(0, 1, 0, 2), b.scalar(a+".sqrt_head_dim", float32(math.Sqrt(float64(hd)))))
		k := toHeads(1, 1, 2, 0)
		v := toHeads(2, 1, 0, 2)
		s := b.softmax(a+".softmax", b.node(a+".scores", ir.OpMatMul, ir.Attrs{}, q, k), -1)
		y = b.node(a+".attend", ir.OpMatMul, ir.Attrs{}, s, v)
		y = b.reshape(a+".reshape_out", b.transpose(a+".transpose_out", y, 1, 0, 2), tokens, dim)
		y = b.linear(a+".out_proj", y, dim, gainLinear)
		y = b.transpose(a+".transpose_back", b.reshape(a+".reshape_back", y, tokens, 1, dim), 1, 0, 2)
		x = b.add(p+".add", y, x)
		y = b.layerNorm(p+".ln_2", x, eps)
		y = b.gelu(p+".mlp.1", b.linear(p+".mlp.0", y, mlp, gainReLU))
		y = b.linear(p+".mlp.3", y, dim, gainLinear)
		x = b.add(p+".add_1", x, y)
	}
	x = b.layerNorm("encoder.ln", x, eps)
	x = b.reshape("class_row", b.split("class_token_out", x, 1, 1, tokens-1)[0], 1, dim)
	return b.finish(b.linear("heads.head", x, 1000, gainLinear))
}
