"""A real Kubernetes control plane on loopback with kwok fake nodes.

Why: Deployments, StatefulSets, PDBs, cordon, eviction, server-side apply and
garbage collection must behave as in a real cluster for the e2e tests to mean
anything; only kubelets (and so SGX hardware) are simulated, by kwok.

Started: etcd, kube-apiserver (own CA, client-cert auth, RBAC), kube-controller-
manager, kube-scheduler, kwok, and the simulated controllers process (zonal volume
provisioner + simulated scone-operator). Every listener binds 127.0.0.1. `stop()`
terminates all of them and deletes the work directory unless asked to keep it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e.harness.fake_nodes import DEFAULT_NODES, FakeNode
from e2e.harness.kube_api import KubeApi, KubeCredentials
from e2e.harness.operator_sim import OPERATOR_DEPLOYMENT
from e2e.harness.pki import Pki, make_pki
from e2e.harness.processes import Child, free_port, start_child, wait_until
from e2e.harness.tools import REPO_ROOT, Tools
from e2e.harness.upstream_charts import cert_manager_crds

KUBE_VERSION = "v1.26.13"
POD_CIDR = "10.244.0.0/16"  # fake pod IPs: data only, never dialled
SERVICE_CIDR = "10.0.0.0/24"
DEFAULT_STORAGE_CLASS = "zonal"


@dataclass
class LocalCluster:
    """One control plane; use as a context manager or call start()/stop()."""

    tools: Tools
    nodes: Sequence[FakeNode] = DEFAULT_NODES
    workdir: Path | None = None
    keep_workdir: bool = False
    run_simulators: bool = True
    #: Seconds the simulated cert-manager CA injector lets a new webhook configuration wait
    #: for its CA (a real injector does it asynchronously, some time after Helm created it).
    ca_injection_delay_seconds: float = 0.0
    children: list[Child] = field(default_factory=list)
    api_port: int = 0
    webhook_proxy_port: int = 0
    pki: Pki | None = None

    # ---- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def dir(self) -> Path:
        assert self.workdir is not None, "cluster not started"
        return self.workdir

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "admin.kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    def api(self) -> KubeApi:
        assert self.pki is not None
        return KubeApi(KubeCredentials(self.server, self.pki.ca_cert, self.pki.admin_cert,
                                       self.pki.admin_key))

    def start(self) -> None:
        self._owns_workdir = self.workdir is None
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="scone-e2e-"))
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        if self.workdir is not None and not self.keep_workdir and getattr(self, "_owns_workdir", False):
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- internals -------------------------------------------------------------------
    def _start(self) -> None:
        d = self.dir
        logs = d / "logs"
        self.pki = pki = make_pki(d / "pki")
        etcd_port, etcd_peer = free_port(), free_port()
        self.api_port = free_port()
        # Webhook Services are reached through the simulators' CONNECT proxy (see webhook_sim).
        self.webhook_proxy_port = free_port()

        etcd = start_child("etcd", [
            str(self.tools.etcd), "--data-dir", str(d / "etcd"), "--name", "e2e",
            "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-cluster", f"e2e=http://127.0.0.1:{etcd_peer}",
            "--unsafe-no-fsync", "--quota-backend-bytes", str(2 * 1024**3),
        ], logs)
        self.children.append(etcd)

        apiserver = start_child("kube-apiserver", [
            str(self.tools.kube_apiserver),
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={self.api_port}",
            f"--tls-cert-file={pki.server_cert}", f"--tls-private-key-file={pki.server_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            "--authorization-mode=RBAC", "--allow-privileged=true",
            # The apiserver advertises 127.0.0.1, which Endpoints validation rejects.
            "--endpoint-reconciler-type=none",
            "--enable-priority-and-fairness=false", "--profiling=false",
            f"--cert-dir={d / 'apiserver-certs'}",
        ], logs, env={**os.environ, "HTTPS_PROXY": f"http://127.0.0.1:{self.webhook_proxy_port}",
                      "NO_PROXY": "127.0.0.1,localhost"})
        self.children.append(apiserver)
        self._write_kubeconfig()
        api = self.api()
        wait_until("kube-apiserver /readyz", lambda: _readyz(api), [etcd, apiserver])

        common = [f"--kubeconfig={self.kubeconfig}", "--leader-elect=false",
                  "--bind-address=127.0.0.1", "--secure-port=0"]
        kcm = start_child("kube-controller-manager", [
            str(self.tools.kube_controller_manager), *common,
            f"--service-account-private-key-file={pki.sa_key}", f"--root-ca-file={pki.ca_cert}",
            "--use-service-account-credentials=false", "--controllers=*,-nodeipam",
            "--node-monitor-grace-period=60s", "--concurrent-statefulset-syncs=2",
        ], logs)
        # A pod that lost a cache race parks as unschedulable for 5 min by default; 10 s here.
        sched = start_child("kube-scheduler", [str(self.tools.kube_scheduler), *common,
                                               "--pod-max-in-unschedulable-pods-duration=10s"], logs)
        kwok = start_child("kwok", [
            str(self.tools.kwok), f"--kubeconfig={self.kubeconfig}",
            f"--config={self.tools.bin_dir / 'kwok-stages.yaml'}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--manage-nodes-with-label-selector=", "--manage-single-node=",
            f"--cidr={POD_CIDR}", "--node-ip=127.0.0.1",
            "--node-lease-duration-seconds=40",
            f"--server-address=127.0.0.1:{free_port()}",
        ], logs)
        self.children += [kcm, sched, kwok]

        self._register_nodes(api)
        self._install_storage_class()
        wait_until("default service account", lambda: api.get_or_none(
            "/api/v1/namespaces/default/serviceaccounts/default") is not None, self.children)
        wait_until("fake nodes Ready", lambda: self._all_nodes_ready(api), self.children)
        if self.run_simulators:
            self.children.append(self._start_simulators(logs))

    def _write_kubeconfig(self) -> None:
        assert self.pki is not None
        cfg = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "scone-e2e", "cluster": {
                "server": self.server, "certificate-authority": str(self.pki.ca_cert)}}],
            "users": [{"name": "admin", "user": {
                "client-certificate": str(self.pki.admin_cert),
                "client-key": str(self.pki.admin_key)}}],
            "contexts": [{"name": "scone-e2e", "context": {"cluster": "scone-e2e", "user": "admin"}}],
            "current-context": "scone-e2e",
        }
        self.kubeconfig.write_text(json.dumps(cfg, indent=2))
        self.kubeconfig.chmod(0o600)

    def _register_nodes(self, api: KubeApi) -> None:
        for node in self.nodes:
            api.create("/api/v1/nodes", node.manifest(KUBE_VERSION))

    def _install_storage_class(self) -> None:
        """Default class served by the harness's zonal provisioner. WaitForFirstConsumer
        puts a volume in the zone of the node its first pod lands on; Retain keeps
        data-bearing volumes when their claim goes away."""
        self.kubectl_apply({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": DEFAULT_STORAGE_CLASS, "annotations": {
                "storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "e2e.scone-stack/zonal",
            "volumeBindingMode": "WaitForFirstConsumer",
            "reclaimPolicy": "Retain",
            "allowVolumeExpansion": True,
        })

    @staticmethod
    def _all_nodes_ready(api: KubeApi) -> bool:
        nodes = api.items("/api/v1/nodes")
        if not nodes:
            return False
        for n in nodes:
            conds = {c["type"]: c["status"] for c in n.get("status", {}).get("conditions", [])}
            if conds.get("Ready") != "True":
                return False
        return True

    def _start_simulators(self, logs: Path) -> Child:
        assert self.pki is not None
        return start_child("simulators", [
            sys.executable, "-m", "e2e.harness.simulators",
            "--server", self.server, "--ca", str(self.pki.ca_cert),
            "--cert", str(self.pki.admin_cert), "--key", str(self.pki.admin_key),
            "--work-dir", str(self.dir / "webhook-pki"),
            "--webhook-proxy-port", str(self.webhook_proxy_port),
            "--ca-injection-delay", str(self.ca_injection_delay_seconds),
        ], logs, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, cwd=REPO_ROOT)

    # ---- helpers for tests and humans --------------------------------------------------
    def env(self) -> dict[str, str]:
        """Environment for kubectl/pulumi against this cluster."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True
                ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(self.tools.kubectl), *args], input=input, text=True,
                              capture_output=True, env=self.env(), check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def kubectl_apply(self, obj: dict[str, Any] | list[dict[str, Any]]) -> None:
        objs = obj if isinstance(obj, list) else [obj]
        doc = {"apiVersion": "v1", "kind": "List", "items": objs}
        self.kubectl("apply", "-f", "-", input=json.dumps(doc))

    def start_operator_deployment(self, namespace: str) -> None:
        """The Deployment the simulated operator waits for, created in ``namespace`` and ready.

        What the operator chart would run; the simulated operator acts on SCONE CRs only
        while such a Deployment has a ready replica.
        """
        self.kubectl("create", "namespace", namespace, check=False)
        self.kubectl("create", "deployment", OPERATOR_DEPLOYMENT, "-n", namespace,
                     "--image=registry.scontain.com/scone.cloud/k8soperators:5.8.0")

        def ready() -> bool:
            status = self.kubectl_json("get", "deployment", OPERATOR_DEPLOYMENT, "-n", namespace).get("status") or {}
            return int(status.get("readyReplicas") or 0) >= 1

        wait_until("the operator Deployment to be ready", ready, self.children, attempts=600, interval=0.2)

    def install_cert_manager_crds(self, chart_tgz: Path) -> None:
        """cert-manager's CRDs as the chart ``chart_tgz`` vendors them, established.

        What a cluster with cert-manager installed has; its controllers are not run here (the
        simulators issue the operator's webhook certificate and inject the CA).
        """
        crds = cert_manager_crds(chart_tgz)
        self.kubectl_apply(crds)
        for crd in crds:
            self.kubectl("wait", "--for=condition=Established", "--timeout=300s", f"crd/{crd['metadata']['name']}")

    def dump_logs(self, lines: int = 40) -> str:
        """Last lines of every child's log, for failure messages."""
        return "\n".join(f"--- {c.name} ({c.log_path})\n{c.log_tail(lines)}" for c in self.children)


def _readyz(api: KubeApi) -> bool:
    try:
        api.request("GET", "/readyz")
    except Exception:
        return False
    return True
