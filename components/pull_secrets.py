"""The registry pull Secret both the operator and the services namespaces get.

A small resource builder, not a component: its content is a Pulumi secret, so the
``.dockerconfigjson`` never reaches the state in plain text.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.names import MANAGED_BY
from components.options import child


def pull_secret(
    parent: pulumi.Resource,
    name: str,
    namespace: str,
    docker_config_json: pulumi.Output[str],
    depends_on: Sequence[pulumi.Resource],
) -> k8s.core.v1.Secret:
    """A registry pull Secret ``name`` in ``namespace``, a child of ``parent``."""
    return k8s.core.v1.Secret(
        f"{namespace}-{name}",
        metadata={"name": name, "namespace": namespace, "labels": MANAGED_BY},
        type="kubernetes.io/dockerconfigjson",
        string_data={".dockerconfigjson": docker_config_json},
        opts=child(parent, depends_on=depends_on, additional_secret_outputs=["stringData", "data"]),
    )
