"""A kubeconfig whose only cluster is the discard port on loopback: every request is refused at once.

Tests point the ambient ``KUBECONFIG`` at it to prove a call reached the cluster the stack names
instead (a call that followed the ambient kubeconfig fails loudly rather than finding a cluster).
"""

from __future__ import annotations

from typing import Any

import yaml

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


def beside_dead_context(real: dict[str, Any], context: str) -> str:
    """``real`` (a kubeconfig whose current context is ``context``) plus the dead cluster, made current.

    A run that ignores ``scone:kubeContext`` (and takes the file's current context) reaches the dead
    cluster and fails; one that follows it reaches ``context``."""
    dead = yaml.safe_load(DEAD_KUBECONFIG)
    merged = dict(real)
    for part in ("clusters", "contexts", "users"):
        merged[part] = [*real.get(part, []), *dead[part]]
    merged["current-context"] = dead["current-context"]
    assert any(item["name"] == context for item in real["contexts"])
    return str(yaml.safe_dump(merged, sort_keys=False))
