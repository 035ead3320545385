"""The streaming tar reader keeps the checks tarfile gave: header checksums, GNU long names,
pax records, base-256 sizes, and a stream cut short anywhere. Archives come from real GNU tar."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from pathlib import Path

import pytest

from scone_backupper.tarstream import TarFormatError, TarMember, TarReader


def _gnu_tar(directory: Path, *options: str) -> bytes:
    return subprocess.run(
        ["tar", "cf", "-", *options, "-C", str(directory), "."],
        capture_output=True,
        check=True,
    ).stdout


def _read_all(data: bytes) -> list[tuple[TarMember, bytes]]:
    reader = TarReader(io.BytesIO(data))
    members = []
    while (member := reader.next()) is not None:
        buffer = bytearray(reader.remaining)
        reader.read_into(memoryview(buffer))
        members.append((member, bytes(buffer)))
    return members


@pytest.mark.parametrize("tar_format", ["gnu", "pax", "ustar", "v7"])
def test_members_and_bytes_match_what_gnu_tar_wrote(tmp_path: Path, tar_format: str) -> None:
    (tmp_path / "cas.db").write_bytes(os.urandom(70_001))
    (tmp_path / "cas.key-store").write_bytes(b"ks")
    (tmp_path / "link").symlink_to("cas.db")

    members = _read_all(_gnu_tar(tmp_path, f"--format={tar_format}"))

    by_name = {m.name.removeprefix("./"): (m, data) for m, data in members}
    assert by_name["cas.db"][1] == (tmp_path / "cas.db").read_bytes()
    assert by_name["cas.key-store"][1] == b"ks"
    assert by_name["link"][0].kind == "symlink"
    assert by_name[""][0].kind == "dir"  # GNU tar names the top directory "./"


@pytest.mark.parametrize("tar_format", ["gnu", "pax"])
def test_long_names_come_from_gnu_long_name_and_pax_path_records(
    tmp_path: Path, tar_format: str
) -> None:
    long_name = "d" * 150 + ".db"
    (tmp_path / long_name).write_bytes(b"x" * 1000)

    members = _read_all(_gnu_tar(tmp_path, f"--format={tar_format}"))

    assert any(m.name == f"./{long_name}" and data == b"x" * 1000 for m, data in members)


def test_a_damaged_header_fails_its_checksum(tmp_path: Path) -> None:
    (tmp_path / "cas.db").write_bytes(b"data")
    archive = bytearray(_gnu_tar(tmp_path))
    archive[512 + 10] ^= 0x01  # a name byte of the second header

    with pytest.raises(TarFormatError, match="checksum"):
        _read_all(bytes(archive))


@pytest.mark.parametrize("cut", [100, 512 + 300, 1024 + 2000, -1024])
def test_a_stream_cut_short_anywhere_is_an_error(tmp_path: Path, cut: int) -> None:
    (tmp_path / "cas.db").write_bytes(os.urandom(5000))
    archive = _gnu_tar(tmp_path, "--record-size=512")
    with pytest.raises(TarFormatError):
        _read_all(archive[:cut])


def test_base256_size_and_pax_size_are_honoured() -> None:
    """Sizes over 8 GiB are written base-256 (GNU) or as a pax `size` record."""
    import tarfile

    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=fmt) as archive:
            info = tarfile.TarInfo("cas.db")
            info.size = 3
            archive.addfile(info, io.BytesIO(b"abc"))
        assert [(m.name, d) for m, d in _read_all(out.getvalue())] == [("cas.db", b"abc")]

    base256 = bytearray(512)
    base256[0:6] = b"cas.db"
    base256[124:136] = b"\x80" + (5).to_bytes(11, "big")
    base256[156:157] = b"0"
    base256[148:156] = b" " * 8
    base256[148:155] = f"{256 + sum(base256) - 256:06o}\0".encode()
    stream = bytes(base256) + b"hello" + bytes(507) + bytes(1024)
    assert [(m.name, m.size, d) for m, d in _read_all(stream)] == [("cas.db", 5, b"hello")]


def test_a_file_bigger_than_the_read_buffer_is_read_whole(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    (tmp_path / "cas.db").write_bytes(data)
    reader = TarReader(io.BytesIO(_gnu_tar(tmp_path)))
    digest = hashlib.sha256()
    while (member := reader.next()) is not None:
        if member.name.endswith("cas.db"):
            view = memoryview(bytearray(1024 * 1024))
            while reader.remaining:
                count = reader.read_into(view)
                digest.update(view[:count])
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
