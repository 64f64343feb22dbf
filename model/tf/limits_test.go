package tf

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// A GraphDef Const with a shape and no values is padded to its shape (as
// TensorFlow does), so a few bytes per node used to expand to 256 MiB
// each (2^26 float32), without limit over the nodes; a string tensor to
// 24 bytes per element. Padding is now charged to one budget per model.
func TestPaddedConstantsBounded(t *testing.T) {
	for _, dt := range []DataType{DTFloat, DTInt64, DTString} {
		t.Run(dt.String(), func(t *testing.T) {
			var g msg
			for i := range 6 {
				tensor := msg(nil).varint(fTensorDType, uint64(dt)).sub(fTensorShape, shapeMsg(1<<25))
				node := append(msg(nil).str(fNodeName, fmt.Sprintf("c%d", i)).str(fNodeOp, "Const"),
					attrEntry("value", msg(nil).sub(fAttrTensor, tensor))...)
				g = g.sub(fGraphNode, node)
			}
			var a, b runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&a)
			_, err := ParseGraphDef(g)
			runtime.ReadMemStats(&b)
			if err == nil || !strings.Contains(err.Error(), "padded constants") {
				t.Errorf("ParseGraphDef of %d bytes padding 6·2^25 elements: %v", len(g), err)
			}
			if got := b.TotalAlloc - a.TotalAlloc; got > 2*maxPadBytes {
				t.Errorf("allocated %d bytes, more than twice the padding budget", got)
			}
		})
	}
}
