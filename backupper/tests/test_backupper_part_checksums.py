"""How parts and objects are checked in the store: a CRC32 per part (the store verifies it and, if
it says so, echoes it), a COMPOSITE CRC32 of the completed object, and Content-MD5/ETags towards a
store that echoes no checksum. Each wrong answer must be caught before a set is committed.

Both servers: versitygw verifies and echoes part CRC32s itself; moto echoes none (so its parts are
checked by Content-MD5/ETag) but reports the composite CRC32 it computed from the stored bytes.
"""

from __future__ import annotations

import base64
import os
import zlib

import pytest
from backupper_harness import FaultProxy, Harness, ServerProcess, log_lines

from scone_backupper.checksums import same_checksum

BOTH_S3_SERVERS = True
PART = 5 * 1024 * 1024  # the harness's BACKUP_PART_SIZE_MIB
SIZE = 2 * PART + 17  # three parts
ONE_PART_AT_A_TIME = {"BACKUP_UPLOAD_CONCURRENCY": "1"}  # part 1's answer precedes part 2
WRONG_CRC32 = base64.b64encode(b"\x00\x00\x00\x00").decode()


def crc32_echo(value: str, **match: object) -> dict[str, object]:
    """A fault-proxy rule: answers to the requests ``match`` selects carry CRC32 ``value``."""
    return {**match, "action": "echo", "header": "x-amz-checksum-crc32", "value": value}


