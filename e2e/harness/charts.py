"""The local stand-in for Scontain's scone-operator chart, as directory or tgz.

Why tgz per version: upstream publishes `scone-operator-<VERSION>.tgz` whose chart
version equals the SCONE version; an upgrade from 5.8.0-rc.19 to 5.8.0 must see a
different chart. `package_chart` renders the same templates with Chart.yaml's
version/appVersion and the default image tag set to the requested version.
"""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

CHART_DIR = Path(__file__).resolve().parent / "charts" / "scone-operator"
CRDS_FILE = CHART_DIR / "templates" / "crds.yaml"
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+(-rc\.\d+)?$")


def package_chart(version: str, dest_dir: Path) -> Path:
    """Write dest_dir/scone-operator-<version>.tgz and return its path."""
    if not VERSION_RE.match(version):
        raise ValueError(f"chart version {version!r}: expected X.Y.Z or X.Y.Z-rc.N")
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / f"scone-operator-{version}.tgz"
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(CHART_DIR.rglob("*")):
            if not path.is_file():
                continue
            data = path.read_bytes()
            rel = path.relative_to(CHART_DIR).as_posix()
            if rel == "Chart.yaml":
                text = data.decode()
                text = re.sub(r"(?m)^version: .*$", f"version: {version}", text)
                text = re.sub(r"(?m)^appVersion: .*$", f"appVersion: {version}", text)
                data = text.encode()
            elif rel == "values.yaml":
                data = re.sub(rb"k8soperators:[^\"\s]+", f"k8soperators:{version}".encode(), data)
            info = tarfile.TarInfo(f"scone-operator/{rel}")
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return out
