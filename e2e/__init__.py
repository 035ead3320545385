"""End-to-end tier: real Pulumi engine + real Kubernetes control plane on loopback."""
