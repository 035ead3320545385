"""SCONE stack policies: the rules every stack of this project must keep (see policy/README.md)."""
