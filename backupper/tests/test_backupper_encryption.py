"""Optional client-side encryption: stored bytes are ciphertext, restore needs the right key,
and when encryption is required but the key is missing nothing is uploaded (fail closed)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from backupper_harness import Harness

from scone_backupper import crypto
from scone_backupper.errors import EncryptionError


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.mark.parametrize("size", [0, 1, crypto.CHUNK_SIZE, 3 * crypto.CHUNK_SIZE + 5])
def test_stream_cipher_round_trips_and_predicts_its_size(size: int) -> None:
    key = os.urandom(32)
    plain = os.urandom(size)
    stored = b"".join(
        crypto.encrypt_stream([plain[i : i + 99_999] for i in range(0, size, 99_999)], key)
    )
    assert len(stored) == crypto.encrypted_size(size)
    assert b"".join(crypto.decrypt_stream([stored], key)) == plain


def test_stream_cipher_detects_truncation_at_a_frame_boundary() -> None:
    key = os.urandom(32)
    stored = b"".join(crypto.encrypt_stream([os.urandom(2 * crypto.CHUNK_SIZE + 10)], key))
    truncated = stored[: crypto.HEADER_SIZE + 2 * (crypto.CHUNK_SIZE + crypto.TAG_SIZE)]
    with pytest.raises(EncryptionError):
        b"".join(crypto.decrypt_stream([truncated], key))


def test_encrypted_backup_stores_ciphertext_and_restores_plaintext(
    harness: Harness, tmp_path: Path
) -> None:
    key = _key()
    (harness.creds_dir / "ENCRYPTION_KEY").write_text(key)
    db = os.urandom(7 * 1024 * 1024)
    harness.write_snapshot(db, b"key-store-bytes")

    assert harness.run("run").returncode == 0
    stored_key = next(k for k in harness.object_keys() if k.endswith("/cas.db"))
    stored = harness.admin.get_object(Bucket=harness.bucket, Key=stored_key)["Body"].read()
    restore = harness.run("restore", "--set", "latest", "--target", str(tmp_path / "r"))

    assert stored[:8] == crypto.MAGIC and db[:4096] not in stored
    assert restore.returncode == 0, restore.stderr
    assert (tmp_path / "r" / "cas.db").read_bytes() == db
    assert (tmp_path / "r" / "cas.key-store").read_bytes() == b"key-store-bytes"
    assert key not in restore.stderr + restore.stdout
    (manifest,) = harness.manifests()
    assert manifest["encryption"]["key_id"] == crypto.key_id(base64.b64decode(key))


def test_required_encryption_without_a_key_uploads_nothing(harness: Harness) -> None:
    harness.write_snapshot(os.urandom(1000), b"ks")
    result = harness.run("run", env={"BACKUP_REQUIRE_ENCRYPTION": "true"})
    assert result.returncode == 9
    assert "ENCRYPTION_KEY" in result.stderr
    assert harness.object_keys() == []


def test_malformed_key_fails_closed(harness: Harness) -> None:
    (harness.creds_dir / "ENCRYPTION_KEY").write_text("too-short")
    harness.write_snapshot(os.urandom(1000), b"ks")
    result = harness.run("run")
    assert result.returncode == 9
    assert harness.object_keys() == []


def test_restore_with_the_wrong_key_is_refused(harness: Harness, tmp_path: Path) -> None:
    (harness.creds_dir / "ENCRYPTION_KEY").write_text(_key())
    harness.write_snapshot(os.urandom(1000), b"ks")
    assert harness.run("run").returncode == 0
    (harness.creds_dir / "ENCRYPTION_KEY").write_text(_key())

    result = harness.run("restore", "--set", "latest", "--target", str(tmp_path / "r"))

    assert result.returncode == 9
    assert "key id" in result.stderr
    assert not (tmp_path / "r" / "cas.db").exists()


def test_adding_a_key_makes_the_next_run_upload_an_encrypted_set(harness: Harness) -> None:
    harness.write_snapshot(os.urandom(1000), b"ks")
    assert harness.run("run").returncode == 0
    (harness.creds_dir / "ENCRYPTION_KEY").write_text(_key())

    assert harness.run("run").returncode == 0

    encrypted = [m["encryption"] is not None for m in harness.manifests()]
    assert sorted(encrypted) == [False, True]
