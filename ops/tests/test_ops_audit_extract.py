"""Downloading the audit log: only the audit file's member of a real tar stream, hashed, never overwriting."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from scone_ops.audit_log import AUDIT_FILE, extract_audit_file, require_audit_container
from scone_ops.errors import ExitCode, OpsError
from scone_ops.stack_target import load_target, stack_file_for


def _tar_stream(root: Path, *members: str) -> subprocess.Popen[bytes]:
    """`tar cf - <absolute paths>` as the audit container runs it (real tar, leading / stripped)."""
    return subprocess.Popen(["tar", "cf", "-", "-C", str(root), *members], stdout=subprocess.PIPE)


def _container_root(tmp_path: Path, content: bytes) -> Path:
    root = tmp_path / "container"
    log = root / AUDIT_FILE.lstrip("/")
    log.parent.mkdir(parents=True)
    log.write_bytes(content)
    (log.parent / "other.log").write_bytes(b"not the audit log\n")
    return root


def test_extracts_the_audit_file_with_its_sha256(tmp_path: Path) -> None:
    content = b"".join(b'{"seq":%d,"op":"session created"}\n' % i for i in range(5000))
    root = _container_root(tmp_path, content)
    proc = _tar_stream(root, "var/log/cas/audit/other.log", AUDIT_FILE.lstrip("/"))
    assert proc.stdout is not None
    got = extract_audit_file(proc.stdout, tmp_path / "out.log")
    proc.wait()
    assert got.path.read_bytes() == content
    assert got.sha256 == hashlib.sha256(content).hexdigest() and got.size == len(content)
    assert got.path.stat().st_mode & 0o777 == 0o600


def test_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    root = _container_root(tmp_path, b"x\n")
    dest = tmp_path / "out.log"
    dest.write_text("earlier download\n")
    proc = _tar_stream(root, AUDIT_FILE.lstrip("/"))
    assert proc.stdout is not None
    with pytest.raises(FileExistsError):
        extract_audit_file(proc.stdout, dest)
    proc.wait()
    assert dest.read_text() == "earlier download\n"


def test_a_stream_without_the_audit_file_is_not_found(tmp_path: Path) -> None:
    root = _container_root(tmp_path, b"x\n")
    proc = _tar_stream(root, "var/log/cas/audit/other.log")
    assert proc.stdout is not None
    with pytest.raises(OpsError) as caught:
        extract_audit_file(proc.stdout, tmp_path / "out.log")
    proc.wait()
    assert caught.value.code == ExitCode.NOT_FOUND and AUDIT_FILE in caught.value.message
    assert not (tmp_path / "out.log").exists()


def test_missing_cas_pod_or_audit_container_each_named() -> None:
    target = load_target(stack_file_for("local"))
    pod = {"spec": {"containers": [{"name": "cas"}]}}
    for cas, p, expected in ((None, pod, "CAS cas does not exist"), ({}, None, "pod cas-0 does not exist"),
                             ({}, pod, "has no container 'audit' (it has: cas)")):
        with pytest.raises(OpsError) as caught:
            require_audit_container(cas, p, target)
        assert caught.value.code == ExitCode.NOT_FOUND and expected in caught.value.message
    require_audit_container({}, {"spec": {"containers": [{"name": "cas"}, {"name": "audit"}]}}, target)
