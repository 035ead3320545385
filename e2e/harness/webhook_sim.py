"""The scone-operator's admission webhooks and cert-manager's part for them, simulated on loopback.

Scontain's chart installs a ValidatingWebhookConfiguration and a MutatingWebhookConfiguration
(``failurePolicy: Fail``) for LAS, SGXPlugin, CAS and Vault, a conversion webhook on its CRDs,
and an Issuer + Certificate whose Secret ``webhook-server-cert`` the operator serves them with;
cert-manager's CA injector copies the CA into each object annotated
``cert-manager.io/inject-ca-from: <namespace>/<certificate>``. Neither the operator image nor
cert-manager runs here, so this simulation does their parts:

- Issuer: for each Certificate it writes the Secret ``spec.secretName`` (``tls.crt``, ``tls.key``,
  ``ca.crt``; SANs = ``spec.dnsNames`` + 127.0.0.1) signed by its own CA, and marks it Ready.
- Operator: serves the webhooks over TLS with that certificate, on 127.0.0.1. Reviews are allowed
  only while the operator Deployment is ready; otherwise the server answers 503, so with
  ``failurePolicy: Fail`` the API server refuses the write, as it does when the operator's pod is
  down (the simulated operator does not judge the CRs' content).
- CA injector: sets ``caBundle`` on every webhook (and CRD conversion) of annotated objects, and
  changes nothing else in them; optionally only after a webhook configuration has existed for a
  given delay, as a real injector leaves a window between Helm's create and the injection.

Routing: the API server cannot reach a Service here (no kube-proxy, fake pod IPs; a ``*.svc``
name resolves to the sandbox's egress proxy). The webhook configurations keep the chart's
``clientConfig.service`` untouched (a Helm upgrade three-way-merges them: a rewritten ``url``
would end up beside the chart's ``service`` and the upgrade would be refused); instead the
harness starts kube-apiserver with ``HTTPS_PROXY`` pointing at ``WebhookProxy``, a CONNECT proxy
on 127.0.0.1 that tunnels ``<service>.<namespace>.svc:443`` to the server whose certificate names
that host, and refuses every other host. TLS stays end to end: the API server verifies the
served certificate against the injected ``caBundle`` and the service's DNS name.
"""

from __future__ import annotations

import base64
import json
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from e2e.harness.issuer import Issuer
from e2e.harness.kube_api import JsonObj, KubeApi, KubeApiError

INJECT_ANNOTATION = "cert-manager.io/inject-ca-from"
WEBHOOK_KINDS = (
    "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
    "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
)
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
CERTIFICATES = "/apis/cert-manager.io/v1/certificates"


def review_response(path: str, review: JsonObj) -> JsonObj:
    """The answer to an AdmissionReview (allowed, no patch) or a ConversionReview (objects at the new version)."""
    request = review.get("request") or {}
    if path.endswith("/convert"):
        desired = request.get("desiredAPIVersion")
        converted = [{**obj, "apiVersion": desired} for obj in request.get("objects") or []]
        return {"apiVersion": review.get("apiVersion"), "kind": "ConversionReview",
                "response": {"uid": request.get("uid"), "convertedObjects": converted,
                             "result": {"status": "Success"}}}
    return {"apiVersion": review.get("apiVersion"), "kind": "AdmissionReview",
            "response": {"uid": request.get("uid"), "allowed": True}}


