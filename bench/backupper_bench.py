#!/usr/bin/env python3
"""Benchmark of scone-backupper against `aws s3 cp` (awscli) on the same local S3 server.

What it measures, side by side in one run, per S3 server on 127.0.0.1 — versitygw (a real S3
server in Go, posix backend, built by `e2e/build_tools.sh versitygw`) and moto (Python; it spends
more CPU per byte than either client, so on a small machine it sets the pace, not the client):
  * upload throughput of a snapshot (backupper `run`: one read of the tar stream, checked, hashed
    and sent as it streams + per-part and per-object verification + manifest) versus
    `aws s3 cp FILE s3://…` of the same cas.db;
  * restore throughput (backupper `restore`: parallel ranged GETs written into the file + SHA-256
    check of the file + fsync) versus `aws s3 cp s3://… FILE`;
  * peak RSS and client CPU seconds (user + system, children included: the backupper's `tar`) of
    each command as GNU time reports them, CPU scaled to seconds per GiB.

Goals checked and printed: upload and restore >= 1.0x aws s3 cp on the real server, backupper
peak RSS <= 100 MiB for every size. awscli is installed into its own virtualenv (.venv-bench at
the repository root, created here on first use) so its exact botocore pin can never clash with
the backupper's. The snapshot is random data (written once per size, deleted at the end);
restored copies are deleted right after each measurement, and the bucket is emptied between
tools so a server holds at most one large object at a time.

Usage: .venv/bin/python bench/backupper_bench.py [--sizes-mib 100,1024] [--repeat 3] [--skip-aws]
       [--servers versitygw,moto] [--concurrency N] [--part-size-mib N]
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
import urllib.error
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
VERSITYGW = Path(os.environ.get("SCONE_E2E_CACHE", str(Path.home() / ".cache/scone-stack/e2e"))) / "bin/versitygw"
RSS_GOAL_MIB = 100
BUCKET = "bench-cas-backups"
LOADS: list[float] = []  # the machine's load average at the start of every timed command
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
    cpu_s_per_gib: float
    server: str = ""
    load: float = 0.0  # 1-minute load average of the machine when the command started


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


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Run argv under GNU time; return (wall seconds, peak RSS MiB of that process alone, CPU
    seconds of it and its waited-for children).

    Not ``ru_maxrss`` from our own ``wait4``: Linux folds the parent's high-water mark into a
    child's ``ru_maxrss`` at fork+exec, so every tool would look at least as big as this script.
    GNU time forks a fresh, small child and reports that child's peak.
    """
    if not Path(GNU_TIME).exists():
        raise SystemExit(f"{GNU_TIME} is missing: install Debian's 'time' package (apt-get install time)")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        LOADS.append(os.getloadavg()[0])
        start = time.perf_counter()
        proc = subprocess.run([GNU_TIME, "-f", "%M %U %S", "-o", rss.name, *argv], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{argv[:4]} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
        peak_kib, user, system = Path(rss.name).read_text().split()[-3:]
    return elapsed, int(peak_kib) / 1024, float(user) + float(system), proc.stderr.decode()


def make_snapshot(directory: Path, size: int) -> None:
    """Random bytes on disk (no sparse file: zeros would flatter every hash and copy)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "cas.db", "wb") as handle:
        for offset in range(0, size, 8 * MIB):
            handle.write(os.urandom(min(8 * MIB, size - offset)))
    (directory / "cas.key-store").write_bytes(os.urandom(4096))


def empty_bucket(client: Any) -> None:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    for page in pages:
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])


def _wait_http(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(1200):
        try:
            urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 - loopback
            return
        except urllib.error.HTTPError:
            return  # it answers (an S3 server refuses an unsigned request)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{what} did not start")


def start_server(name: str, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A moto or versitygw S3 server on a free loopback port, ready to answer."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if name == "moto":
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    else:
        if not VERSITYGW.exists():
            raise SystemExit(f"{VERSITYGW} is missing: run e2e/build_tools.sh versitygw")
        data = work / "versitygw-data"
        data.mkdir()
        argv = [str(VERSITYGW), "--access", FAKE_SECRET, "--secret", FAKE_SECRET,
                "--port", f"127.0.0.1:{port}", "posix", str(data)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_http(url + ("/moto-api/" if name == "moto" else "/"), proc, name)
    return proc, url


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
    gib = total_mib / 1024
    secs, rss, cpu, _ = timed([*backupper, "run"], run_env)
    results = [Measurement("backupper", "upload", size_mib, secs, total_mib / secs, rss, cpu / gib,
                               load=LOADS[-1])]
    target = work / "restored"
    secs, rss, cpu, _ = timed([*backupper, "restore", "--set", "latest", "--target", str(target)], run_env)
    results.append(Measurement("backupper", "restore", size_mib, secs, total_mib / secs, rss, cpu / gib,
                               load=LOADS[-1]))
    shutil.rmtree(target)
    return results


def bench_awscli(
    aws: Path, work: Path, snap: Path, size_mib: int, *, url: str, env: dict[str, str]
) -> list[Measurement]:
    """`aws s3 cp` up and down of the same cas.db."""
    dest = f"s3://{BUCKET}/awscli/cas.db"
    common = ["--endpoint-url", url, "--only-show-errors"]
    gib = size_mib / 1024
    secs, rss, cpu, _ = timed([str(aws), "s3", "cp", str(snap / "cas.db"), dest, *common], env)
    results = [Measurement("aws s3 cp", "upload", size_mib, secs, size_mib / secs, rss, cpu / gib,
                               load=LOADS[-1])]
    out = work / "aws-restored.db"
    secs, rss, cpu, _ = timed([str(aws), "s3", "cp", dest, str(out), *common], env)
    results.append(Measurement("aws s3 cp", "restore", size_mib, secs, size_mib / secs, rss, cpu / gib,
                               load=LOADS[-1]))
    out.unlink()
    return results


def median_per_operation(rounds: list[Measurement]) -> list[Measurement]:
    """One Measurement per (server, tool, operation, size): median time, throughput and CPU,
    highest peak RSS."""
    grouped: dict[tuple[str, str, str, int], list[Measurement]] = {}
    for m in rounds:
        grouped.setdefault((m.server, m.tool, m.operation, m.size_mib), []).append(m)
    merged = []
    for (server, tool, operation, size_mib), items in grouped.items():
        merged.append(
            Measurement(
                tool,
                operation,
                size_mib,
                statistics.median(m.seconds for m in items),
                statistics.median(m.mib_per_s for m in items),
                max(m.peak_rss_mib for m in items),
                statistics.median(m.cpu_s_per_gib for m in items),
                server,
                statistics.median(m.load for m in items),
            )
        )
    return merged


def report(results: list[Measurement], sizes: list[int], servers: list[str]) -> dict[str, Any]:
    """Print the table, the ratios and the goals; return them for the JSON file."""
    print()
    print(f"{'server':<10} {'tool':<11} {'op':<8} {'MiB':>6} {'seconds':>8} {'MiB/s':>8} "
          f"{'peak RSS MiB':>13} {'CPU s/GiB':>10} {'load':>5}")
    for m in results:
        print(
            f"{m.server:<10} {m.tool:<11} {m.operation:<8} {m.size_mib:>6} {m.seconds:>8.2f} "
            f"{m.mib_per_s:>8.1f} {m.peak_rss_mib:>13.1f} {m.cpu_s_per_gib:>10.2f} {m.load:>5.1f}"
        )
    print()
    by = {(m.server, m.tool, m.operation, m.size_mib): m for m in results}
    ratios: dict[str, float] = {}
    goals: dict[str, bool] = {}
    for server in servers:
        for size_mib in sizes:
            for op in ("upload", "restore"):
                ours = by.get((server, "backupper", op, size_mib))
                theirs = by.get((server, "aws s3 cp", op, size_mib))
                if ours is None:
                    continue
                if server == "versitygw":
                    goals[f"{op}_{size_mib}MiB_peak_rss_le_{RSS_GOAL_MIB}MiB"] = (
                        ours.peak_rss_mib <= RSS_GOAL_MIB
                    )
                if theirs is None:
                    continue
                ratio = ours.mib_per_s / theirs.mib_per_s
                ratios[f"{server}_{op}_{size_mib}MiB_backupper_vs_awscli"] = round(ratio, 3)
                if server == "versitygw":
                    goals[f"{op}_{size_mib}MiB_ge_1.0x_awscli"] = ratio >= 1.0
                print(
                    f"{server:<10} {op:<8} {size_mib:>5} MiB: backupper {ours.mib_per_s:7.1f} MiB/s "
                    f"(CPU {ours.cpu_s_per_gib:5.2f} s/GiB, RSS {ours.peak_rss_mib:5.1f} MiB) vs "
                    f"aws s3 cp {theirs.mib_per_s:7.1f} MiB/s (CPU {theirs.cpu_s_per_gib:5.2f} s/GiB, "
                    f"RSS {theirs.peak_rss_mib:5.1f} MiB) -> ratio {ratio:.2f}x"
                )
    if goals:
        print()
        for goal, met in goals.items():
            print(f"goal {goal}: {'met' if met else 'NOT MET'}")
    return {"results": [asdict(m) for m in results], "ratios": ratios, "goals": goals}


def _shown(measured: list[Measurement], server: str) -> list[Measurement]:
    """Print each measurement as it is taken (a long run shows its progress)."""
    for m in measured:
        print(f"  {server} {m.tool} {m.operation} {m.size_mib} MiB: {m.seconds:.2f} s, "
              f"{m.mib_per_s:.1f} MiB/s, RSS {m.peak_rss_mib:.1f} MiB, CPU {m.cpu_s_per_gib:.2f} s/GiB, "
              f"load {m.load:.1f}", flush=True)
    return measured


def bench_server(server: str, args: argparse.Namespace, sizes: list[int], aws: Path | None,
                 work: Path) -> list[Measurement]:
    """Every size on one server, the tools alternating round by round."""
    proc, url = start_server(server, work)
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
        secret = work / f"secret-{server}"
        write_secret(secret, url)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_", "BACKUP_"))}
        backupper_env = dict(
            env,
            PYTHONPATH=str(ROOT / "backupper"),
            S3_CREDENTIALS_DIR=str(secret),
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
            if not snap.exists():
                make_snapshot(snap, size_mib * MIB)
            # Alternate the tools round by round so that load from other processes on the
            # machine hits both alike; the median of the rounds is reported.
            rounds: list[Measurement] = []
            for _ in range(args.repeat):
                rounds += _shown(bench_backupper(work, snap, size_mib, backupper_env), server)
                empty_bucket(client)  # one large object at a time in the server
                if aws is not None:
                    rounds += _shown(
                        bench_awscli(aws, work, snap, size_mib, url=url, env=aws_env), server
                    )
                    empty_bucket(client)
            for m in rounds:
                m.server = server
            results += median_per_operation(rounds)
    finally:
        proc.terminate()
        proc.wait()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes-mib", default="100,1024")
    parser.add_argument("--servers", default="versitygw,moto", help="versitygw and/or moto")
    parser.add_argument("--skip-aws", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds per size; the median is reported")
    parser.add_argument("--concurrency", type=int, default=None, help="BACKUP_UPLOAD_CONCURRENCY for the backupper")
    parser.add_argument("--part-size-mib", type=int, default=None, help="BACKUP_PART_SIZE_MIB for the backupper")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes_mib.split(",")]
    servers = [s for s in args.servers.split(",") if s]
    unknown = set(servers) - {"versitygw", "moto"}
    if unknown:
        raise SystemExit(f"--servers: unknown {sorted(unknown)}; allowed: versitygw, moto")
    aws = None if args.skip_aws else ensure_awscli()
    work = Path(tempfile.mkdtemp(prefix="backupper-bench-"))
    results: list[Measurement] = []
    try:
        for server in servers:
            results += bench_server(server, args, sizes, aws, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = report(results, sizes, servers)
    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "backupper.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
