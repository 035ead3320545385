"""Facts about the program's shape that anyone can check, kept true by these tests.

- A component (a module defining a ComponentResource) imports no other component: it gets
  its settings as a small args object, built from the spec in one place, and shared names
  come from ``components.names``.
- The program's declaration layer is at most five modules deep: from the program module through
  the components down to the dynamic resources they declare (a dynamic resource's provider code
  below it runs in the engine's provider process and is its own layer). The program module reads
  the live cluster and declares the components itself, and the live cluster reads and kubectl
  JSON reading import only names, errors and the one builder of kubectl's argv
  (``kube_access``, which imports nothing of ours). What makes the five is the spec: a spec section
  (``backup_settings``, ``owner.config``) sits on the shared strict base model, the spec on its
  sections, and whatever cuts the spec into settings on the spec (program -> settings slices ->
  spec -> backup settings -> strict model).
- No source file grows past 400 lines.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from tools.mock_engine import ROOT

COMPONENTS = ROOT / "components"
#: Longest import chain of the declaration layer, counted in modules, from the program entry down.
MAX_IMPORT_FLOORS = 5
MAX_LINES = 400
#: Where our own source lives (generated Go module files and vendored charts are not ours).
SOURCE_DIRS = ("components", "tools", "tests", "backupper", "policy", "e2e", "bench", "ops")


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


MODULES = {module_name(path): path for path in COMPONENTS.rglob("*.py")}


@functools.cache
def tree(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text())


@functools.cache
def imports(name: str) -> frozenset[str]:
    """The modules of components/ that ``name`` imports."""
    found: set[str] = set()
    for node in ast.walk(tree(name)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("components"):
            found.update(
                f"components.{alias.name}" if node.module == "components" else node.module for alias in node.names
            )
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("components"))
    return frozenset(found & set(MODULES) - {name})


def is_component(name: str) -> bool:
    """True for a module that defines a ComponentResource (directly or through WaitingComponent)."""
    bases = {"ComponentResource", "WaitingComponent"}
    for node in ast.walk(tree(name)):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                base_name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                if base_name in bases and node.name != "WaitingComponent":
                    return True
    return False


def declares_dynamic_resources(name: str) -> bool:
    """True for a module defining ``pulumi.dynamic.Resource`` subclasses: the bottom of the declaration layer."""
    imports_resource = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "pulumi.dynamic"
        and any(alias.name == "Resource" for alias in node.names)
        for node in ast.walk(tree(name))
    )
    return imports_resource and any(
        isinstance(node, ast.ClassDef) and any(getattr(base, "id", "") == "Resource" for base in node.bases)
        for node in ast.walk(tree(name))
    )


@functools.cache
def longest_chain(name: str) -> tuple[str, ...]:
    if declares_dynamic_resources(name):
        return (name,)
    below = [longest_chain(dep) for dep in imports(name)]
    return (name, *max(below, key=len, default=()))


def test_no_component_imports_another_component() -> None:
    components = {name for name in MODULES if is_component(name)}
    assert len(components) >= 6, components
    siblings = {name: sorted(imports(name) & components) for name in components}
    assert {name: deps for name, deps in siblings.items() if deps} == {}


def test_the_declaration_layer_is_at_most_five_floors_deep() -> None:
    chain = longest_chain("components.program")
    assert len(chain) <= MAX_IMPORT_FLOORS, " -> ".join(chain)


def test_the_live_cluster_reads_import_only_names_and_errors() -> None:
    assert imports("components.live_cluster") == {
        "components.names",
        "components.provider_errors",
        "components.kube_access",
    }
    assert imports("components.kube_access") == frozenset()
    assert imports("components.names") == imports("components.provider_errors") == frozenset()


def test_no_source_file_is_longer_than_400_lines() -> None:
    long_files = {
        str(path.relative_to(ROOT)): lines
        for directory in SOURCE_DIRS
        if (ROOT / directory).is_dir()
        for path in (ROOT / directory).rglob("*.py")
        if ".venv" not in path.parts and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long_files == {}
