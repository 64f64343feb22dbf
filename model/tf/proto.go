package tf

// Field numbers of the TensorFlow protos read and written here
// (graph.proto, function.proto, op_def.proto, node_def.proto,
// attr_value.proto, tensor.proto, tensor_shape.proto, versions.proto).
const (
	fGraphNode     = 1
	fGraphLibrary  = 2
	fGraphVersions = 4

	fLibraryFunction = 1

	fFunctionSignature = 1
	fFunctionNode      = 3
	fFunctionRet       = 4

	fOpDefName      = 1
	fOpDefInputArg  = 2
	fOpDefOutputArg = 3
	fArgDefName     = 1
	fArgDefType     = 3

	fVersionProducer    = 1
	fVersionMinConsumer = 2

	fNodeName   = 1
	fNodeOp     = 2
	fNodeInput  = 3
	fNodeDevice = 4
	fNodeAttr   = 5

	fMapKey   = 1
	fMapValue = 2

	fAttrList        = 1
	fAttrS           = 2
	fAttrI           = 3
	fAttrF           = 4
	fAttrB           = 5
	fAttrType        = 6
	fAttrShape       = 7
	fAttrTensor      = 8
	fAttrPlaceholder = 9
	fAttrFunc        = 10

	fListS      = 2
	fListI      = 3
	fListF      = 4
	fListB      = 5
	fListType   = 6
	fListShape  = 7
	fListTensor = 8
	fListFunc   = 9

	fNameAttrListName = 1

	fShapeDim         = 2
	fShapeUnknownRank = 3
	fDimSize          = 1

	fTensorDType   = 1
	fTensorShape   = 2
	fTensorContent = 4
	fTensorFloat   = 5
	fTensorDouble  = 6
	fTensorInt     = 7
	fTensorString  = 8
	fTensorInt64   = 10
	fTensorBool    = 11
	fTensorHalf    = 13
	fTensorUint32  = 16
	fTensorUint64  = 17
)

// elemSize is the byte size of one element of d in tensor_content.
func elemSize(d DataType) int {
	switch d {
	case DTUint8, DTInt8, DTBool:
		return 1
	case DTInt16, DTUint16, DTHalf, DTBFloat16:
		return 2
	case DTFloat, DTInt32, DTUint32:
		return 4
	case DTDouble, DTInt64, DTUint64:
		return 8
	}
	return 0
}
