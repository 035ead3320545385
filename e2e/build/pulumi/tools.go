//go:build tools

// Package tools pins the Pulumi CLI for the e2e harness.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
	// The language host in ./pylanghost needs only sdk/v3 packages, listed here by go.mod.
)
