"""One stack, one cluster: the identity a stack records and the refusal when the kube context points elsewhere.

Why: a kube context is easy to get wrong (``kubectl config use-context`` in another terminal, a CI
runner with another KUBECONFIG). Applied to the wrong cluster, ``pulumi up`` would install a second
SCONE stack there, and its preview would show "create" for a CAS that is safe and sound elsewhere.
Clusters have no name of their own, but the ``kube-system`` namespace exists in every cluster from
its creation until its end, and its ``metadata.uid`` is unique: that UID is the cluster's identity.

The program reads the live UID while it is evaluated and hands it to the stack guard as an input;
the guard's ``check`` (run in every preview, before any change, and everything else waits for the
guard) compares it with the UID the stack recorded on its last update:

- nothing recorded yet (a new stack, or one deployed before the pin existed): recorded, no refusal;
- the same UID: nothing to say;
- another UID: refused, naming both, unless ``scone:clusterIdentity`` names the live UID — the
  explicit, documented way to move a stack to another cluster on purpose;
- the live UID unreadable while one is recorded: refused (the cluster cannot be told apart).

Nothing here imports pulumi: the guard's provider process imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The stack guard's inputs: the live UID (recorded in the state by each update) and the re-pin.
IDENTITY_PROP = "clusterIdentity"
REPIN_PROP = "clusterRepin"
STACK_PROP = "stack"
REPIN_KEY = "scone:clusterIdentity"
UID_COMMAND = "kubectl get namespace kube-system -o jsonpath='{.metadata.uid}'"


def destroy_refusal(recorded: str, live: str | None, problem: str | None, stack: str) -> str | None:
    """Why ``pulumi destroy`` must not delete anything on the cluster it reaches (None: it is the recorded one)."""
    if live == recorded:
        return None
    found = (
        f"a cluster with kube-system uid {live}" if live else f"a cluster whose identity could not be read ({problem})"
    )
    return (
        f"pulumi destroy refused: this is stack {stack}; the kube context points at {found}, not the one this"
        f" stack was deployed to (uid {recorded}). Nothing was deleted. Point the stack at its own cluster"
        " (scone:kubeconfig and scone:kubeContext, or KUBECONFIG and its current context) and run it again."
    )


def _text(props: Mapping[str, Any], key: str) -> str | None:
    value = props.get(key)
    return value if isinstance(value, str) and value else None


def identity_refusal(olds: Mapping[str, Any], news: Mapping[str, Any]) -> str | None:
    """Why the guard refuses ``news`` after ``olds`` (None when the cluster is the recorded one, or may be pinned)."""
    stack = _text(news, STACK_PROP) or "<stack>"
    recorded, live, repin = _text(olds, IDENTITY_PROP), _text(news, IDENTITY_PROP), _text(news, REPIN_PROP)
    if repin is not None and live is not None and repin != live:
        return (
            f"this is stack {stack}; {REPIN_KEY} is {repin}, but the kube context points at a cluster with"
            f" kube-system uid {live}. Nothing was changed. Set {REPIN_KEY} to the UID of the cluster this stack"
            f" must run on ({UID_COMMAND}), or remove it."
        )
    if recorded is None:
        return None
    if live is None:
        return (
            f"this is stack {stack}; it was deployed to the cluster with kube-system uid {recorded}, and the"
            " identity of the cluster the kube context points at could not be read (see the warning above)."
            " Nothing was changed. Make that cluster readable (scone:kubeconfig, scone:kubeContext, or KUBECONFIG"
            f" and its current context; `{UID_COMMAND}` must answer) and run again."
        )
    if live in (recorded, repin):
        return None
    return (
        f"this is stack {stack}; the kube context points at a cluster (kube-system uid {live}) that is not the"
        f" one this stack was deployed to (uid {recorded}). Nothing was changed. Point the stack at its own"
        " cluster (scone:kubeconfig and scone:kubeContext, or KUBECONFIG and its current context). To move this"
        f" stack to that cluster on purpose: `pulumi config set clusterIdentity {live} --stack {stack}`, then run"
        " the preview again."
    )
