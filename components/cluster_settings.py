"""The stack's cluster: ``scone:kubeconfig``, ``scone:kubeContext`` and ``scone:clusterIdentity``, validated.

Why apart from ``SconeSpec``: these keys say *where* the stack runs, not *what* it runs. The spec is
hashed into ``deployedSpec`` and written, as a document, into the status ConfigMap; a kubeconfig
(which may be secret content) must never be part of that, and a machine that reaches the same
cluster through another file must not change the deployed spec. So ``spec_loader`` leaves these
keys to this module, and the README's config reference lists them from ``ClusterSettings``.

``scone:kubeconfig`` is a path (plain config) or, set with ``pulumi config set --secret``, either a
path or the kubeconfig's content. Content stays a secret: the Kubernetes provider gets it as a
secret input (encrypted in the state), kubectl gets it through a private temporary file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from components.config_errors import SpecError
from components.config_source import RawConfig
from components.kube_access import ClusterChoice, KubeTarget
from components.strict_model import StrictModel

#: The config namespace (``components.spec.CONFIG_NAMESPACE``; not imported, so that ``spec_loader`` can
#: import this module and stay within the program's five import floors).
CONFIG_NAMESPACE = "scone"

KUBECONFIG_KEY = "kubeconfig"
CONTEXT_KEY = "kubeContext"
IDENTITY_KEY = "clusterIdentity"
CLUSTER_KEYS = (KUBECONFIG_KEY, CONTEXT_KEY, IDENTITY_KEY)
#: A Kubernetes object UID (what ``kube-system``'s ``metadata.uid`` looks like).
UID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class ClusterSettings(StrictModel):
    """Where the stack runs; read by ``read_cluster_settings``, documented in the config reference."""

    kubeconfig: str | None = Field(
        default=None,
        description="Kubeconfig of the stack's cluster: a path (`pulumi config set kubeconfig ~/.kube/prod.yaml`)"
        " or, set with --secret, its content (`pulumi config set --secret kubeconfig < prod.yaml`). Used by the"
        " Kubernetes provider and every kubectl run of the program. Empty means the ambient KUBECONFIG.",
    )
    kubeContext: str | None = Field(  # noqa: N815
        default=None,
        description="Context of that kubeconfig to use. Empty means its current context.",
    )
    clusterIdentity: str | None = Field(  # noqa: N815
        default=None,
        description="Re-pin the stack to another cluster on purpose: the UID of that cluster's kube-system"
        " namespace (`kubectl get namespace kube-system -o jsonpath='{.metadata.uid}'`). Each stack records"
        " the UID of the cluster it was deployed to and refuses a preview or up against any other.",
    )


def read_cluster_settings(raw: RawConfig, local_files: bool = True) -> ClusterChoice:
    """The stack's cluster settings, or ``SpecError`` naming each key that is wrong and what to set instead.

    ``local_files=False`` (the credential-free plan, run where the kubeconfig does not exist): a path is
    taken as written and the context is not looked up in it."""
    problems: list[str] = []
    values = raw.values
    path = content = None
    kubeconfig = values.get(KUBECONFIG_KEY)
    secret = KUBECONFIG_KEY in raw.secret_keys
    if kubeconfig is not None:
        if not isinstance(kubeconfig, str) or not kubeconfig.strip():
            problems.append(f"{_key(KUBECONFIG_KEY)} must be a path to a kubeconfig file (or its content, as a secret)")
        elif secret and looks_like_content(kubeconfig):
            content = kubeconfig
            problems.extend(_content_problems(kubeconfig))
        elif not local_files:
            path = kubeconfig.strip()
        else:
            path, problem = _path_of(kubeconfig, secret)
            if problem:
                problems.append(problem)
    context = values.get(CONTEXT_KEY)
    if context is not None and (not isinstance(context, str) or not context.strip()):
        problems.append(f"{_key(CONTEXT_KEY)} must be the name of a context of the kubeconfig")
        context = None
    repin = values.get(IDENTITY_KEY)
    if repin is not None and (not isinstance(repin, str) or not UID_PATTERN.match(repin)):
        problems.append(
            f"{_key(IDENTITY_KEY)} must be the UID of the target cluster's kube-system namespace (like"
            " 0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9), as printed by"
            " `kubectl get namespace kube-system -o jsonpath='{.metadata.uid}'`"
        )
        repin = None
    if not problems and isinstance(context, str) and local_files:
        problems.extend(_context_problems(context, path, content))
    if problems:
        raise SpecError(raw.stack_file, problems)
    return ClusterChoice(KubeTarget(path, content, context if isinstance(context, str) else None), repin)


def looks_like_content(value: str) -> bool:
    """A secret value is content when it has more than one line or is a JSON/YAML flow mapping; else a path."""
    return "\n" in value.strip() or value.lstrip().startswith("{")


def _key(key: str) -> str:
    return f"{CONFIG_NAMESPACE}:{key}"


def _path_of(value: str, secret: bool) -> tuple[str | None, str | None]:
    """The absolute path of a kubeconfig file, or the problem (the value is shown only when not a secret)."""
    path = Path(value.strip()).expanduser().absolute()
    shown = "the path set as a secret" if secret else f"'{value}'"
    if not path.is_file():
        return None, (
            f"{_key(KUBECONFIG_KEY)}: {shown} is not a file (looked for {'it' if secret else path}); set the path of"
            f" the stack's kubeconfig (`pulumi config set {KUBECONFIG_KEY} <path>`), its content"
            f" (`pulumi config set --secret {KUBECONFIG_KEY} < <file>`), or remove the key to use the ambient"
            " KUBECONFIG"
        )
    # "~/..." is kept as written (each machine's own home); a relative path is anchored here.
    return (value.strip() if value.strip().startswith("~") else str(path)), None


def _parsed(text: str) -> dict[str, Any] | None:
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return loaded if isinstance(loaded, dict) else None


def _content_problems(content: str) -> list[str]:
    parsed = _parsed(content)
    if parsed is None or not isinstance(parsed.get("clusters"), list) or not parsed["clusters"]:
        return [
            f"{_key(KUBECONFIG_KEY)} (secret) is neither an existing file nor kubeconfig content (YAML with"
            " `clusters`, `contexts`, `users`); set it again with"
            f" `pulumi config set --secret {KUBECONFIG_KEY} < <kubeconfig file>`"
        ]
    return []


def _context_problems(context: str, path: str | None, content: str | None) -> list[str]:
    """A named context must exist in the named kubeconfig (not checked against the ambient one)."""
    text = content if content is not None else Path(path).read_text(encoding="utf-8") if path else None
    if text is None:
        return []
    parsed = _parsed(text)
    if parsed is None:
        return [
            f"{_key(KUBECONFIG_KEY)}: the file is not a kubeconfig (not YAML), so context '{context}' cannot be found"
        ]
    names = [str(item.get("name")) for item in parsed.get("contexts") or [] if isinstance(item, dict)]
    if context not in names:
        return [
            f"{_key(CONTEXT_KEY)}: context '{context}' is not in the kubeconfig of {_key(KUBECONFIG_KEY)}"
            f" (it has: {', '.join(names) or 'none'})"
        ]
    return []
