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
- CA injector: sets ``caBundle`` on every webhook (and CRD conversion) of annotated objects.

Routing (the one change to the chart's objects besides the CA): the API server cannot reach a
Service here (no kube-proxy, pod IPs are fake), so each annotated webhook's ``clientConfig``
``service`` (name, namespace, path) is replaced by ``url: https://127.0.0.1:<port><path>``.
``failurePolicy``, rules, names and everything else stay as the chart wrote them.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from e2e.harness.kube_api import JsonObj, KubeApi, KubeApiError
from e2e.harness.pki import make_ca, make_key, signed_cert

INJECT_ANNOTATION = "cert-manager.io/inject-ca-from"
WEBHOOK_KINDS = (
    "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
    "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
)
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
CERTIFICATES = "/apis/cert-manager.io/v1/certificates"
CRD_ROUND_SECONDS = 3.0


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
    def url(self) -> str:
        return f"https://127.0.0.1:{self._httpd.server_address[1]}"

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

    def __init__(self, api: KubeApi, workdir: Path, operator_running: Callable[[], bool]) -> None:
        self.api = api
        self.workdir = workdir
        self.operator_running = operator_running
        self.ca_cert, self.ca_key = make_ca(workdir, "scone-e2e-cert-manager-ca")
        self.ca_bundle = base64.b64encode(self.ca_cert.read_bytes()).decode()
        # Made ahead: issuing then only signs, so the webhooks are served and routed within one
        # reconcile of the chart's install, as cert-manager does before the operator's pod can start.
        self.serving_key = make_key(workdir, "serving")
        self._crds_listed_at = 0.0
        self.servers: dict[str, WebhookServer] = {}  # "<namespace>/<certificate>" -> its server
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
                self._route_webhooks(kind, config)
        # CRDs are large (cert-manager's alone are megabytes) and their conversion webhook is only
        # called with a second served version: routed every few seconds, not every round.
        if time.monotonic() - self._crds_listed_at > CRD_ROUND_SECONDS:
            self._crds_listed_at = time.monotonic()
            for crd in self.api.items(CRDS):
                self._route_conversion(crd)

    # ---- issuer + operator ----------------------------------------------------------------
    def _issue(self, certificate: JsonObj) -> None:
        meta, spec = certificate["metadata"], certificate.get("spec") or {}
        ref = f"{meta['namespace']}/{meta['name']}"
        if ref not in self._tls:
            name = f"{meta['namespace']}-{meta['name']}"
            sans = ",".join(["IP:127.0.0.1", *(f"DNS:{dns}" for dns in spec.get("dnsNames") or [])])
            self._tls[ref] = signed_cert(self.workdir, name, f"/CN={meta['name']}", f"subjectAltName={sans}\n"
                                         "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
                                         key=self.serving_key)
        cert, key = self._tls[ref]
        secret_path = f"/api/v1/namespaces/{meta['namespace']}/secrets/{spec['secretName']}"
        data = {"tls.crt": cert.read_bytes(), "tls.key": key.read_bytes(), "ca.crt": self.ca_cert.read_bytes()}
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
            print(f"webhooks: {time.strftime('%H:%M:%S')} serving {ref} at {self.servers[ref].url}", flush=True)
        conditions = (certificate.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            self.api.merge_patch(f"{CERTIFICATES.replace('/certificates', '')}/namespaces/{meta['namespace']}"
                                 f"/certificates/{meta['name']}/status", {"status": {"conditions": [{
                                     "type": "Ready", "status": "True", "reason": "Ready",
                                     "message": "Certificate is up to date and has not expired"}]}})

    # ---- CA injector + routing ------------------------------------------------------------
    def _client_config(self, current: JsonObj, server: WebhookServer) -> JsonObj:
        service = current.get("service")
        if service is not None:
            path = service.get("path") or "/"
        else:
            url = str(current.get("url") or "")
            path = "/" + url.split("://", 1)[-1].split("/", 1)[1] if url.count("/") >= 3 else "/"
        return {"url": f"{server.url}{path}", "caBundle": self.ca_bundle}

    def _server_for(self, obj: JsonObj) -> WebhookServer | None:
        ref = ((obj.get("metadata") or {}).get("annotations") or {}).get(INJECT_ANNOTATION)
        return self.servers.get(ref) if ref else None

    def _route_webhooks(self, kind: str, config: JsonObj) -> None:
        server = self._server_for(config)
        if server is None:
            return
        webhooks: list[dict[str, Any]] = config.get("webhooks") or []
        wanted = [{**hook, "clientConfig": self._client_config(hook.get("clientConfig") or {}, server)}
                  for hook in webhooks]
        if wanted != webhooks:
            self.api.merge_patch(f"{kind}/{config['metadata']['name']}", {"webhooks": wanted})
            print(f"webhooks: {time.strftime('%H:%M:%S')} routed {config['metadata']['name']} to {server.url}",
                  flush=True)

    def _route_conversion(self, crd: JsonObj) -> None:
        server = self._server_for(crd)
        webhook = ((crd.get("spec") or {}).get("conversion") or {}).get("webhook")
        if server is None or not webhook:
            return
        current = webhook.get("clientConfig") or {}
        wanted = self._client_config(current, server)
        if current != wanted:
            self.api.merge_patch(f"{CRDS}/{crd['metadata']['name']}",
                                 {"spec": {"conversion": {"webhook": {"clientConfig": {
                                     "service": None, **wanted}}}}})
