// Command pulumi-resource-kubernetes serves upstream's pulumi-kubernetes provider.
//
// Why a main of our own: upstream's cmd/pulumi-resource-kubernetes embeds
// schema-embed.json and terraform-mapping-embed.json, which upstream generates and
// git-ignores, so the module zip cannot build it. e2e/build_tools.sh writes those
// two files beside this one (from the provider module's committed schema.json and
// terraform-mapping.json, with the version set) and then builds this package.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
