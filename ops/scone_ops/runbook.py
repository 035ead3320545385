"""Executes a plan step by step, and on any failure or signal puts the cluster in a stated state.

The state rule: every node this run cordoned is uncordoned again when the run does not finish
(failure, timeout, SIGINT, SIGTERM), and the error says where CAS is and what to check. A node the
plan leaves cordoned on purpose (`--keep-cordoned`, or a drained node) stays cordoned only when the
run finished.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

from scone_ops.cas_state import health_problem, pod_node, pod_running
from scone_ops.errors import ExitCode, OpsError, SignalStopError
from scone_ops.kubectl import Kubectl
from scone_ops.plan import Plan, Step
from scone_ops.stack_target import StackTarget

POLL_SECONDS = 2.0


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise `SignalStopError` inside the block, so cleanup code runs."""
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SignalStopError(signal.Signals(signum).name)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _ignore_signals() -> None:
    """Until the surrounding `signals_interrupt` block restores the previous handlers."""
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)


@dataclass
class Runbook:
    """Runs one plan against the cluster with bounded waits and progress lines."""

    kubectl: Kubectl
    target: StackTarget
    zone: str | None
    timeout: int
    progress: Callable[[str], None]
    cordoned: list[str] = field(default_factory=list)
    old_pod_uid: str | None = None
    old_node: str | None = None

    def execute(self, plan: Plan) -> str:
        """Run every step; returns where CAS runs at the end (or '' when it was not touched)."""
        final_node = ""
        with signals_interrupt():
            try:
                for index, step in enumerate(plan.steps, 1):
                    self.progress(f"[{index}/{len(plan.steps)}] {step.description}")
                    final_node = self._step(step) or final_node
            except SignalStopError as stop:
                _ignore_signals()  # a second Ctrl-C must not cut the clean-up short
                state = self._restore()
                raise OpsError(ExitCode.INTERRUPTED, f"{plan.title}: {stop}", self._check_hint(), state) from None
            except OpsError as err:
                _ignore_signals()
                state = self._restore()
                raise OpsError(err.code if err.code != ExitCode.CLUSTER else ExitCode.FAILED,
                               f"{plan.title}: {err.message}", err.next_step or self._check_hint(), state) from None
        return final_node

    def _step(self, step: Step) -> str | None:
        if step.action == "wait-cas":
            return self._wait_for_cas(step.node)
        assert step.args is not None
        if step.action == "delete-pod":
            pod = self.kubectl.get_or_none("pod", self.target.pod_name, "-n", self.target.namespace)
            self.old_pod_uid = (pod or {}).get("metadata", {}).get("uid")
            self.old_node = pod_node(pod)
        timeout = None if step.action == "drain" else 120
        self.kubectl.change(step.args, timeout=timeout)
        if step.action == "cordon" and step.node and step.node not in self.cordoned:
            self.cordoned.append(step.node)
        if step.action == "uncordon" and step.node in self.cordoned:
            self.cordoned.remove(step.node)
        return None

    def _wait_for_cas(self, to: str | None) -> str:
        """Until `<cas>-0` is a new pod running on another node of the zone and CAS is HEALTHY."""
        deadline = time.monotonic() + self.timeout
        last = ""
        while True:
            pod = self.kubectl.get_or_none("pod", self.target.pod_name, "-n", self.target.namespace)
            cas = self.kubectl.get_or_none("cas", self.target.cas_name, "-n", self.target.namespace)
            uid = (pod or {}).get("metadata", {}).get("uid")
            node = pod_node(pod)
            new_pod = pod is not None and uid != self.old_pod_uid
            problem = health_problem(cas)
            if not new_pod:
                seen = f"old {self.target.pod_name} still terminating"
            elif node is None:
                seen = f"new {self.target.pod_name} is Pending without a node"
            elif not pod_running(pod):
                seen = f"new {self.target.pod_name} on {node}, not Running yet"
            else:
                seen = f"{self.target.pod_name} Running on {node}; " + (problem or "CAS HEALTHY")
            if seen != last:
                self.progress(f"      {seen}")
                last = seen
            if new_pod and node and pod_running(pod) and problem is None:
                if to is not None and node != to:
                    raise OpsError(ExitCode.FAILED, f"CAS came back on {node}, not on {to}")
                if node == self.old_node:
                    raise OpsError(ExitCode.FAILED, f"CAS came back on {node}, the node it was to leave")
                return node
            if time.monotonic() >= deadline:
                raise OpsError(ExitCode.FAILED, f"CAS was not HEALTHY on another node within {self.timeout} s"
                                                f" (last seen: {seen})")
            time.sleep(POLL_SECONDS)

    def _restore(self) -> str:
        """Uncordon what this run cordoned; say what was done and what could not be."""
        done: list[str] = []
        failed: list[str] = []
        for node in list(self.cordoned):
            result = self.kubectl.run("uncordon", node, check=False, timeout=120)
            (done if result.returncode == 0 else failed).append(node)
            if result.returncode == 0:
                self.cordoned.remove(node)
        pod = self.kubectl.get_or_none("pod", self.target.pod_name, "-n", self.target.namespace)
        parts = [f"uncordoned again: {', '.join(done)}" if done else "no node was left cordoned by this run"]
        if failed:
            parts.append(f"COULD NOT uncordon {', '.join(failed)}: run `kubectl uncordon {' '.join(failed)}`")
        parts.append(f"{self.target.pod_name} is on {pod_node(pod) or 'no node yet'}")
        return "; ".join(parts)

    def _check_hint(self) -> str:
        ns, pod, cas = self.target.namespace, self.target.pod_name, self.target.cas_name
        return (f"check `kubectl get pod {pod} -n {ns} -o wide` and `kubectl get cas {cas} -n {ns}` until CAS is"
                f" HEALTHY; `kubectl describe pod {pod} -n {ns}` shows scheduling problems")
