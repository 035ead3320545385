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


@pytest.mark.parametrize(
    ("env", "flag", "allowed"),
    [
        ("BACKUP_RETENTION_DAYS", "--retention-days", "allowed: 1 to 36500"),
        ("BACKUP_ORPHAN_GRACE_SECONDS", "--orphan-grace-seconds", "allowed: 0 to 2678400"),
        ("BACKUP_INTERVAL_SECONDS", "--interval", "allowed: 1 to 2678400"),
        ("SNAPSHOT_SOURCE_TIMEOUT_SECONDS", "--source-timeout", "allowed: 1 to 604800"),
        ("BACKUP_FAILURE_RETRY_SECONDS", "--failure-retry-seconds", "allowed: 1 to 2678400"),
        ("BACKUP_MIN_KEEP", "--min-keep", "allowed: 1 to 10000"),
        ("S3_READ_TIMEOUT_SECONDS", "--read-timeout", "at most 3600"),
        ("S3_RETRY_MAX_SECONDS", "--retry-max-seconds", "at most 3600"),
    ],
)
@pytest.mark.parametrize("value", ["1000000000000", "1e14"])
def test_every_numeric_setting_has_an_upper_bound_named_with_flag_and_env(
    env: str, flag: str, allowed: str, value: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, environ={env: value})
    message = str(caught.value)
    assert env in message and flag in message and allowed in message, message


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_non_finite_numbers_are_refused(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, environ={"S3_CONNECT_TIMEOUT_SECONDS": value})
    assert "S3_CONNECT_TIMEOUT_SECONDS" in str(caught.value)
    assert "at most 3600" in str(caught.value)


def test_huge_retention_is_refused_before_anything_is_uploaded(harness: Harness) -> None:
    """A million days used to pass validation, commit a set and then crash in date arithmetic."""
    harness.write_snapshot(b"db", b"ks")
    result = harness.run("run", env={"BACKUP_RETENTION_DAYS": "1000000"})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "BACKUP_RETENTION_DAYS (flag --retention-days)" in result.stderr
    assert harness.object_keys() == []


def test_loop_with_a_huge_interval_is_refused_instead_of_stopping_after_one_run(
    harness: Harness,
) -> None:
    harness.write_snapshot(b"db", b"ks")
    result = harness.run("loop", "--interval", "10000000000")
    assert result.returncode == 2, result.stderr
    assert "--interval (env BACKUP_INTERVAL_SECONDS)" in result.stderr
    assert "allowed: 1 to 2678400" in result.stderr
    assert harness.object_keys() == []
