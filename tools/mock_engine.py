"""Evaluate the program for a stack file with Pulumi's in-process mock engine.

No CLI, no cluster, no credentials: the stack file is read the way the CLI reads it
(project defaults from ``Pulumi.yaml``, then ``stacks/Pulumi.<stack>.yaml``), every
``secure:`` value is replaced by a recognisable sentinel, and a recording monitor keeps
each ``RegisterResource`` request, so callers see resource *options* (protect,
retainOnDelete, ignoreChanges, dependencies) as well as inputs. Tests, the plan tool
and the benchmark all evaluate through here, and all of them run the program's own body
(``components.program.declare``) unless a test hands in a smaller one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks, rpc, set_all_config, set_mocks
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.chart_access import ChartAccessError
from components.config_errors import SpecError
from components.config_source import stack_file
from components.live_checks import PlacementError
from components.live_cluster import ClusterView, OfflineView
from components.program import declare
from components.spec import SconeSpec

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "scone"
SECRET_SIG = rpc._special_sig_key
SECRET_MARK = rpc._special_secret_sig


def secret_sentinel(key: str) -> str:
    """The stand-in for a ``secure:`` value; tests search for it to find leaks."""
    return f"SENTINEL-SECRET-{key}"


@dataclass(frozen=True)
class StackConfig:
    """A stack's config as the engine would hand it to the program."""

    stack: str
    values: dict[str, str]
    secret_keys: frozenset[str]


def _as_engine_string(value: Any) -> str:
    """The engine passes strings as is and everything else JSON-encoded."""
    return value if isinstance(value, str) else json.dumps(value)


def project_defaults(root: Path = ROOT) -> dict[str, str]:
    """Defaults declared under ``config:`` in Pulumi.yaml (the CLI applies them, the SDK does not)."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    defaults = {}
    for key, declaration in (project.get("config") or {}).items():
        if isinstance(declaration, dict) and "default" in declaration:
            defaults[f"{PROJECT}:{key}"] = _as_engine_string(declaration["default"])
    return defaults


def load_stack_config(stack: str, root: Path = ROOT, overrides: dict[str, Any] | None = None) -> StackConfig:
    """Read ``stacks/Pulumi.<stack>.yaml`` (plus ``overrides``, keyed without namespace)."""
    document = yaml.safe_load(stack_file(root, stack).read_text()) or {}
    values = project_defaults(root)
    secret_keys: set[str] = set()
    for key, value in (document.get("config") or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret_keys.add(full)
            values[full] = secret_sentinel(full.split(":", 1)[1])
        else:
            values[full] = _as_engine_string(value)
    for key, value in (overrides or {}).items():
        full = f"{PROJECT}:{key}"
        if value is None:
            values.pop(full, None)
            secret_keys.discard(full)
        else:
            values[full] = _as_engine_string(value)
    return StackConfig(stack=stack, values=values, secret_keys=frozenset(secret_keys))


@dataclass(frozen=True)
class Registration:
    """One resource registration as the engine received it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    protect: bool
    retain_on_delete: bool | None
    ignore_changes: tuple[str, ...]
    dependencies: tuple[str, ...]
    additional_secret_outputs: tuple[str, ...]
    read: bool = False
    #: The provider reference of a custom resource ("" = the default provider).
    provider: str = ""


