"""Build the backupper's OCI image with backupper/image/build_image.sh, read it back, and run it.

Reading: the OCI layout's index → this machine's platform manifest → its config (Entrypoint,
Cmd, User, Env, WorkingDir) and layers, unpacked with the real `tar` into a root directory.
Running: what a container runtime does, with util-linux `unshare`: a private mount
namespace where the root filesystem is mounted read-only (like readOnlyRootFilesystem),
a tmpfs at /tmp (the pod's emptyDir), the test's data directory at /data, /dev and /proc;
then the image's entry point runs with the image's working directory, user and group.
The network namespace is the host's, so the image reaches a server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "backupper" / "image" / "build_image.sh"
BUILD_TOOLS = ROOT / "e2e" / "build_tools.sh"
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


def why_not_buildable() -> str | None:
    """Why build_image.sh cannot run on this machine kind, or None when it can."""
    if os.geteuid() != 0:
        return "building and running the image needs root (files owned by uid 0, mount namespaces)"
    if platform.machine() not in ARCH:
        return f"the image is built for amd64 and arm64, this machine is {platform.machine()}"
    for tool in ("apt-get", "dpkg-deb", "unshare", "tar"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed; the image is made from Debian packages with apt and dpkg-deb"
    sources = list(Path("/etc/apt").glob("sources.list*")) + list(Path("/etc/apt/sources.list.d").glob("*"))
    if not any("debian" in path.read_text(errors="replace") for path in sources if path.is_file()):
        return "apt has no Debian sources configured; the root filesystem is made from Debian bookworm packages"
    probe = subprocess.run(["unshare", "--mount", "--fork", "--", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"`unshare --mount` is not permitted here: {probe.stderr.strip()}"
    return None


def build_tools() -> None:
    """crane and the image's kubectl, built from Go modules the way every e2e tool is."""
    result = subprocess.run([str(BUILD_TOOLS), "image"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"e2e/build_tools.sh image failed:\n{result.stdout}\n{result.stderr}"


def build_image(out: Path) -> str:
    """Run the build script into ``out``; return the image (index) digest it printed."""
    result = subprocess.run([str(BUILD_SCRIPT), "--out", str(out)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"build_image.sh failed:\n{result.stderr[-4000:]}"
    digest = result.stdout.strip().splitlines()[-1]
    assert digest.startswith("digest=sha256:"), result.stdout
    return digest.removeprefix("digest=")


@dataclass(frozen=True)
class Image:
    """One platform's image out of an OCI layout."""

    layout: Path
    manifest: dict[str, Any]
    config: dict[str, Any]

    def blob(self, digest: str) -> Path:
        algorithm, hexdigest = digest.split(":", 1)
        return self.layout / "blobs" / algorithm / hexdigest

    @property
    def runtime(self) -> dict[str, Any]:
        value: dict[str, Any] = self.config.get("config") or {}
        return value

    def env(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.runtime.get("Env") or [])

    def unpack(self, target: Path) -> None:
        """Unpack the layers in order with the real tar (as root it keeps owners and modes)."""
        target.mkdir(parents=True, exist_ok=True)
        for layer in self.manifest["layers"]:
            subprocess.run(
                ["tar", "-x", "--numeric-owner", "-f", str(self.blob(layer["digest"])), "-C", str(target)], check=True
            )


def read_json(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def image_for_this_machine(layout: Path) -> Image:
    """Walk index.json (and a nested image index) to this machine's linux platform."""
    arch = ARCH[platform.machine()]
    entries = list(read_json(layout / "index.json")["manifests"])
    while entries:
        entry = entries.pop(0)
        algorithm, hexdigest = entry["digest"].split(":", 1)
        document = read_json(layout / "blobs" / algorithm / hexdigest)
        if entry.get("mediaType") in INDEX_TYPES or document.get("mediaType") in INDEX_TYPES:
            entries.extend(document["manifests"])
            continue
        wanted = entry.get("platform") or {}
        if wanted and (wanted.get("os"), wanted.get("architecture")) != ("linux", arch):
            continue
        config_digest = document["config"]["digest"].split(":", 1)
        config = read_json(layout / "blobs" / config_digest[0] / config_digest[1])
        if (config.get("os"), config.get("architecture")) == ("linux", arch):
            return Image(layout, document, config)
    raise AssertionError(f"the OCI layout {layout} has no linux/{arch} image")


def run_in_image(
    image: Image, rootfs: Path, data: Path, args: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run the image's entry point with ``args`` in place of its Cmd, as a runtime would."""
    runtime = image.runtime
    user, _, group = str(runtime.get("User") or "0").partition(":")
    assert user.isdigit() and (not group or group.isdigit()), f"image User {runtime.get('User')!r} is not numeric"
    workdir = runtime.get("WorkingDir") or "/"
    for directory in ("dev", "proc", "tmp", "data"):
        (rootfs / directory).mkdir(exist_ok=True)
    setup = (
        "set -e; R=$1; D=$2; shift 2;"
        ' mount --bind "$R" "$R"; mount -o remount,bind,ro "$R";'
        ' mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"; mount --bind "$D" "$R/data";'
        ' mount --rbind /dev "$R/dev"; mount -t proc proc "$R/proc";'
        ' exec "$@"'
    )
    command = [
        "unshare", "--root", str(rootfs), "--wd", workdir, "--setuid", user, "--setgid", group or user,
        "--", *(runtime.get("Entrypoint") or []), *args,
    ]  # fmt: skip
    return subprocess.run(
        ["unshare", "--mount", "--fork", "--", "/bin/sh", "-c", setup, "sh", str(rootfs), str(data), *command],
        env={**image.env(), **env},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
