"""Inside Pulumi's provider server, our errors reach the user as one plain line, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Stand in for `python -m pulumi.dynamic`: same __main__ spec, and the server's own formatting
# of a failed call (traceback.format_exc(), pulumi/dynamic/__main__.py).
SERVER = """
import importlib.machinery, sys, traceback
sys.modules["__main__"].__spec__ = importlib.machinery.ModuleSpec("pulumi.dynamic.__main__", None)
sys.path.insert(0, {root!r})
from components.guard_providers import CertManagerCheckProvider
import components.guard_providers as guards
guards.shutil.which = lambda name: None  # kubectl "missing"
try:
    CertManagerCheckProvider().create({{"version": "5.8.0"}})
except Exception:
    print(traceback.format_exc(), end="")
{tail}
"""

BUG = """
from components.provider_errors import user_facing_errors

class Broken(CertManagerCheckProvider):
    def create(self, props):
        raise KeyError("a bug")

Broken = user_facing_errors(Broken)
try:
    Broken().create({})
except Exception:
    print(traceback.format_exc(), end="")
"""


def run_server(tail: str = "") -> str:
    code = SERVER.format(root=str(ROOT), tail=tail)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_a_user_facing_error_is_one_plain_line_in_the_provider_server() -> None:
    output = run_server()
    assert output.startswith("components.provider_errors.UserFacingError: kubectl is not on PATH")
    assert "Traceback" not in output
    assert output.count("\n") == 1


def test_a_bug_after_a_user_facing_error_keeps_its_whole_traceback() -> None:
    output = run_server(BUG)
    user_error, bug = output.split("Traceback (most recent call last):", 1)
    assert user_error.startswith("components.provider_errors.UserFacingError:")
    assert ", in create\n" in bug  # the bug's own frame is shown
    assert bug.rstrip().endswith("KeyError: 'a bug'")
