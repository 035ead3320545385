"""End-to-end tests: real Pulumi engine + real control plane (see e2e/README.md)."""
