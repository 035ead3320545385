"""The SCONE program's `local` stack on a LocalCluster: project, secrets, S3 Secret.

Why one place: the demo command and every program e2e test create the stack the
same way: the S3 credentials Secret that `backup.s3Creds` names exists in the
cluster first, `pulumi stack init` uses the passphrase provider, and credentials
(DCAP key) are set with `config set --secret` from stdin, never written in plain text
nor passed as an argument.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e.harness.cluster import LocalCluster
from e2e.harness.pulumi_env import PulumiWorkspace
from e2e.harness.scone_project import local_stack_version, make_project, write_stack_config
from e2e.harness.tools import Tools
from e2e.harness.upstream_charts import chart_tgz

S3_SECRET_NAME = "scone-local-s3"  # noqa: S105 - a Secret name, not a secret
S3_SECRET_NAMESPACE = "default"  # noqa: S105 - a namespace
DCAP_KEY_PREFIX = "DCAP-"
#: Every DCAP key ``LocalSconeStack`` generates matches this (tests search output for it).
GENERATED_DCAP_KEY = re.compile(re.escape(DCAP_KEY_PREFIX) + r"[0-9a-f]{32}")


def generate_dcap_key() -> str:
    """A fresh random DCAP key for one stack (never a real one)."""
    return DCAP_KEY_PREFIX + secrets.token_hex(16)


@dataclass
class LocalSconeStack:
    """A stack of the real program against `cluster`, state under `workdir`."""

    tools: Tools
    cluster: LocalCluster
    workdir: Path
    stack: str = "local"
    overrides: dict[str, Any] = field(default_factory=dict)
    dcap_key: str = field(default_factory=generate_dcap_key)
    s3_access_key_id: str = field(default_factory=lambda: "AKIA" + secrets.token_hex(8).upper())
    s3_secret_access_key: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    s3_endpoint: str = "http://127.0.0.1:9000"
    bucket: str = "scone-local-backups"
    #: A shared backend (e.g. ``s3://bucket?endpoint=...``) instead of the file backend, and
    #: what the CLI needs to reach it (bucket credentials); see PulumiWorkspace.backend_url.
    backend_url: str | None = None
    backend_env: dict[str, str] = field(default_factory=dict)
    ws: PulumiWorkspace | None = None

    @property
    def project_dir(self) -> Path:
        return self.workdir / "project"

    def create(self) -> PulumiWorkspace:
        self.ensure_s3_secret()
        real_chart = chart_tgz(local_stack_version())
        if real_chart is not None:
            # Scontain's chart creates a cert-manager Issuer and Certificate: their CRDs must exist.
            self.cluster.install_cert_manager_crds(real_chart)
        make_project(self.project_dir, self.stack, self.overrides)
        ws = PulumiWorkspace(self.tools, self.project_dir, self.workdir / "state", self.cluster.kubeconfig,
                             extra_env=dict(self.backend_env), backend_url=self.backend_url)
        if self.backend_url is not None:
            ws.login()
        ws.stack_init(self.stack)
        # On stdin, as the README tells operators: a value argument would show in `ps`.
        ws.run("config", "set", "--secret", "scone:dcapKey", check=True, stdin=self.dcap_key)
        self.ws = ws
        return ws

    def reconfigure(self, overrides: dict[str, Any]) -> None:
        """Replace the test's overrides (secrets already set stay)."""
        self.overrides = overrides
        write_stack_config(self.project_dir, self.stack, overrides)

    def ensure_s3_secret(self) -> None:
        def b64(s: str) -> str:
            return base64.b64encode(s.encode()).decode()

        self.cluster.kubectl_apply({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": S3_SECRET_NAME, "namespace": S3_SECRET_NAMESPACE},
            "type": "Opaque",
            "data": {
                "AWS_ACCESS_KEY_ID": b64(self.s3_access_key_id),
                "AWS_SECRET_ACCESS_KEY": b64(self.s3_secret_access_key),
                "BUCKET_NAME": b64(self.bucket),
                "AWS_REGION": b64("local"),
                "S3_ENDPOINT": b64(self.s3_endpoint),
            },
        })

    def sentinels(self) -> dict[str, str]:
        """Every credential whose plain text must never reach state or logs."""
        return {"dcapKey": self.dcap_key, "s3AccessKeyId": self.s3_access_key_id,
                "s3SecretAccessKey": self.s3_secret_access_key}
