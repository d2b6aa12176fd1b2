module example.com/rootsync-apimodule

go 1.26.0

require github.com/rootsync/rootsync v0.0.0

require (
	github.com/google/certificate-transparency-go v1.4.0 // indirect
	golang.org/x/crypto v0.48.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/rootsync/rootsync => ../..
