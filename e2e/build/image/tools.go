//go:build tools

// Package tools pins crane (go-containerregistry), which assembles and pushes the
// backupper's OCI image without a Docker daemon, in this module's go.sum.
package tools

import _ "github.com/google/go-containerregistry/cmd/crane"
