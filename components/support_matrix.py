"""The SCONE support matrix, loaded from ``support_matrix.yaml``.

Kept as data so that supporting a new release is a one-line change reviewed in a pull
request, not a code change. The order of the file is the upgrade order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

MATRIX_FILE = Path(__file__).with_name("support_matrix.yaml")


def _minor(version: str) -> tuple[int, int]:
    """Parse "1.26" or "v1.26.15" into (1, 26)."""
    parts = version.strip().lstrip("v").split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        raise ValueError(f"'{version}' is not a Kubernetes version like 1.26 or v1.26.3")
    return int(parts[0]), int(parts[1])


@dataclass(frozen=True)
class Release:
    """One supported SCONE release and the Kubernetes versions it is tested on."""

    version: str
    kubernetes_min: str
    kubernetes_max: str

    def supports_kubernetes(self, kubernetes_version: str) -> bool:
        """True when ``kubernetes_version`` is inside this release's range."""
        wanted = _minor(kubernetes_version)
        return _minor(self.kubernetes_min) <= wanted <= _minor(self.kubernetes_max)

    def kubernetes_minors(self) -> list[str]:
        """Every Kubernetes minor version in range, e.g. ["1.24", "1.25", "1.26"]."""
        low, high = _minor(self.kubernetes_min), _minor(self.kubernetes_max)
        return [f"{low[0]}.{minor}" for minor in range(low[1], high[1] + 1)]


@lru_cache(maxsize=1)
def releases() -> tuple[Release, ...]:
    """All supported releases, oldest first."""
    data = yaml.safe_load(MATRIX_FILE.read_text())
    return tuple(
        Release(
            version=str(item["version"]),
            kubernetes_min=str(item["kubernetes"]["min"]),
            kubernetes_max=str(item["kubernetes"]["max"]),
        )
        for item in data["releases"]
    )


def supported_versions() -> list[str]:
    """Supported SCONE versions, oldest first (the upgrade order)."""
    return [release.version for release in releases()]


def release(version: str) -> Release:
    """The release entry for ``version``; ``KeyError`` when it is not supported."""
    for item in releases():
        if item.version == version:
            return item
    raise KeyError(version)