class WebhookServer:
    """One operator's webhook endpoint: HTTPS on 127.0.0.1 with the certificate from its Secret."""

    def __init__(self, cert: Path, key: Path, ready: Callable[[], bool]) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.calls: list[str] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(ready))
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        threading.Thread(target=self._httpd.serve_forever, name="webhooks", daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _handler(self, ready: Callable[[], bool]) -> type[BaseHTTPRequestHandler]:
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not ready():
                    self._send(503, b'{"message": "scone-operator is not running"}')
                    return
                review = json.loads(body or b"{}")
                request = review.get("request") or {}
                calls.append(self.path)
                print(f"webhooks: {self.path} {request.get('operation', 'convert')} "
                      f"{(request.get('kind') or {}).get('kind', '')}/{request.get('name', '')}", flush=True)
                self._send(200, json.dumps(review_response(self.path, review)).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: each review is printed once above."""

        return Handler


class WebhookSim:
    """One ``reconcile()`` issues missing certificates, starts their servers and routes/injects the webhooks."""

    def __init__(self, api: KubeApi, workdir: Path, operator_running: Callable[[], bool], proxy_port: int,
                 injection_delay: float = 0.0) -> None:
        self.api = api
        self.injection_delay = injection_delay
        self._first_seen: dict[str, float] = {}  # webhook configuration uid -> when this injector first saw it
        self.workdir = workdir
        self.operator_running = operator_running
        self.issuer = Issuer(workdir, "scone-e2e-cert-manager-ca")
        self.ca_bundle = base64.b64encode(self.issuer.ca_pem).decode()
        self.servers: dict[str, WebhookServer] = {}  # "<namespace>/<certificate>" -> its server
        self.proxy = WebhookProxy(proxy_port, {})
        self._tls: dict[str, tuple[Path, Path]] = {}

    def reconcile(self) -> None:
        try:
            certificates = self.api.items(CERTIFICATES)
        except KubeApiError as error:
            if error.status == 404:  # cert-manager's CRDs are not installed
                return
            raise
        for certificate in certificates:
            self._issue(certificate)
        for kind in WEBHOOK_KINDS:
            for config in self.api.items(kind):
                self._inject_webhooks(kind, config)


    # ---- issuer + operator ----------------------------------------------------------------
    def _issue(self, certificate: JsonObj) -> None:
        meta, spec = certificate["metadata"], certificate.get("spec") or {}
        ref = f"{meta['namespace']}/{meta['name']}"
        if ref not in self._tls:
            name = f"{meta['namespace']}-{meta['name']}"
            self._tls[ref] = self.issuer.issue(name, meta["name"], spec.get("dnsNames") or [])
        cert, key = self._tls[ref]
        secret_path = f"/api/v1/namespaces/{meta['namespace']}/secrets/{spec['secretName']}"
        data = {"tls.crt": cert.read_bytes(), "tls.key": key.read_bytes(), "ca.crt": self.issuer.ca_pem}
        encoded = {k: base64.b64encode(v).decode() for k, v in data.items()}
        current = self.api.get_or_none(secret_path)
        if current is None:
            self.api.create(f"/api/v1/namespaces/{meta['namespace']}/secrets", {
                "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"name": spec["secretName"], "namespace": meta["namespace"],
                             "annotations": {"cert-manager.io/certificate-name": meta["name"]}},
                "data": encoded})
        elif current.get("data") != encoded:
            self.api.merge_patch(secret_path, {"data": encoded})
        if ref not in self.servers:
            self.servers[ref] = WebhookServer(cert, key, self.operator_running)
            for dns in spec.get("dnsNames") or []:
                if dns.endswith(".svc"):
                    self.proxy.routes[f"{dns}:443"] = self.servers[ref].port
            print(f"webhooks: {time.strftime('%H:%M:%S')} serving {ref} at {self.servers[ref].url}", flush=True)
        conditions = (certificate.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            self.api.merge_patch(f"{CERTIFICATES.replace('/certificates', '')}/namespaces/{meta['namespace']}"
                                 f"/certificates/{meta['name']}/status", {"status": {"conditions": [{
                                     "type": "Ready", "status": "True", "reason": "Ready",
                                     "message": "Certificate is up to date and has not expired"}]}})

    # ---- CA injector ----------------------------------------------------------------------
    def _inject(self, obj: JsonObj) -> bool:
        ref = ((obj.get("metadata") or {}).get("annotations") or {}).get(INJECT_ANNOTATION)
        return bool(ref) and ref in self.servers

    def _inject_webhooks(self, kind: str, config: JsonObj) -> None:
        if not self._inject(config):
            return
        seen = self._first_seen.setdefault(str(config["metadata"].get("uid")), time.monotonic())
        if time.monotonic() - seen < self.injection_delay:
            return
        webhooks: list[dict[str, Any]] = config.get("webhooks") or []
        wanted = [{**hook, "clientConfig": {**(hook.get("clientConfig") or {}), "caBundle": self.ca_bundle}}
                  for hook in webhooks]
        if wanted != webhooks:
            self.api.merge_patch(f"{kind}/{config['metadata']['name']}", {"webhooks": wanted})
            print(f"webhooks: {time.strftime('%H:%M:%S')} injected the CA into {config['metadata']['name']}",
                  flush=True)

    def inject_conversion(self, crd: JsonObj) -> None:
        webhook = ((crd.get("spec") or {}).get("conversion") or {}).get("webhook")
        if not webhook or not self._inject(crd):
            return
        if (webhook.get("clientConfig") or {}).get("caBundle") != self.ca_bundle:
            self.api.merge_patch(f"{CRDS}/{crd['metadata']['name']}", {"spec": {"conversion": {"webhook": {
                "clientConfig": {"caBundle": self.ca_bundle}}}}})


class ConversionCaInjector:
    """The CA injector's part for CRD conversion webhooks, in the simulators' slower loop: CRDs are
    large (cert-manager's alone are megabytes) and a conversion is only called with a second
    served version, so listing them must not delay the admission webhooks' round."""

    def __init__(self, sim: WebhookSim) -> None:
        self.sim = sim

    def reconcile(self) -> None:
        for crd in self.sim.api.items(CRDS):
            self.sim.inject_conversion(crd)


class WebhookProxy:
    """The CONNECT proxy kube-apiserver reaches webhook Services through (``HTTPS_PROXY``)."""

    def __init__(self, port: int, routes: dict[str, int]) -> None:
        self.routes = routes  # "<service>.<namespace>.svc:443" -> port of the server on 127.0.0.1
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        threading.Thread(target=self._httpd.serve_forever, name="webhook-proxy", daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_CONNECT(self) -> None:
                port = routes.get(self.path)
                if port is None:
                    self.send_error(403, f"no webhook service {self.path} here")
                    return
                upstream = socket.create_connection(("127.0.0.1", port))
                self.send_response(200, "Connection Established")
                self.end_headers()
                _pipe(self.connection, upstream)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the webhook server prints each review."""

        return Handler


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [client, upstream]
    try:
        while True:
            readable, _, _ = select.select(sockets, [], [], 60)
            if not readable:
                continue
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)
    finally:
        upstream.close()
