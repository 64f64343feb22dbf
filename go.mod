module veil

go 1.26.8

require (
	github.com/spf13/cobra v1.10.2
	golang.org/x/image v0.47.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
)
