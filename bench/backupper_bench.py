#!/usr/bin/env python3
"""Benchmark of scone-backupper against `aws s3 cp` (awscli) on the same local S3 server.

What it measures, side by side in one run, against one moto server on 127.0.0.1:
  * upload throughput of a snapshot (backupper `run`: check read + streaming upload + per-part and
    per-object verification + manifest) versus `aws s3 cp FILE s3://…` of the same cas.db;
  * restore throughput (backupper `restore`: ranged parallel download + SHA-256 check + fsync)
    versus `aws s3 cp s3://… FILE`;
  * the backupper's peak RSS (as GNU time reports it for that process alone) for each snapshot
    size, to show that memory does not grow with the snapshot (ratio of peaks printed).

awscli is installed into its own virtualenv (.venv-bench at the repository root, created here on
first use) so its exact botocore pin can never clash with the backupper's. The snapshot is a
sparse file in a temporary directory (no disk used for the source); restored copies are deleted
right after each measurement, and the bucket is emptied between tools so moto holds at most one
large object at a time.

Usage: .venv/bin/python bench/backupper_bench.py [--sizes-mib 100,1024] [--repeat 3] [--skip-aws]
       [--concurrency N] [--part-size-mib N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
BENCH_VENV = ROOT / ".venv-bench"
AWSCLI_PIN = "awscli==1.45.11"
MIB = 1024 * 1024
GNU_TIME = "/usr/bin/time"
BUCKET = "bench-cas-backups"
FAKE_SECRET = "bench"  # noqa: S105 - moto accepts any credentials; nothing real here


@dataclass
class Measurement:
    """One timed command."""

    tool: str
    operation: str
    size_mib: int
    seconds: float
    mib_per_s: float
    peak_rss_mib: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_awscli() -> Path:
    """The `aws` executable of the bench venv, creating the venv with pinned awscli if needed."""
    aws = BENCH_VENV / "bin" / "aws"
    if not aws.exists():
        print(f"creating {BENCH_VENV} with {AWSCLI_PIN} …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run([str(BENCH_VENV / "bin" / "pip"), "install", "-q", AWSCLI_PIN], check=True)
    return aws


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run argv under GNU time; return (wall seconds, peak RSS MiB of that process alone).

    Not ``ru_maxrss`` from our own ``wait4``: Linux folds the parent's high-water mark into a
    child's ``ru_maxrss`` at fork+exec, so every tool would look at least as big as this script.
    GNU time forks a fresh, small child and reports that child's peak.
    """
    if not Path(GNU_TIME).exists():
        raise SystemExit(f"{GNU_TIME} is missing: install Debian's 'time' package (apt-get install time)")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.perf_counter()
        proc = subprocess.run([GNU_TIME, "-f", "%M", "-o", rss.name, *argv], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{argv[:4]} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
        peak_kib = int(Path(rss.name).read_text().split()[-1])
    return elapsed, peak_kib / 1024


def make_snapshot(directory: Path, size: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "cas.db", "wb") as handle:
        handle.write(os.urandom(MIB))
        handle.truncate(size)
    (directory / "cas.key-store").write_bytes(os.urandom(4096))


def empty_bucket(client: Any) -> None:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    for page in pages:
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    """A moto S3 server on a free loopback port, ready to answer."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(400):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()  # noqa: S310 - loopback
            return moto, url
        except OSError:
            time.sleep(0.05)
    moto.kill()
    raise SystemExit("moto server did not start")


def write_secret(directory: Path, url: str) -> None:
    """The backupper's S3 Secret directory, pointing at the bench server."""
    directory.mkdir()
    values = {
        "AWS_ACCESS_KEY_ID": FAKE_SECRET,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
        "BUCKET_NAME": BUCKET,
        "S3_ENDPOINT": url,
    }
    for key, value in values.items():
        (directory / key).write_text(value)


def bench_backupper(work: Path, snap: Path, size_mib: int, env: dict[str, str]) -> list[Measurement]:
    """`run` (upload) then `restore` of the same snapshot."""
    backupper = [sys.executable, "-m", "scone_backupper"]
    total_mib = (size_mib * MIB + 4096) / MIB
    run_env = dict(env, SNAPSHOT_DIR=str(snap))
    secs, rss = timed([*backupper, "run"], run_env)
    results = [Measurement("backupper", "upload", size_mib, secs, total_mib / secs, rss)]
    target = work / "restored"
    secs, rss = timed([*backupper, "restore", "--set", "latest", "--target", str(target)], run_env)
    results.append(Measurement("backupper", "restore", size_mib, secs, total_mib / secs, rss))
    shutil.rmtree(target)
    return results


def bench_awscli(
    aws: Path, work: Path, snap: Path, size_mib: int, *, url: str, env: dict[str, str]
) -> list[Measurement]:
    """`aws s3 cp` up and down of the same cas.db."""
    dest = f"s3://{BUCKET}/awscli/cas.db"
    common = ["--endpoint-url", url, "--only-show-errors"]
    secs, rss = timed([str(aws), "s3", "cp", str(snap / "cas.db"), dest, *common], env)
    results = [Measurement("aws s3 cp", "upload", size_mib, secs, size_mib / secs, rss)]
    out = work / "aws-restored.db"
    secs, rss = timed([str(aws), "s3", "cp", dest, str(out), *common], env)
    results.append(Measurement("aws s3 cp", "restore", size_mib, secs, size_mib / secs, rss))
    out.unlink()
    return results


def median_per_operation(rounds: list[Measurement]) -> list[Measurement]:
    """One Measurement per (tool, operation): median time and throughput, highest peak RSS."""
    grouped: dict[tuple[str, str, int], list[Measurement]] = {}
    for m in rounds:
        grouped.setdefault((m.tool, m.operation, m.size_mib), []).append(m)
    merged = []
    for (tool, operation, size_mib), items in grouped.items():
        merged.append(
            Measurement(
                tool,
                operation,
                size_mib,
                statistics.median(m.seconds for m in items),
                statistics.median(m.mib_per_s for m in items),
                max(m.peak_rss_mib for m in items),
            )
        )
    return merged


def report(results: list[Measurement], sizes: list[int]) -> dict[str, Any]:
    """Print the table and the ratios; return them for the JSON file."""
    print()
    print(f"{'tool':<11} {'op':<8} {'MiB':>6} {'seconds':>8} {'MiB/s':>8} {'peak RSS MiB':>13}")
    for m in results:
        print(
            f"{m.tool:<11} {m.operation:<8} {m.size_mib:>6} {m.seconds:>8.2f} "
            f"{m.mib_per_s:>8.1f} {m.peak_rss_mib:>13.1f}"
        )
    print()
    by = {(m.tool, m.operation, m.size_mib): m for m in results}
    ratios: dict[str, float] = {}
    for size_mib in sizes:
        for op in ("upload", "restore"):
            ours, theirs = by.get(("backupper", op, size_mib)), by.get(("aws s3 cp", op, size_mib))
            if ours and theirs:
                ratio = ours.mib_per_s / theirs.mib_per_s
                ratios[f"{op}_{size_mib}MiB_backupper_vs_awscli"] = round(ratio, 3)
                print(
                    f"{op:<8} {size_mib:>5} MiB: backupper {ours.mib_per_s:7.1f} MiB/s vs "
                    f"aws s3 cp {theirs.mib_per_s:7.1f} MiB/s  -> ratio {ratio:.2f}x"
                )
    for op in ("upload", "restore"):
        ours_runs = sorted(
            (m for m in results if m.tool == "backupper" and m.operation == op),
            key=lambda m: m.size_mib,
        )
        if len(ours_runs) >= 2:
            small, large = ours_runs[0], ours_runs[-1]
            growth = large.peak_rss_mib / small.peak_rss_mib
            ratios[f"backupper_{op}_peak_rss_growth"] = round(growth, 3)
            print(
                f"backupper {op} peak RSS: {small.size_mib} MiB snapshot "
                f"{small.peak_rss_mib:.1f} MiB, {large.size_mib} MiB snapshot "
                f"{large.peak_rss_mib:.1f} MiB -> ratio {growth:.2f}x for "
                f"{large.size_mib / small.size_mib:.1f}x the data"
            )
    return {"results": [asdict(m) for m in results], "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes-mib", default="100,1024")
    parser.add_argument("--skip-aws", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds per size; the median is reported")
    parser.add_argument("--concurrency", type=int, default=None, help="BACKUP_UPLOAD_CONCURRENCY for the backupper")
    parser.add_argument("--part-size-mib", type=int, default=None, help="BACKUP_PART_SIZE_MIB for the backupper")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes_mib.split(",")]
    aws = None if args.skip_aws else ensure_awscli()
    moto, url = start_moto()
    work = Path(tempfile.mkdtemp(prefix="backupper-bench-"))
    results: list[Measurement] = []
    try:
        client = boto3.client(
            "s3",
            endpoint_url=url,
            aws_access_key_id=FAKE_SECRET,
            aws_secret_access_key=FAKE_SECRET,
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=BUCKET)
        write_secret(work / "secret", url)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_", "BACKUP_"))}
        backupper_env = dict(
            env,
            PYTHONPATH=str(ROOT / "backupper"),
            S3_CREDENTIALS_DIR=str(work / "secret"),
            SNAPSHOT_SOURCE_COMMAND="tar cf - -C {snapshot_dir} .",
            METRICS_PORT="0",
        )
        if args.concurrency:
            backupper_env["BACKUP_UPLOAD_CONCURRENCY"] = str(args.concurrency)
        if args.part_size_mib:
            backupper_env["BACKUP_PART_SIZE_MIB"] = str(args.part_size_mib)
        aws_env = dict(
            env,
            AWS_ACCESS_KEY_ID=FAKE_SECRET,
            AWS_SECRET_ACCESS_KEY=FAKE_SECRET,
            AWS_DEFAULT_REGION="us-east-1",
        )
        for size_mib in sizes:
            snap = work / f"snap-{size_mib}"
            make_snapshot(snap, size_mib * MIB)
            # Alternate the tools round by round so that load from other processes on the
            # machine hits both alike; the median of the rounds is reported.
            rounds: list[Measurement] = []
            for _ in range(args.repeat):
                rounds += bench_backupper(work, snap, size_mib, backupper_env)
                empty_bucket(client)  # moto keeps objects in RAM: one large object at a time
                if aws is not None:
                    rounds += bench_awscli(aws, work, snap, size_mib, url=url, env=aws_env)
                    empty_bucket(client)
            results += median_per_operation(rounds)
            shutil.rmtree(snap)
    finally:
        moto.terminate()
        moto.wait()
        shutil.rmtree(work, ignore_errors=True)
    summary = report(results, sizes)
    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "backupper.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
