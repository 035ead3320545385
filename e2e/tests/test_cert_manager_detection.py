"""cert-manager detection (scone:certManager.mode detect) against a real kube-apiserver."""

from __future__ import annotations

import pytest

from components.guard_providers import CERT_MANAGER_CRDS, CertManagerCheckProvider, missing_cert_manager_crds
from components.provider_errors import UserFacingError
from e2e.harness.cluster import LocalCluster


def crd(name: str) -> dict[str, object]:
    plural, group = name.split(".", 1)
    kind = plural[:-1].capitalize()
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {
            "group": group,
            "names": {"plural": plural, "singular": plural[:-1], "kind": kind},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }


def test_missing_cert_manager_fails_with_what_to_do_then_passes_once_installed(
    cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    assert missing_cert_manager_crds() == list(CERT_MANAGER_CRDS)
    with pytest.raises(UserFacingError) as refused:
        CertManagerCheckProvider().create({"version": "5.8.0"})
    message = str(refused.value)
    assert message.startswith(
        "cert-manager is not installed in the cluster (missing CRDs: certificates.cert-manager.io,"
    )
    assert "pulumi config set --path certManager.mode install" in message

    cluster.kubectl_apply([crd(name) for name in CERT_MANAGER_CRDS])
    assert missing_cert_manager_crds() == []
    assert CertManagerCheckProvider().create({"version": "5.8.0"}).id == "cert-manager-check"
