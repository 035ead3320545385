"""The dynamic provider that records the Scone status on every ``pulumi up``.

This module is pickled *by reference* into every stack's state: its path and the class name
are part of the state format. Keep it free of import side effects and never rename or move it
without aliases.

Why ``diff`` reads the live ConfigMap: the inputs are only the deployed facts (version, spec
digest and document, management state), never a time, so an ``up`` that changes nothing stays a
no-op in its preview while the ConfigMap already says Running on those facts. When it says
anything else (a reconcile's Repairing or Error, a failed ``up``'s Error, someone deleted or
edited it), the preview shows one update of this resource and the ``up`` writes Running: the
status follows what the last successful update deployed. The price is one ``kubectl get`` per
preview. ``lastUpdate`` and ``observedGeneration`` therefore move when the status is written,
that is when the deployed facts change or the recorded phase was not Running.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from components.kube_access import AMBIENT, PROP_KEYS, KubeTarget
from components.provider_errors import UserFacingError, user_facing_errors
from components.scone_status import CONFIGMAP, FIELD_MANAGER, Deployment, StatusRecord, manifest

KUBECTL_TIMEOUT_SECONDS = 120.0
STATUS_ID = "scone-status"
INPUT_KEYS = ("stack", "namespace", "deployedVersion", "deployedSpec", "deployedSpecDocument", "managementState")


class StatusReadError(RuntimeError):
    """The status ConfigMap could not be read (cluster unreachable, no permission)."""


def _kubectl(args: list[str], target: KubeTarget, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return target.run("kubectl", [*args, f"--request-timeout={int(KUBECTL_TIMEOUT_SECONDS)}s"],
                      timeout=KUBECTL_TIMEOUT_SECONDS, stdin=stdin)


def read_live(namespace: str, target: KubeTarget = AMBIENT) -> StatusRecord | None:
    """The recorded status; None when there is none (or no namespace yet)."""
    done = _kubectl(["get", "configmap", CONFIGMAP, "-n", namespace, "-o", "json", "--ignore-not-found"], target)
    if done.returncode != 0:
        raise StatusReadError(f"kubectl get configmap {CONFIGMAP} -n {namespace}: {done.stderr.strip()[-500:]}")
    if not done.stdout.strip():
        return None
    return StatusRecord.from_data(dict(json.loads(done.stdout).get("data") or {}))


def write_live(namespace: str, record: StatusRecord, target: KubeTarget = AMBIENT) -> None:
    """Server-side apply of the whole record under the status field manager."""
    done = _kubectl(["apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts", "-f", "-"],
                    target, stdin=json.dumps(manifest(namespace, record)))
    if done.returncode != 0:
        raise UserFacingError(f"could not record the Scone status in ConfigMap {CONFIGMAP} of namespace"
                              f" '{namespace}': {done.stderr.strip()[-500:]}. Check that kubectl reaches the stack's"
                              f" cluster ({target.describe()}) with the rights of the stack, then run `pulumi up`"
                              " again.")


def facts_of(props: dict[str, Any]) -> Deployment:
    return Deployment(version=str(props.get("deployedVersion") or ""), spec_digest=str(props.get("deployedSpec") or ""),
                      spec_document=str(props.get("deployedSpecDocument") or ""),
                      management_state=str(props.get("managementState") or ""))


def record_running(props: dict[str, Any]) -> dict[str, Any]:
    """Write Running on the deployed facts of ``props``; the outputs are the inputs plus the record."""
    namespace, target = str(props["namespace"]), KubeTarget.of(props)
    current = read_live(namespace, target) or StatusRecord(str(props["stack"]), "")
    record = current.entering(str(props["stack"]), "Running", attempts=0).deployed(facts_of(props))
    write_live(namespace, record, target)
    return {**{key: props.get(key) for key in INPUT_KEYS}, **target.props(),
            "observedGeneration": record.observedGeneration, "lastUpdate": record.lastUpdate}


@user_facing_errors
class SconeStatusProvider(ResourceProvider):
    """Writes the ConfigMap ``scone-status`` (Running, with the deployed facts) when it does not say so."""

    serialize_as_secret_always = False

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        changed = [key for key in (*INPUT_KEYS, *PROP_KEYS) if _olds.get(key) != _news.get(key)]
        if not changed:
            try:
                live = read_live(str(_news["namespace"]), KubeTarget.of(_news))
            except (StatusReadError, subprocess.TimeoutExpired):
                live = None
            if live is None or not live.shows(facts_of(_news)):
                changed = ["phase"]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=STATUS_ID, outs=record_running(props))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=record_running(_news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_=id_, outs=props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The stack no longer records a status: remove it rather than leave a stale Running behind."""
        namespace = _props.get("namespace")
        if namespace:
            _kubectl(["delete", "configmap", CONFIGMAP, "-n", str(namespace), "--ignore-not-found"],
                     KubeTarget.of(_props))
