"""The scheduled restore drill: a CronJob made from the backupper's pod, and its overdue alert.

Evaluated by the real Pulumi program under the mock engine; the CronJob's container is fed to the
backupper's real settings resolver and CLI parser, so a renamed variable or command fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from scone_backupper.cli import build_parser
from scone_backupper.settings import resolve_settings

from components.backupper import DRILL, DRILL_LABELS
from components.cron_schedule import CronError, schedule_period_seconds
from tests.program.conftest import Evaluate

CRONJOB = "kubernetes:batch/v1:CronJob"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RULES = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
#: stacks/Pulumi.prod.yaml's backup section, with a weekly drill added.
PROD_BACKUP = {"interval": 14400, "retention": 30, "minKeep": 6, "s3": {"region": "eu-central-1"}}
WEEKLY = {**PROD_BACKUP, "restoreDrill": {"schedule": "0 3 * * 0"}}


def _alerts(evaluation: Any) -> dict[str, dict[str, Any]]:
    rules = evaluation.one(RULES).inputs["spec"]["groups"][0]["rules"]
    return {rule["alert"]: rule for rule in rules}


def test_no_schedule_means_no_drill_cron_job_and_no_drill_alert(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("prod")
    assert evaluation.by_type(CRONJOB) == []
    assert "SconeCasRestoreDrillOverdue" not in _alerts(evaluation)
    blank = evaluate_stack("prod", backup={**PROD_BACKUP, "restoreDrill": {"schedule": "  "}})
    assert blank.error is None and blank.by_type(CRONJOB) == []


def test_a_schedule_makes_a_cron_job_from_the_backupper_pod_running_drill(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("prod", backup=WEEKLY)
    cron_job = evaluation.one(CRONJOB).inputs
    assert cron_job["metadata"]["name"] == DRILL and cron_job["metadata"]["labels"] == DRILL_LABELS
    spec = cron_job["spec"]
    assert spec["schedule"] == "0 3 * * 0" and spec["concurrencyPolicy"] == "Forbid"
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0 and job["template"]["metadata"]["labels"] == DRILL_LABELS
    pod = job["template"]["spec"]
    deployment_pod = evaluation.one(DEPLOYMENT).inputs["spec"]["template"]["spec"]
    container, backupper = pod["containers"][0], deployment_pod["containers"][0]
    assert container["image"] == backupper["image"]
    assert container["securityContext"] == backupper["securityContext"]
    assert build_parser().parse_args(container["args"]).command == "drill"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {**{e["name"]: e["value"] for e in backupper["env"]}, "METRICS_PORT": "0"}
    settings = resolve_settings({}, environ=env)
    assert (settings.cas_name, settings.prefix, settings.metrics_port) == ("cas", "cas-db", 0)
    # The drill reads the bucket with the same Secret, needs no API token, and gets room for a copy.
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "default"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["s3-credentials"] == {v["name"]: v for v in deployment_pod["volumes"]}["s3-credentials"]
    assert volumes["tmp"] == {"name": "tmp", "emptyDir": {}}
    assert "ports" not in container and "livenessProbe" not in container


def test_the_drill_alert_fires_after_twice_the_schedules_longest_gap(evaluate_stack: Evaluate) -> None:
    weekly = _alerts(evaluate_stack("prod", backup=WEEKLY))["SconeCasRestoreDrillOverdue"]
    ns = 'namespace="osc-scone-system", cronjob="scone-cas-db-backupper-drill"'
    assert weekly["expr"] == (
        f"time() - max(kube_cronjob_status_last_successful_time{{{ns}}}) > 1209600"
        f" or (time() - max(kube_cronjob_created{{{ns}}}) > 1209600"
        f" unless on() max(kube_cronjob_status_last_successful_time{{{ns}}}))"
    )
    assert "scone-ops backup drill --stack <env>" in weekly["annotations"]["runbook"]
    weekdays = {**PROD_BACKUP, "restoreDrill": {"schedule": "30 2 * * mon-fri"}}
    # Friday 02:30 to Monday 02:30 is the longest wait: 3 days, doubled.
    assert "> 518400" in _alerts(evaluate_stack("prod", backup=weekdays))["SconeCasRestoreDrillOverdue"]["expr"]


@pytest.mark.parametrize(
    ("schedule", "hours"),
    [("0 3 * * 0", 168), ("*/15 * * * *", 0.25), ("@daily", 24), ("0 0 1,15 * *", 17 * 24),
     ("0 0 29 2 *", 4 * 365.25 * 24), ("0 6,18 * * *", 12), ("0 0 1,15 * mon", 7 * 24)],
)
def test_the_period_of_a_schedule_is_its_longest_gap(schedule: str, hours: float) -> None:
    assert schedule_period_seconds(schedule) == hours * 3600


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [("61 * * * *", "minute field: 61 is outside 0-59"), ("0 0 * * 7", "day of week field: 7 is outside 0-6"),
     ("5-1 * * * *", "range '5-1' runs backwards"), ("*/0 * * * *", "step 0"), ("@every 1h", "has 2 field(s)"),
     ("0 3 * * sunday", "'sunday' is not a number or a name")],
)
def test_a_malformed_schedule_is_refused_saying_why(schedule: str, problem: str) -> None:
    with pytest.raises(CronError, match=re.escape(problem)):
        schedule_period_seconds(schedule)
