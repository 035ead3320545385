"""The SCONE CRDs for tests that apply CRs without installing the operator chart.

Scontain's released chart's own CRDs (real schemas: unknown fields are pruned, required status
fields are enforced) when the released charts are beside the repository (``upstream_charts``),
else the stand-in chart's; the same choice ``scone_project`` makes for the local stack's chart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from e2e.harness.charts import CRDS_FILE
from e2e.harness.cluster import LocalCluster
from e2e.harness.scone_project import local_stack_version
from e2e.harness.upstream_charts import chart_documents, chart_tgz


def uses_released_chart() -> bool:
    """True when the CRDs (and the local stack's chart) are Scontain's released ones."""
    return chart_tgz(local_stack_version()) is not None


#: The namespace the CRDs name for their conversion webhook when no chart installs them (one
#: version each, so the API server never calls it).
SIMULATED_OPERATOR_NAMESPACE = "scone-operator-sim"


def scone_crds(namespace: str) -> list[dict[str, Any]]:
    """The six SCONE CRDs, as the chart installs them into ``namespace`` (their webhook service's)."""
    real = chart_tgz(local_stack_version())
    if real is None:
        return [doc for doc in yaml.safe_load_all(CRDS_FILE.read_text()) if doc]
    return chart_documents(real, "CustomResourceDefinition", namespace)


def apply_scone_crds(cluster: LocalCluster, namespace: str = SIMULATED_OPERATOR_NAMESPACE) -> None:
    """Apply the SCONE CRDs and wait until each is established."""
    crds = scone_crds(namespace)
    cluster.kubectl_apply(crds)
    for crd in crds:
        cluster.kubectl("wait", "--for=condition=Established", "--timeout=300s", f"crd/{crd['metadata']['name']}")


def preinstall_scone_crds_for_release(apply: Callable[[list[dict[str, Any]]], None], release: str,
                                      namespace: str) -> None:
    """Apply the SCONE CRDs as if Helm release ``release`` in ``namespace`` had installed them
    (Helm's ownership label and annotations), so that the release's install adopts them: a
    cluster where the operator's CRDs are already present (a re-install after the CRs' data was kept)."""
    docs = scone_crds(namespace)
    for doc in docs:
        doc["metadata"].setdefault("labels", {})["app.kubernetes.io/managed-by"] = "Helm"
        doc["metadata"].setdefault("annotations", {}).update(
            {"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": namespace})
    apply(docs)
