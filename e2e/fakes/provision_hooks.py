"""The fake kubectl-provision's test hooks: the call log and failure injection (see ``fake_provision``)."""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any


def log_call(argv: list[str]) -> None:
    path = os.environ.get("FAKE_SCONE_CALL_LOG")
    if not path:
        return
    dcap = os.environ.get("DCAP_KEY")
    snapshots = Path.cwd() / "cas-database-snapshots"
    record = {
        "argv": argv,
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "time": datetime.datetime.now(datetime.UTC).isoformat(),
        "env": {k: os.environ.get(k) for k in ("VERSION", "IMAGE_REPO", "IMAGE_PREFIX", "TARGET_DIR", "NAMESPACE")},
        "dcap_key_sha256": hashlib.sha256(dcap.encode()).hexdigest() if dcap else None,
        "cwd_snapshots": sorted(p.name for p in snapshots.iterdir()) if snapshots.is_dir() else [],
    }
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(record) + "\n")


def injected_rule(argv: list[str]) -> dict[str, Any] | None:
    path = os.environ.get("FAKE_SCONE_CONTROL")
    if not path or not os.path.exists(path):
        return None
    joined = " ".join(argv)
    with open(path, "r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        control = json.load(handle)
        for rule in control.get("rules", []):
            hit = joined == rule.get("match") if rule.get("exact") else rule.get("match", "") in joined
            if hit and rule.get("times", 1) != 0:
                if "times" in rule:
                    rule["times"] -= 1
                handle.seek(0)
                handle.truncate()
                json.dump(control, handle)
                return dict(rule)
    return None
