package service_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"veil/data"
	"veil/fixed"
	"veil/internal/pinned"
	"veil/ir"
	"veil/model"
	"veil/service"
)

// Example runs a server with the digits MLP on a loopback port and a
// client that sends it three handwritten digits: the server never sees
// them, the client never sees the weights, and the client gets each
// digit's class. In a deployment the server runs veil serve, the
// identities come from veil keygen and the client pins the server's
// published certificate.
func Example() {
	// The model owner: a compiled program with its weights.
	g, err := model.Load("../testdata/models/digits_mlp.onnx", model.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := ir.Optimize(g); err != nil {
		log.Fatal(err)
	}
	prog, err := fixed.Compile(g, 12)
	if err != nil {
		log.Fatal(err)
	}
	serverID, _ := pinned.Generate("server")
	srv := &service.Server{Identity: serverID, Models: map[string]*fixed.Program{"digits": prog}, AdmitAny: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	// The client: its own key, the server's key pinned.
	clientID, _ := pinned.Generate("client")
	c, err := service.Dial(context.Background(), ln.Addr().String(), service.ClientConfig{Identity: clientID, Server: pinned.PinOf(serverID.Leaf)})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ds, err := data.Load("../testdata/data/digits/test.csv", data.Options{PixelMax: 16, Limit: 3})
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.Infer(context.Background(), service.Request{Model: "digits"}, func(p *fixed.Program) ([][]float32, error) {
		return model.Inputs(ds.Samples, p.InputShape(), p.InputLayout())
	})
	if err != nil {
		log.Fatal(err)
	}
	for i, out := range res.Outputs {
		fmt.Printf("digit %d: class %d (label %d)\n", i, fixed.Top1(out[0]), ds.Samples[i].Label)
	}
	// Output:
	// digit 0: class 0 (label 0)
	// digit 1: class 4 (label 4)
	// digit 2: class 2 (label 2)
}
