"""Find the pod specs and image references in a resource's properties.

The policies look at what a resource will run: the pod spec of a Pod or of a workload's
pod template, the ``spec.image`` of the SCONE custom resources (which the operator turns
into pods), and the ``image`` values of a Helm release. Only plain Python on the property
mappings, so the same code runs in the pack and in unit tests.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

#: Kubernetes types whose pod spec is at ``spec`` (Pod) or at a template path.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:core/v1:ReplicationController": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}

#: API groups of the SCONE custom resources (LAS, SGXPlugin, CAS ...); their spec.image runs.
SCONE_GROUPS = ("kubernetes:base.scone.cloud/", "kubernetes:services.scone.cloud/")

#: Names by which the SGX device plugin is known; only it may be privileged or mount host paths
#: (it registers the SGX device with the kubelet through a host directory).
SGX_PLUGIN_NAMES = frozenset({"sgxplugin", "sgx-plugin", "scone-sgx-plugin", "sgx-device-plugin"})

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def dig(value: Any, *path: str) -> Any:
    """``value[path[0]][path[1]]...`` or None when any step is missing."""
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec a resource creates, if it is a workload."""
    path = POD_SPEC_PATHS.get(resource_type)
    found = dig(props, *path) if path else None
    return found if isinstance(found, Mapping) else None


def containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every container of a pod spec, init and ephemeral ones included."""
    for key in CONTAINER_LISTS:
        for container in spec.get(key) or []:
            if isinstance(container, Mapping):
                yield container


def is_sgx_plugin(resource_type: str, props: Mapping[str, Any]) -> bool:
    """True for the SGX device plugin: by kind, name or app label."""
    if resource_type.endswith(":SGXPlugin"):
        return True
    names = {dig(props, "metadata", "name")}
    for labels in (dig(props, "metadata", "labels"), dig(props, "spec", "template", "metadata", "labels")):
        if isinstance(labels, Mapping):
            names |= {labels.get("app.kubernetes.io/name"), labels.get("app")}
    return bool(names & SGX_PLUGIN_NAMES)


def images(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, image) for every image reference the resource will run."""
    spec = pod_spec(resource_type, props)
    if spec is not None:
        for container in containers(spec):
            image = container.get("image")
            if isinstance(image, str):
                yield f"container {container.get('name', '?')}", image
    if resource_type.startswith(SCONE_GROUPS):
        image = dig(props, "spec", "image")
        if isinstance(image, str):
            yield "spec.image", image
    if resource_type == "kubernetes:helm.sh/v3:Release":
        yield from _values_images(props.get("values"), "values")


def _values_images(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "image" and isinstance(item, str):
                yield f"{where}.image", item
            elif key == "image" and isinstance(item, Mapping) and isinstance(item.get("repository"), str):
                # The common chart layout: image: {registry?, repository, tag}.
                registry = item.get("registry")
                reference = f"{registry}/{item['repository']}" if isinstance(registry, str) else item["repository"]
                yield f"{where}.image.repository", reference
            else:
                yield from _values_images(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _values_images(item, f"{where}[{index}]")
