//go:build tools

// Package tools pins the Kubernetes control-plane commands the e2e harness runs
// (built with `go build` from this module so the replaces above apply).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
