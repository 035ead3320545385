"""A throwaway git repository holding a copy of this project, and revisions made from it.

Each revision is the base tree plus one edit (a stack-file change or a code change), so
comparing it with the base shows exactly one kind of change. The program, the mock engine
and the stack files are copied from the working tree, so the tests exercise the code as
it is now, the way ``tools.plan_diff`` meets it in a pull request.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

PROJECT = Path(__file__).resolve().parents[2]
COPIED = ("Pulumi.yaml", "__main__.py", "components", "tools", "stacks")
GIT = ["git", "-c", "user.name=plan-diff-tests", "-c", "user.email=tests@invalid", "-c", "commit.gpgsign=false"]

Edit = Callable[[Path], None]


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run([*GIT, "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return result.stdout.strip()


class FixtureRepo:
    """A git repository whose revisions each differ from ``base`` by one edit."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.snapshot = root.parent / f"{root.name}-base-files"
        root.mkdir(parents=True)
        for name in COPIED:
            source = PROJECT / name
            if source.is_dir():
                shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(source, root / name)
        _git(root, "init", "-q", "-b", "main")
        self.base = self._commit("base: the project as it is")
        shutil.copytree(root, self.snapshot, ignore=shutil.ignore_patterns(".git"))

    def _commit(self, message: str) -> str:
        _git(self.root, "add", "-A")
        _git(self.root, "commit", "-q", "--allow-empty", "-m", message)
        return _git(self.root, "rev-parse", "HEAD")

    def _restore_base(self) -> None:
        for name in COPIED:
            target = self.root / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
            source = self.snapshot / name
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copy2(source, target)

    def revision(self, message: str, *edits: Edit) -> str:
        """Commit base + ``edits``; returns the commit id."""
        self._restore_base()
        for edit in edits:
            edit(self.root)
        return self._commit(message)


def stack_config(stack: str, **changes: Any) -> Edit:
    """An edit setting (value) or removing (None) ``scone:<key>`` in a stack file."""

    def edit(root: Path) -> None:
        path = root / "stacks" / f"Pulumi.{stack}.yaml"
        document = yaml.safe_load(path.read_text()) or {}
        config = document.setdefault("config", {})
        for key, value in changes.items():
            if value is None:
                config.pop(f"scone:{key}", None)
            else:
                config[f"scone:{key}"] = value
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    return edit


def code(path: str, old: str, new: str) -> Edit:
    """An edit replacing the first ``old`` with ``new`` in a source file (it must be there)."""

    def edit(root: Path) -> None:
        file = root / path
        text = file.read_text()
        assert old in text, f"{path} no longer contains {old!r}; update the fixture"
        file.write_text(text.replace(old, new, 1))

    return edit


def delete_stack(stack: str) -> Edit:
    """An edit removing a stack file."""

    def edit(root: Path) -> None:
        (root / "stacks" / f"Pulumi.{stack}.yaml").unlink()

    return edit