def _crc32(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(4, "big")


def _composite(data: bytes) -> str:
    """The COMPOSITE CRC32 as S3 defines it, computed here from the bytes themselves."""
    parts = [_crc32(data[i : i + PART]) for i in range(0, len(data), PART)]
    return f"{base64.b64encode(_crc32(b''.join(parts))).decode()}-{len(parts)}"


def _retry_errors(stderr: str) -> list[str]:
    return [str(r["error"]) for r in log_lines(stderr) if r["msg"] == "retrying S3 request"]


def _part_requests(proxy: FaultProxy) -> dict[str, list[str]]:
    """Per part number, the checksum headers its (last) request carried."""
    return {
        e["query"].split("partNumber=")[1].split("&")[0]: e["sent"]
        for e in proxy.events()
        if "partNumber=" in e.get("query", "")
    }


def _assert_nothing_committed(harness: Harness) -> None:
    assert harness.manifests() == []
    assert harness.listed() == []
    assert harness.uploads() == [], "the failed run aborts its multipart uploads"


def test_the_store_keeps_the_composite_crc32_of_the_parts_we_sent(
    harness: Harness, s3_server: ServerProcess
) -> None:
    db = os.urandom(SIZE)
    harness.write_snapshot(db, b"ks")

    result = harness.run("run")

    assert result.returncode == 0, result.stderr
    db_key = next(k for k in harness.object_keys() if k.endswith("/cas.db"))
    head = harness.admin.head_object(Bucket=harness.bucket, Key=db_key, ChecksumMode="ENABLED")
    if s3_server.argv[0].endswith("versitygw"):
        assert head["ChecksumCRC32"] == _composite(db)
    else:
        # moto's HEAD reports the composite value without its "-<parts>" suffix (its GET has it).
        assert head["ChecksumCRC32"] == _composite(db).split("-")[0]
    assert head.get("ChecksumType", "COMPOSITE") == "COMPOSITE"
    assert "ChecksumSHA256" not in head


def test_parts_carry_a_crc32_header_and_content_md5_only_until_the_store_echoes_the_crc32(
    faulty: Harness, proxy: FaultProxy, s3_server: ServerProcess
) -> None:
    faulty.write_snapshot(os.urandom(SIZE), b"ks")
    proxy.set_rules([{"method": "PUT", "query": "partNumber", "action": "observe", "times": 99}])

    result = faulty.run("run", env=ONE_PART_AT_A_TIME)

    assert result.returncode == 0, result.stderr
    sent = _part_requests(proxy)
    assert sorted(sent) == ["1", "2", "3"]
    assert all("x-amz-checksum-crc32" in headers for headers in sent.values()), sent
    assert not any("x-amz-checksum-sha256" in headers for headers in sent.values()), sent
    assert "content-md5" in sent["1"]  # before the first answer, nothing is known of the store
    if s3_server.argv[0].endswith("versitygw"):
        # versitygw verified and echoed part 1's CRC32: later parts rely on it alone.
        assert "content-md5" not in sent["2"] and "content-md5" not in sent["3"], sent
    else:
        # moto echoes nothing: every part keeps Content-MD5 and its ETag is compared.
        assert "content-md5" in sent["2"] and "content-md5" in sent["3"], sent


def test_a_part_damaged_in_transit_after_the_first_is_detected_and_resent(
    faulty: Harness, proxy: FaultProxy, s3_server: ServerProcess
) -> None:
    db = os.urandom(SIZE)
    faulty.write_snapshot(db, b"ks")
    proxy.set_rules([{"method": "PUT", "query": "partNumber=3", "action": "corrupt"}])

    result = faulty.run("run", env=ONE_PART_AT_A_TIME)

    assert result.returncode == 0, result.stderr
    damaged = next(e for e in proxy.events() if e["action"] == "corrupt")
    errors = _retry_errors(result.stderr)
    if s3_server.argv[0].endswith("versitygw"):
        # Sent with only its CRC32: the store's own CRC32 check refused the damaged bytes.
        assert damaged["sent"] == ["x-amz-checksum-crc32"], damaged
        assert errors == ["BadDigest"], result.stderr
    else:
        assert "content-md5" in damaged["sent"], damaged
        assert errors == ["TransientMismatch"], result.stderr
    db_key = next(k for k in faulty.object_keys() if k.endswith("/cas.db"))
    assert faulty.admin.get_object(Bucket=faulty.bucket, Key=db_key)["Body"].read() == db
    assert len(faulty.listed()) == 1


def test_a_store_echoing_a_wrong_part_crc32_is_detected_and_the_part_resent(
    faulty: Harness, proxy: FaultProxy
) -> None:
    db = os.urandom(SIZE)
    faulty.write_snapshot(db, b"ks")
    proxy.set_rules([crc32_echo(WRONG_CRC32, method="PUT", query="partNumber=2")])

    result = faulty.run("run")

    assert result.returncode == 0, result.stderr
    assert _retry_errors(result.stderr) == ["TransientMismatch"], result.stderr
    verify = faulty.run("verify", "--set", "all", env=faulty.direct())
    assert verify.returncode == 0, verify.stderr
    assert faulty.uploads() == []


def test_a_store_always_echoing_a_wrong_part_crc32_fails_the_run_and_commits_nothing(
    faulty: Harness, proxy: FaultProxy
) -> None:
    faulty.write_snapshot(os.urandom(SIZE), b"ks")
    proxy.set_rules([crc32_echo(WRONG_CRC32, method="PUT", query="partNumber=2", times=99)])

    result = faulty.run("run", env={"S3_MAX_ATTEMPTS": "3"})

    assert result.returncode == 6, result.stderr
    assert "after 3 attempts" in result.stderr and "store reports CRC32" in result.stderr
    _assert_nothing_committed(faulty)


def test_a_wrong_composite_crc32_of_the_completed_object_fails_verification_and_commits_nothing(
    faulty: Harness, proxy: FaultProxy
) -> None:
    faulty.write_snapshot(os.urandom(SIZE), b"ks")
    proxy.set_rules([crc32_echo(f"{WRONG_CRC32}-3", method="HEAD", path="/cas.db", times=99)])

    result = faulty.run("run")

    assert result.returncode == 7, result.stderr
    failure = [r for r in log_lines(result.stderr) if r["level"] == "error"][-1]
    assert failure["kind"] == "verification"
    assert "CRC32" in str(failure["msg"]) and "cas.db" in str(failure["msg"])
    assert faulty.manifests() == []
    assert faulty.listed() == [], "objects without a manifest are never a set"
    assert [s["status"] for s in faulty.listed("--all")] == [
        "unfinished (no manifest; not a backup)"
    ]


def test_a_store_that_echoes_no_checksums_is_checked_by_content_md5_and_etags(
    faulty: Harness, proxy: FaultProxy
) -> None:
    db = os.urandom(SIZE)
    faulty.write_snapshot(db, b"ks")
    proxy.set_rules([{"action": "noecho", "times": 999}])

    result = faulty.run("run", env={"LOG_LEVEL": "debug"})

    assert result.returncode == 0, result.stderr
    sent = _part_requests(proxy)
    assert sorted(sent) == ["1", "2", "3"]
    assert all("content-md5" in headers for headers in sent.values()), sent
    chosen = [r for r in log_lines(result.stderr) if r["msg"] == "part check chosen"]
    assert [r["check"] for r in chosen] == ["md5"]
    verify = faulty.run("verify", "--set", "all", env=faulty.direct())
    assert verify.returncode == 0, verify.stderr
    db_key = next(k for k in faulty.object_keys() if k.endswith("/cas.db"))
    assert faulty.admin.get_object(Bucket=faulty.bucket, Key=db_key)["Body"].read() == db


@pytest.mark.parametrize(
    ("returned", "expected", "same"),
    [
        ("abc=-3", "abc=-3", True),
        ("abc=", "abc=-3", True),  # a composite reported without its part count
        ("xyz=-3", "abc=-3", False),
        ("abc=-4", "abc=-3", False),  # the right value over a different number of parts
        ("xyz=", "abc=-3", None),  # a FULL_OBJECT value: of another kind, proves nothing
        ("", "abc=-3", None),
        ("abc=", "abc=", True),  # a single PUT's SHA-256
        ("xyz=", "abc=", False),
    ],
)
def test_store_checksums_are_compared_as_s3_reports_them(
    returned: str, expected: str, same: bool | None
) -> None:
    assert same_checksum(returned, expected) is same
