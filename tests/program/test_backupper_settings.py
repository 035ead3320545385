"""A backup setting for the backupper is a spec field and one line in the backupper: nothing in between.

The backupper component receives the spec's ``backup`` section whole and derives its environment
from it (``components.backupper.BACKUP_ENV``), so the settings slices never list backup fields, and
the README's config table is generated from the same model field.
"""

from __future__ import annotations

import pytest
from pydantic import Field, create_model

from components.backup_settings import BackupSpec
from components.backupper import BACKUP_ENV, backupper_env
from components.settings_slices import backupper_args
from components.spec import SconeSpec
from tools.config_reference import spec_fields_table


def _spec(backup: dict[str, object]) -> SconeSpec:
    return SconeSpec.model_validate({"serviceVersion": "5.8.0", "backup": backup})


def _env(spec: SconeSpec) -> dict[str, str]:
    return {item["name"]: item["value"] for item in backupper_env(backupper_args(spec))}


def test_every_backupper_variable_comes_from_a_described_backup_spec_field_in_the_readme_table() -> None:
    readme_keys = {key for key, _type, _default, _description in spec_fields_table()}
    for field, variable in BACKUP_ENV.items():
        assert field in BackupSpec.model_fields, f"{variable}: '{field}' is not a field of BackupSpec"
        assert BackupSpec.model_fields[field].description, field
        assert f"backup.{field}" in readme_keys, field


def test_the_backupper_environment_carries_the_backup_section_values() -> None:
    spec = _spec({"interval": 7200, "retention": 3, "minKeep": 5, "prefix": "team-a"})
    env = _env(spec)
    assert {variable: env[variable] for variable in BACKUP_ENV.values()} == {
        "BACKUP_INTERVAL_SECONDS": "7200",
        "BACKUP_RETENTION_DAYS": "3",
        "BACKUP_MIN_KEEP": "5",
        "BACKUP_PREFIX": "team-a",
    }


def test_a_new_backup_field_reaches_the_backupper_environment_without_touching_the_slices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A spec with one more backup field, as if it had been added to BackupSpec ...
    extended = create_model(
        "ExtendedBackupSpec",
        __base__=BackupSpec,
        uploadConcurrency=(int, Field(default=4, description="Parallel part uploads per backup set.")),
    )
    spec = _spec({}).model_copy(update={"backup": extended.model_validate({"uploadConcurrency": 8})})
    # ... and one line in the backupper: settings_slices.backupper_args is the unchanged function.
    monkeypatch.setitem(BACKUP_ENV, "uploadConcurrency", "BACKUP_UPLOAD_CONCURRENCY")
    env = _env(spec)
    assert env["BACKUP_UPLOAD_CONCURRENCY"] == "8"
    assert env["BACKUP_INTERVAL_SECONDS"] == str(spec.backup.interval)


def test_the_restore_drill_schedule_is_read_from_the_backup_section() -> None:
    assert backupper_args(_spec({})).drill_schedule is None
    spec = _spec({"restoreDrill": {"schedule": "0 3 * * 0"}})
    assert backupper_args(spec).drill_schedule == "0 3 * * 0"