class RecordingMonitor(MockMonitor):
    """A mock monitor that keeps every registration request (options included)."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def _record(self, request: Any, read: bool) -> None:
        self.registrations.append(
            Registration(
                urn=self.make_urn(request.parent, request.type, request.name),
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=bool(getattr(request, "custom", True)),
                inputs=rpc.deserialize_properties(request.properties if read else request.object, keep_unknowns=True),
                protect=bool(getattr(request, "protect", False)),
                retain_on_delete=(request.retainOnDelete if not read and request.HasField("retainOnDelete") else None),
                ignore_changes=tuple(getattr(request, "ignoreChanges", ()) or ()),
                dependencies=tuple(getattr(request, "dependencies", ()) or ()),
                additional_secret_outputs=tuple(getattr(request, "additionalSecretOutputs", ()) or ()),
                read=read,
                provider=str(getattr(request, "provider", "") or ""),
            )
        )

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.type != "pulumi:pulumi:Stack":
            self._record(request, read=False)
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]

    def ReadResource(self, request: Any) -> Any:  # noqa: N802
        self._record(request, read=True)
        return super().ReadResource(request)  # type: ignore[no-untyped-call]


class SconeMocks(Mocks):
    """Plausible provider answers for the resource types the program declares."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == "aws:s3/bucket:Bucket":
            name = state.get("bucket") or f"{state.get('bucketPrefix', args.name)}mock"
            state.update(bucket=name, arn=f"arn:aws:s3:::{name}")
            return name, state
        if args.typ == "aws:iam/accessKey:AccessKey":
            state.update(secret="mock-iam-secret-access-key")  # noqa: S106 - a mock answer
            return "AKIAMOCKACCESSKEY", state
        if args.typ == "aws:iam/user:User":
            state.setdefault("name", args.name)
        if args.typ == "kubernetes:helm.sh/v3:Release":
            state["status"] = {
                "status": "deployed",
                "revision": 1,
                "name": state.get("name"),
                "namespace": state.get("namespace"),
            }
        if args.typ == "kubernetes:core/v1:Secret" and args.resource_id:
            state["data"] = {"AWS_ACCESS_KEY_ID": "bW9jaw==", "AWS_SECRET_ACCESS_KEY": "bW9jaw=="}
        return args.resource_id or f"{args.name}-id", state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


@dataclass
class Evaluation:
    """What one evaluation of the program produced."""

    registrations: list[Registration]
    outputs: dict[str, Any]
    error: str | None = None
    logs: list[str] = field(default_factory=list)
    #: The validated spec, when the program itself ran and the config was valid.
    spec: SconeSpec | None = None

    def by_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registration:
        found = [r for r in self.by_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one {type_} {name or ''}, found {[r.name for r in found]}")
        return found[0]

    def named(self, name: str) -> Registration:
        found = [r for r in self.registrations if r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one resource named {name}, found {len(found)}")
        return found[0]

    def urns(self) -> list[str]:
        return [r.urn for r in self.registrations]


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname}: {record.getMessage()}")


def evaluate(
    config: StackConfig,
    preview: bool = False,
    program: Callable[[], dict[str, Any]] | None = None,
    mocks: Mocks | None = None,
    cluster: ClusterView | None = None,
) -> Evaluation:
    """Run the program (``components.program.declare``, or ``program``) once under ``mocks`` for ``config``.

    ``cluster`` is what the program reads of the live cluster; without one it reads nothing
    (``OfflineView``) and keeps every protection a CAS could need, as against an unreachable cluster.
    """
    mocks = mocks or SconeMocks()
    monitor = RecordingMonitor(mocks)
    handler = _ListHandler()
    logger = logging.getLogger(f"scone-mock-{id(handler)}")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)  # the CLI shows info diagnostics too (e.g. the CAS placement report)
    # A fresh root Stack resource per evaluation: set_mocks only creates one when none exists,
    # and a leftover root from an earlier evaluation would parent this stack's resources.
    pulumi.runtime.settings.ROOT.set(None)
    set_mocks(mocks, project=PROJECT, stack=config.stack, preview=preview, monitor=monitor, logger=logger)
    set_all_config(dict(config.values), sorted(config.secret_keys))
    pulumi.runtime.settings.SETTINGS.rpc_manager.clear()
    pulumi.runtime.settings.SETTINGS.outputs.clear()

    result: dict[str, Any] = {}
    error: str | None = None
    spec: SconeSpec | None = None

    def body() -> None:
        nonlocal error, spec
        try:
            if program is None:
                declared = declare(cluster or OfflineView(), offline=cluster is None)
                spec, outputs = declared.spec, declared.outputs
            else:
                outputs = program()
        except (SpecError, ChartAccessError, PlacementError) as refusal:
            error = str(refusal)
            return
        resolved: dict[str, Any] | None = _sync_await(pulumi.Output.from_input(outputs).future())
        result.update(resolved or {})

    _sync_await(run_pulumi_func(body))
    return Evaluation(
        registrations=monitor.registrations, outputs=result, error=error, logs=handler.messages, spec=spec
    )


def contains_plain(value: Any, needle: str) -> bool:
    """True when ``needle`` occurs in ``value`` outside a secret wrapper."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_MARK:
            return False
        return any(contains_plain(item, needle) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_plain(item, needle) for item in value)
    return isinstance(value, str) and needle in value
