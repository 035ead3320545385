"""Scontain's released scone-operator charts, read where they are kept beside the repository.

The charts are Scontain's files, byte for byte as released; the repository never holds a copy.
They are looked up in ``$SCONE_UPSTREAM_CHARTS`` or in ``shared/upstream/scone-operator`` beside
the repository or one of its parent directories (a worktree sits deeper than the main checkout).
Tests that need them skip with ``MISSING`` when neither holds them: the default chart location
(Scontain's repository on the internet) is not reachable from tests, which talk to loopback only.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

import yaml

from e2e.harness.tools import REPO_ROOT

ENV = "SCONE_UPSTREAM_CHARTS"
RELATIVE = Path("shared") / "upstream" / "scone-operator"
MISSING = (
    f"Scontain's scone-operator charts are not here: put scone-operator-<version>.tgz into ../{RELATIVE}"
    f" beside the repository or point ${ENV} at their folder"
)


def charts_dir() -> Path | None:
    """The folder holding ``scone-operator-<version>.tgz``, or None."""
    configured = os.environ.get(ENV)
    candidates = [Path(configured)] if configured else [parent / RELATIVE for parent in REPO_ROOT.parents]
    return next((path for path in candidates if any(path.glob("scone-operator-*.tgz"))), None)


def chart_tgz(version: str) -> Path | None:
    """Scontain's chart of ``version``, or None when it is not available."""
    folder = charts_dir()
    path = folder / f"scone-operator-{version}.tgz" if folder else None
    return path if path is not None and path.is_file() else None


def chart_metadata(tgz: Path) -> dict[str, Any]:
    """The chart's Chart.yaml, read from inside the tgz."""
    with tarfile.open(tgz, "r:gz") as tar:
        member = next(m for m in tar.getmembers() if m.name.count("/") == 1 and m.name.endswith("/Chart.yaml"))
        handle = tar.extractfile(member)
        assert handle is not None
        data: dict[str, Any] = yaml.safe_load(io.TextIOWrapper(handle, encoding="utf-8"))
    return data


def chart_documents(tgz: Path, kind: str, namespace: str) -> list[dict[str, Any]]:
    """Every YAML document of ``kind`` among the chart's own templates (not its sub-charts'),
    as installed into ``namespace``.

    Those templates are plain manifests whose one template expression for these kinds is
    ``{{.Release.Namespace}}``; other kinds (Deployment: values) are not read here.
    """
    docs: list[dict[str, Any]] = []
    with tarfile.open(tgz, "r:gz") as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if len(parts) != 3 or parts[1] != "templates" or not parts[2].startswith(f"{kind}-"):
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            text = handle.read().decode().replace("{{.Release.Namespace}}", namespace)
            docs.extend(d for d in yaml.safe_load_all(text) if isinstance(d, dict))
    return docs


def cert_manager_crds(tgz: Path) -> list[dict[str, Any]]:
    """cert-manager's own CRDs (Issuer, Certificate, ...) from the chart's ``cert-manager`` sub-chart.

    Scontain's chart vendors cert-manager's chart (``charts/cert-manager``, the version its
    Chart.lock pins) whose ``templates/crds.yaml`` holds cert-manager's CRDs behind
    ``installCRDs``. Its only template lines are that condition and metadata labels; dropping
    them leaves the CRDs as cert-manager installs them, schemas untouched.
    """
    with tarfile.open(tgz, "r:gz") as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/charts/cert-manager/templates/crds.yaml"))
        handle = tar.extractfile(member)
        assert handle is not None
        lines = handle.read().decode().splitlines()
    plain = "\n".join(line for line in lines if "{{" not in line)
    docs = [doc for doc in yaml.safe_load_all(plain) if isinstance(doc, dict) and doc.get("kind")]
    for doc in docs:
        doc["metadata"]["labels"] = {"app.kubernetes.io/name": "cert-manager"}
    return docs


def released_location(*versions: str) -> str | None:
    """``operatorChart.location`` for Scontain's charts of every one of ``versions``, or None if one is missing."""
    charts = [chart_tgz(version) for version in versions]
    if any(chart is None for chart in charts) or not charts:
        return None
    folder = charts_dir()
    assert folder is not None
    return str(folder / "scone-operator-{version}.tgz")
