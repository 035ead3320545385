"""A kubeconfig whose only cluster is the discard port on loopback: every request is refused at once.

Tests point the ambient ``KUBECONFIG`` at it to prove a call reached the cluster the stack names
instead (a call that followed the ambient kubeconfig fails loudly rather than finding a cluster).
"""

from __future__ import annotations

DEAD_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: elsewhere
  cluster: {server: "https://127.0.0.1:9"}
contexts:
- name: elsewhere
  context: {cluster: elsewhere, user: nobody}
current-context: elsewhere
users:
- name: nobody
  user: {token: not-this-cluster}
"""
