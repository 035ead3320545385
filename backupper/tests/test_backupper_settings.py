"""Settings: flag wins over env, defaults match the Deployment contract, errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from backupper_harness import Harness

from scone_backupper.errors import ConfigError
from scone_backupper.settings import resolve_settings
from scone_backupper.source import build_source_argv


def test_defaults_match_the_deployment_contract() -> None:
    settings = resolve_settings({}, environ={})
    assert settings.cas_name == "cas"
    assert settings.cas_namespace == "osc-scone-system"
    assert settings.interval_seconds == 14400
    assert settings.retention_days == 10
    assert settings.min_keep == 3
    assert settings.prefix == "cas-db"
    assert settings.credentials_dir == Path("/var/run/secrets/scone-backupper/s3")
    assert settings.metrics_port == 9102
    assert build_source_argv(settings) == [
        "kubectl",
        "exec",
        "-n",
        "osc-scone-system",
        "cas-0",
        "-c",
        "cas",
        "--",
        "tar",
        "cf",
        "-",
        "-C",
        "/var/mnt/cas-database-snapshots/last-completed",
        ".",
    ]


def test_flag_wins_over_environment() -> None:
    settings = resolve_settings(
        {"cas_name": "flagcas", "interval_seconds": "60"},
        environ={"CAS_NAME": "envcas", "BACKUP_INTERVAL_SECONDS": "99", "BACKUP_MIN_KEEP": "5"},
    )
    assert settings.cas_name == "flagcas"
    assert settings.interval_seconds == 60
    assert settings.min_keep == 5


def test_placeholders_are_filled_after_splitting_so_values_are_never_resplit() -> None:
    settings = resolve_settings(
        {"snapshot_dir": "/snap dir/with space"},
        environ={"CAS_NAME": "prod", "CAS_NAMESPACE": "ns1"},
    )
    argv = build_source_argv(settings)
    assert "prod-0" in argv and "ns1" in argv
    assert "/snap dir/with space" in argv


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"BACKUP_INTERVAL_SECONDS": "often"}, "BACKUP_INTERVAL_SECONDS (flag --interval)"),
        ({"BACKUP_MIN_KEEP": "0"}, "BACKUP_MIN_KEEP (flag --min-keep)"),
        ({"CAS_NAME": "Way_Too_Long_Cas_Name"}, "at most 15 characters"),
        ({"BACKUP_PREFIX": "/leading"}, "BACKUP_PREFIX"),
        ({"SNAPSHOT_SOURCE_COMMAND": "tar -C {oops}"}, "placeholders"),
        ({"BACKUP_REQUIRE_ENCRYPTION": "maybe"}, "use true or false"),
    ],
)
def test_bad_values_name_the_setting_and_what_is_allowed(
    env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, environ=env)
    assert expected in str(caught.value)


def test_bad_setting_exits_2_with_a_json_log_line_not_a_traceback(harness: Harness) -> None:
    result = harness.run("run", env={"BACKUP_RETENTION_DAYS": "-1"})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "BACKUP_RETENTION_DAYS" in result.stderr


def test_missing_secret_key_is_named_and_exits_3(harness: Harness) -> None:
    (harness.creds_dir / "AWS_SECRET_ACCESS_KEY").unlink()
    result = harness.run("run")
    assert result.returncode == 3
    assert "AWS_SECRET_ACCESS_KEY" in result.stderr


def test_missing_bucket_is_named_and_exits_6(harness: Harness) -> None:
    (harness.creds_dir / "BUCKET_NAME").write_text("no-such-bucket-here")
    harness.write_snapshot(b"db", b"ks")
    result = harness.run("run", env={"S3_MAX_ATTEMPTS": "2"})
    assert result.returncode == 6
    assert "no-such-bucket-here" in result.stderr
