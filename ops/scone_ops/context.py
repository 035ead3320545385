"""The options every command shares, and the object built from them.

Every command takes them after its own name (`scone-ops cas move --stack prod --dry-run`), so a
runbook line reads left to right; one decorator adds them, so a new command group gets them too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from scone_ops.errors import ExitCode, OpsError
from scone_ops.kubectl import Kubectl
from scone_ops.output import Output
from scone_ops.stack_kube import kube_target
from scone_ops.stack_target import StackTarget, load_target, stack_file_for

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Ops:
    """What a command works with: the stack's CAS, kubectl, the output, and whether to change anything."""

    stack: str | None
    stack_file: Path | None
    output: Output
    dry_run: bool
    #: --kubeconfig and --context as given (None when not given).
    kubeconfig_flag: str | None = None
    context_flag: str | None = None
    _target: StackTarget | None = None
    _kubectl: Kubectl | None = None

    @property
    def names_stack(self) -> bool:
        """A stack is given (--stack, --stack-file or SCONE_OPS_STACK)."""
        return self.stack is not None or self.stack_file is not None

    @property
    def kubectl(self) -> Kubectl:
        """kubectl bound to the flags, else to the stack's scone:kubeconfig/scone:kubeContext, else ambient."""
        if self._kubectl is None:
            stack = self.target.cluster if self.names_stack else None
            self._kubectl = Kubectl.of(kube_target(stack, self.kubeconfig_flag, self.context_flag))
        return self._kubectl

    @property
    def target(self) -> StackTarget:
        """The stack's CAS, loaded on first use (read-only commands need no Pulumi state)."""
        if self._target is None:
            if self.stack_file is None and self.stack is None:
                raise OpsError(ExitCode.USAGE, "no stack given", "pass --stack <env> (stacks/Pulumi.<env>.yaml)"
                               " or --stack-file PATH, or set SCONE_OPS_STACK")
            path = self.stack_file if self.stack_file is not None else stack_file_for(str(self.stack))
            self._target = load_target(path)
        return self._target


def common_options(command: F) -> F:
    """Add --stack, --stack-file, --kubeconfig, --context and --output; pass `ops` (dry_run False)."""
    return _options(command, changes=False)


def changing_options(command: F) -> F:
    """The common options plus --dry-run, for commands that change the cluster."""
    return _options(command, changes=True)


def _options(command: F, changes: bool) -> F:
    @click.option("--stack", envvar="SCONE_OPS_STACK", metavar="ENV",
                  help="Stack whose CAS to work on: reads stacks/Pulumi.<ENV>.yaml. Env: SCONE_OPS_STACK.")
    @click.option("--stack-file", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
                  help="A stack file elsewhere (instead of --stack).")
    @click.option("--kubeconfig", metavar="PATH",
                  help="kubeconfig of every kubectl call, instead of the stack's scone:kubeconfig (default: that,"
                       " else the ambient KUBECONFIG).")
    @click.option("--context", "kube_context", metavar="NAME",
                  help="kubeconfig context of every kubectl call, instead of the stack's scone:kubeContext.")
    @click.option("--output", "-o", "output", type=click.Choice(["table", "json"]), default="table",
                  show_default=True, help="table for people, json for scripts.")
    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        ops = Ops(stack=kwargs.pop("stack"), stack_file=kwargs.pop("stack_file"),
                  output=Output(kwargs.pop("output")), dry_run=kwargs.pop("dry_run", False),
                  kubeconfig_flag=kwargs.pop("kubeconfig") or None, context_flag=kwargs.pop("kube_context") or None)
        try:
            return command(ops, **kwargs)
        except OpsError as err:
            ops.output.error(err)
            raise click.exceptions.Exit(int(err.code)) from None
    if changes:
        wrapper = click.option("--dry-run", is_flag=True,
                               help="Run the read-only checks, print every step; change nothing.")(wrapper)
    return wrapper  # type: ignore[return-value]
