"""``scone:provisioning`` settings: safe defaults and errors that say what to do."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from components.config_errors import explain
from components.owner.config import OwnerSettings, RecoverySettings, VaultSettings
from components.spec import CONFIG_NAMESPACE, SconeSpec


def test_defaults_need_no_owner_credentials() -> None:
    settings = OwnerSettings()
    assert settings.enabled is False
    assert settings.max_attempts == 5 and settings.plugin_timeout_seconds == 1800
    assert settings.vault.enabled is False and settings.recovery.snapshot_dir is None


def test_camel_case_stack_config_and_snake_case_both_accepted() -> None:
    from_stack = OwnerSettings.model_validate(
        {
            "enabled": True,
            "targetDir": "~/.cas",
            "backupDir": "/srv/owner/backups",
            "pluginTimeoutSeconds": 600,
            "maxAttempts": 3,
            "vault": {"enabled": True, "name": "vault"},
            "recovery": {"snapshotDir": None},
            "identityBackupDir": "/media/usb/identity",
        }
    )
    in_code = OwnerSettings(
        enabled=True, target_dir="~/.cas", backup_dir="/srv/owner/backups", plugin_timeout_seconds=600, max_attempts=3
    )
    assert from_stack.plugin_timeout_seconds == in_code.plugin_timeout_seconds == 600
    assert from_stack.target_path.is_absolute()


def test_every_field_is_described() -> None:
    for model in (OwnerSettings, VaultSettings, RecoverySettings):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"unknown": 1}, "Extra inputs are not permitted"),
        (
            {"targetDir": "relative/cas"},
            "provisioning.targetDir 'relative/cas' is relative: give an absolute directory",
        ),
        ({"pluginTimeoutSeconds": 0}, "provisioning.pluginTimeoutSeconds is 0: use 1..86400 seconds"),
        ({"maxAttempts": 0}, "provisioning.maxAttempts is 0: use 1..10"),
        ({"maxAttempts": 11}, "provisioning.maxAttempts is 11: use 1..10"),
        ({"enabled": True}, "provisioning.backupDir is required when provisioning.enabled is true"),
        (
            {"recovery": {"snapshotDir": "/snap"}},
            "recovery needs the CAS owner identity, so set provisioning.enabled: true",
        ),
        ({"recovery": {"snapshotDir": "snap"}}, "provisioning.recovery.snapshotDir 'snap' is relative"),
        ({"vault": {"name": "My_Vault"}}, "provisioning.vault.name 'My_Vault' is not a DNS label"),
    ],
)
def test_bad_settings_are_refused_with_what_to_do(value: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace(".", r"\.").replace("(", r"\(")):
        OwnerSettings.model_validate(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"maxAttempts": "5"}, "scone:provisioning.maxAttempts: must be a whole number, got '5'"),
        ({"pluginTimeoutSeconds": "600"}, "scone:provisioning.pluginTimeoutSeconds: must be a whole number, got '600'"),
        ({"enabled": "true"}, "scone:provisioning.enabled: must be true or false, got 'true'"),
        ({"vault": {"enabled": "yes"}}, "scone:provisioning.vault.enabled: must be true or false, got 'yes'"),
    ],
)
def test_owner_settings_refuse_quoted_values_like_the_rest_of_the_spec(
    value: dict[str, object], expected: str
) -> None:
    raw = {"serviceVersion": "5.8.0", "provisioning": value}
    with pytest.raises(ValidationError) as err:
        SconeSpec.model_validate(raw)
    assert expected in explain(err.value, SconeSpec, CONFIG_NAMESPACE, raw)
    with pytest.raises(ValidationError):
        OwnerSettings.model_validate(value)
    # the spec's own sections refuse the same kind of value the same way
    with pytest.raises(ValidationError, match="interval"):
        SconeSpec.model_validate({"serviceVersion": "5.8.0", "backup": {"interval": "3600"}})


def test_owner_settings_accept_a_whole_number_of_backoff_seconds() -> None:
    assert OwnerSettings.model_validate({"backoffSeconds": 10}).backoff_seconds == 10.0
