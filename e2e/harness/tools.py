"""Where the e2e tier's binaries are, and a clear error when one is missing.

Why: the tools are built by e2e/build_tools.sh into a cache outside the repository;
every consumer (fixture, human script, benchmarks) must find them the same way and
say exactly what to run when they are not there.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "e2e" / "build_tools.sh"


def cache_dir() -> Path:
    """The build cache: $SCONE_E2E_CACHE or ~/.cache/scone-stack/e2e."""
    env = os.environ.get("SCONE_E2E_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "scone-stack" / "e2e"


class ToolsMissingError(RuntimeError):
    """A binary the e2e tier needs has not been built."""


@dataclass(frozen=True)
class Tools:
    """Absolute paths of every binary the harness runs."""

    bin_dir: Path
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kwok: Path
    kubectl: Path
    pulumi: Path
    pulumi_resource_kubernetes: Path

    @classmethod
    def locate(cls, need_pulumi: bool = True) -> Tools:
        """Find every tool or raise naming each missing one and the command that builds it."""
        bin_dir = cache_dir() / "bin"
        missing: list[str] = []

        def in_cache(name: str, required: bool = True) -> Path:
            p = bin_dir / name
            if required and not os.access(p, os.X_OK):
                missing.append(f"{name} (expected at {p})")
            return p

        def on_path(name: str) -> Path:
            found = shutil.which(name)
            if found is None:
                missing.append(f"{name} (expected on PATH)")
                return Path(name)
            return Path(found)

        tools = cls(
            bin_dir=bin_dir,
            etcd=on_path("etcd"),
            kube_apiserver=in_cache("kube-apiserver"),
            kube_controller_manager=in_cache("kube-controller-manager"),
            kube_scheduler=in_cache("kube-scheduler"),
            kwok=in_cache("kwok"),
            kubectl=on_path("kubectl"),
            pulumi=in_cache("pulumi", need_pulumi),
            pulumi_resource_kubernetes=in_cache("pulumi-resource-kubernetes", need_pulumi),
        )
        if not (bin_dir / "kwok-stages.yaml").is_file():
            missing.append(f"kwok-stages.yaml (expected at {bin_dir})")
        if need_pulumi:
            for extra in ("pulumi-language-python", "pulumi-language-python-exec",
                          "pulumi-resource-pulumi-python"):
                in_cache(extra)
        if missing:
            raise ToolsMissingError(
                "e2e tools missing: " + "; ".join(missing)
                + f". Build them with: {BUILD_SCRIPT} (cache: {cache_dir()}, "
                "override with SCONE_E2E_CACHE)"
            )
        return tools
