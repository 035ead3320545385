"""``--print-public-keys``: the certificate is read whether it is printed on one line or over several."""

from __future__ import annotations

import json

import pytest

from components.owner.cas_queries import incomplete_keys, parse_public_keys
from components.owner.plugin import PluginError, PluginResult
from components.owner.providers import CasProvisioningProvider
from tests.owner.world import NAMESPACE, OwnerWorld

KEYS = 'export CAS_KEY="aa11"\nexport CAS_SOFTWARE_KEY="bb22"\nexport CAS_SESSION_ENCRYPTION_KEY="cc33"\n'
PEM_LINES = ["-----BEGIN CERTIFICATE-----", "MIIBszCCAVmgAwIBAgIU", "Zm9vYmFy+/==", "-----END CERTIFICATE-----"]


def result(stdout: str) -> PluginResult:
    return PluginResult(["cas", "cas", "--print-public-keys"], 0, stdout, "")


def test_a_pem_over_several_lines_is_read_whole() -> None:
    keys = parse_public_keys(KEYS + 'export CAS_CERT="' + "\n".join(PEM_LINES) + '"\n')
    assert keys == {
        "casKey": "aa11",
        "casSoftwareKey": "bb22",
        "casSessionEncryptionKey": "cc33",
        "casCert": "\n".join(PEM_LINES),
    }


def test_a_pem_with_crlf_line_ends_and_trailing_blanks_is_read_the_same() -> None:
    printed = KEYS.replace("\n", "\r\n") + 'export CAS_CERT="' + "  \r\n".join(PEM_LINES) + '"\r\n'
    assert parse_public_keys(printed)["casCert"] == "\n".join(PEM_LINES)


def test_a_pem_on_one_line_is_read_as_printed() -> None:
    one_line = "\\n".join(PEM_LINES)
    keys = parse_public_keys(KEYS + f'export CAS_CERT="{one_line}"\n')
    assert keys["casCert"] == one_line
    assert incomplete_keys(result(KEYS + f'export CAS_CERT="{one_line}"\n')) is None


@pytest.mark.parametrize(
    ("cut", "problem"),
    [
        (2, "incomplete output, missing CAS_CERT"),  # the certificate's closing quote never came
        (3, "incomplete output, missing CAS_CERT"),
    ],
)
def test_a_certificate_cut_short_is_rejected(cut: int, problem: str) -> None:
    printed = KEYS + 'export CAS_CERT="' + "\n".join(PEM_LINES[:cut])
    assert incomplete_keys(result(printed)) == problem


def test_a_quoted_value_that_is_not_a_whole_pem_is_rejected() -> None:
    printed = KEYS + 'export CAS_CERT="-----BEGIN CERTIFICATE-----\nMIIB"\n'
    assert incomplete_keys(result(printed)) == "incomplete output, CAS_CERT is not a whole PEM certificate"


@pytest.mark.parametrize("layout", ["several lines", "one line"])
def test_provisioning_records_the_certificate_in_either_layout(world: OwnerWorld, layout: str) -> None:
    world.create_cas_cr("5.8.0")
    first = CasProvisioningProvider().create(world.props()).outs
    assert first is not None
    db_file = world.state / "casdb" / NAMESPACE / "cas.json"
    db = json.loads(db_file.read_text())
    if layout == "one line":  # as a CAS database written by an older plugin may print it
        db["cert"] = db["cert"].replace("\n", "\\n")
        db_file.write_text(json.dumps(db))
    adopted = CasProvisioningProvider().create(world.props()).outs
    assert adopted is not None
    assert adopted["publicKeys"]["casCert"] == db["cert"]
    assert adopted["publicKeys"]["casCert"].startswith("-----BEGIN CERTIFICATE-----")


def test_keys_cut_short_by_the_plugin_are_not_recorded(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    world.inject({"match": "--print-public-keys", "action": "partial"})
    with pytest.raises(PluginError, match="incomplete output"):
        CasProvisioningProvider().create(world.props())
