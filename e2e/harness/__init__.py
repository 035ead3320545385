"""Local control plane, fake SGX nodes, simulated SCONE operator, Pulumi environment."""
