package he_test

import (
	"fmt"
	"log"

	"veil/mpc/he"
	"veil/tensor"
)

// A 3×3 convolution of a 2-channel 4×4 image, its input shared between
// the client and the server.
func Example() {
	p := he.Default()
	cp := tensor.ConvParams{N: 1, C: 2, H: 4, W: 4, O: 1, KH: 3, KW: 3, SH: 1, SW: 1,
		PadT: 1, PadL: 1, PadB: 1, PadR: 1, Group: 1}

	// Once per session: the client's key, the server's copy of its public key.
	client, err := he.NewClient(p)
	if err != nil {
		log.Fatal(err)
	}
	pk, err := client.PublicKey()
	if err != nil {
		log.Fatal(err)
	}
	server, err := he.NewServer(p, pk)
	if err != nil {
		log.Fatal(err)
	}

	// Per layer, both parties build the same layer from its public shape.
	layer, err := he.NewConv(p, cp, p.LogT())
	if err != nil {
		log.Fatal(err)
	}
	x := make([]uint64, layer.InputLen()) // the input: 1, 2, 3, …
	w := make([]uint64, layer.WeightLen())
	xC, xS := make([]uint64, len(x)), make([]uint64, len(x))
	for i := range x {
		x[i] = uint64(i + 1)
		xS[i] = 0xdeadbeef * uint64(i) // any split: x = xC + xS mod 2^64
		xC[i] = x[i] - xS[i]
	}
	for i := range w {
		w[i] = uint64(i%3) - 1 // −1, 0, 1, …
	}

	query, err := client.EncryptInput(layer, xC) // client → server
	if err != nil {
		log.Fatal(err)
	}
	resp, yS, err := server.Eval(layer, w, xS, query) // server → client
	if err != nil {
		log.Fatal(err)
	}
	yC, err := client.DecryptOutput(layer, resp)
	if err != nil {
		log.Fatal(err)
	}

	want := make([]uint64, layer.OutputLen())
	tensor.Conv2D(want, x, w, cp)
	ok := true
	for i := range want {
		ok = ok && yC[i]+yS[i] == want[i]
	}
	fmt.Println("shares add up:", ok)
	fmt.Printf("query %d bytes, response %d bytes\n", len(query), len(resp))
	// Output:
	// shares add up: true
	// query 208941 bytes, response 98509 bytes
}
