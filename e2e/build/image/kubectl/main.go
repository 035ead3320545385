// Command kubectl is the kubectl the backupper image ships: the backupper's default
// snapshot source runs `kubectl exec ... tar cf -` in the CAS pod with the pod's
// service account. Built from the published k8s.io/kubectl module because no kubectl
// binary can be downloaded on the machines that build the image without Docker.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
