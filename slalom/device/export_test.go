package device

// The message types, for the tests that read T's frames or forge D's.
const (
	MsgSetupLayer   = msgSetupLayer
	MsgSetupDone    = msgSetupDone
	MsgReady        = msgReady
	MsgCompute      = msgCompute
	MsgResult       = msgResult
	MsgSetupProgram = msgSetupProgram
	MsgRunAll       = msgRunAll
)

// ParseSetupLayer and ProgramWire are the setup layer's and the
// program's wire forms.
var (
	ParseSetupLayer = parseSetupLayer
	ProgramWire     = programWire
)

// SetFrameHook makes d rewrite each result frame it sends with hook (a
// device that answers with the wrong header, layer or values).
func SetFrameHook(d *Device, hook func(body []byte) (byte, []byte)) { d.frameHook = hook }
