"""The `scone-backupper` command line: run, loop, list, verify, restore, drill.

Why one exit code per failure class (see errors.py): a CronJob, the Deployment's restart policy or
an operator at a terminal can react to "bad setting" (2) differently from "S3 down" (6) or
"snapshot incomplete" (5) without parsing logs.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .backup import open_store, run_once
from .download import Downloader
from .drill import run_drill
from .errors import (
    EXIT_INTERNAL,
    EXIT_OK,
    BackupperError,
    ConfigError,
    InterruptedRun,
    RetentionError,
    VerificationError,
)
from .jsonlog import log_event, redact, setup_logging
from .memory import peak_rss_bytes, pin_mmap_threshold
from .metrics import Metrics, start_metrics_server
from .restore import restore_set, verify_set
from .settings import BackupperSettings, add_setting_flags, resolve_settings
from .transfer import MIB

log = logging.getLogger("scone_backupper")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every setting is a flag on every command."""
    common = argparse.ArgumentParser(add_help=False)
    add_setting_flags(common)
    parser = argparse.ArgumentParser(
        prog="scone-backupper",
        description="Ship CAS database snapshots to S3 as verified backup sets, and restore them.",
    )
    parser.add_argument("--version", action="version", version=f"scone-backupper {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", parents=[common], help="One backup run, then exit.")
    sub.add_parser("loop", parents=[common], help="A backup run every --interval seconds.")
    listing = sub.add_parser("list", parents=[common], help="List complete backup sets.")
    listing.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
    listing.add_argument(
        "--all", action="store_true", help="Also show unfinished and damaged prefixes (not sets)."
    )
    verify = sub.add_parser("verify", parents=[common], help="Download a set, check checksums.")
    verify.add_argument("--set", default="latest", help="Set id, 'latest' or 'all'.")
    restore = sub.add_parser(
        "restore", parents=[common], help="Write a set as a --cas-database-recovery directory."
    )
    restore.add_argument("--set", required=True, help="Set id or 'latest'.")
    restore.add_argument("--target", required=True, type=Path, help="Directory to write into.")
    sub.add_parser(
        "drill",
        parents=[common],
        help="Restore the newest set into a temporary directory, check it, remove it.",
    )
    return parser


def _fail(exc: BackupperError, command: str) -> int:
    log_event(
        log,
        logging.ERROR,
        redact(str(exc)),
        command=command,
        kind=exc.kind,
        exit_code=exc.exit_code,
    )
    return exc.exit_code


def _install_stop_handlers(stop: threading.Event) -> None:
    def handler(signum: int, _frame: Any) -> None:
        log_event(log, logging.INFO, "stop requested", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _one_run(settings: BackupperSettings, stop: threading.Event, metrics: Metrics) -> int:
    """One run with metrics and exit code; never raises a BackupperError."""
    start = time.monotonic()
    try:
        outcome = run_once(settings, stop)
    except BackupperError as exc:
        metrics.record_run("failed", time.monotonic() - start, time.time(), failure_kind=exc.kind)
        return _fail(exc, "run")
    except Exception as exc:
        metrics.record_run("failed", time.monotonic() - start, time.time(), failure_kind="internal")
        log.exception("internal error", extra={"fields": {"error": redact(str(exc))}})
        return EXIT_INTERNAL
    duration = time.monotonic() - start
    metrics.record_run(outcome.result, duration, time.time(), size=outcome.size)
    log_event(
        log,
        logging.INFO,
        "run finished",
        result=outcome.result,
        set_id=outcome.set_id,
        size=outcome.size,
        duration_seconds=round(duration, 3),
        peak_rss_bytes=peak_rss_bytes(),
    )
    if outcome.retention_error is not None:
        metrics.record_failure(outcome.retention_error.kind)
        return _fail(outcome.retention_error, "run")
    return EXIT_OK


def _write_textfile(settings: BackupperSettings, metrics: Metrics) -> None:
    if settings.metrics_textfile is not None:
        try:
            metrics.write_textfile(settings.metrics_textfile)
        except OSError as exc:
            log_event(
                log,
                logging.WARNING,
                "cannot write metrics textfile",
                path=str(settings.metrics_textfile),
                error=str(exc),
            )


def cmd_run(settings: BackupperSettings, stop: threading.Event) -> int:
    """`run`: one backup run."""
    metrics = Metrics()
    code = _one_run(settings, stop, metrics)
    _write_textfile(settings, metrics)
    return code


def cmd_loop(settings: BackupperSettings, stop: threading.Event) -> int:
    """`loop`: run now, then every interval; after a failure retry sooner, with backoff."""
    metrics = Metrics()
    if settings.metrics_port:
        try:
            server = start_metrics_server(metrics, settings.metrics_address, settings.metrics_port)
        except OSError as exc:
            raise ConfigError(
                f"--metrics-port / METRICS_PORT {settings.metrics_port} on "
                f"{settings.metrics_address}: cannot listen ({exc.strerror or exc}); choose a "
                "free port or 0 to disable the endpoint"
            ) from None
        log_event(
            log,
            logging.INFO,
            "metrics endpoint listening",
            address=settings.metrics_address,
            port=server.server_address[1],
        )
    _write_textfile(settings, metrics)
    failures = 0
    while not stop.is_set():
        code = _one_run(settings, stop, metrics)
        _write_textfile(settings, metrics)
        if stop.is_set():
            break
        if code in (EXIT_OK, RetentionError.exit_code):
            failures = 0
            delay = float(settings.interval_seconds)
        else:
            failures += 1
            delay = float(
                min(settings.interval_seconds, settings.failure_retry_seconds * 2 ** (failures - 1))
            )
        log_event(log, logging.INFO, "next run scheduled", in_seconds=delay)
        stop.wait(delay)
    log_event(log, logging.INFO, "loop stopped")
    return EXIT_OK


def cmd_list(settings: BackupperSettings, stop: threading.Event, args: argparse.Namespace) -> int:
    """`list`: complete sets, newest first."""
    ctx = open_store(settings, stop)
    listing = ctx.store.list_sets(settings.cas_name)
    rows: list[dict[str, Any]] = [
        {
            "set_id": m.set_id,
            "created_at": m.created_at.isoformat(),
            "size": m.total_size,
            "cas_version": m.cas_version,
            "encrypted": m.encryption is not None,
            "status": "complete",
        }
        for m in listing.complete
    ]
    if args.all:
        rows += [
            {"set_id": s, "status": "unfinished (no manifest; not a backup)"}
            for s in listing.incomplete
        ]
        rows += [{"set_id": s, "status": f"damaged: {why}"} for s, why in listing.damaged.items()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'SET':<26} {'CREATED (UTC)':<26} {'BYTES':>14}  STATUS")
        for row in rows:
            print(
                f"{row['set_id']:<26} {row.get('created_at', '-')[:26]:<26} "
                f"{row.get('size', '-')!s:>14}  {row['status']}"
            )
    return EXIT_OK


def _downloader(settings: BackupperSettings, ctx: Any) -> Downloader:
    return Downloader(
        ctx.client,
        ctx.store.bucket,
        ctx.retrier,
        settings.part_size_mib * MIB,
        settings.concurrency,
    )


def cmd_verify(settings: BackupperSettings, stop: threading.Event, args: argparse.Namespace) -> int:
    """`verify`: download set(s) and check every checksum."""
    ctx = open_store(settings, stop)
    damaged: dict[str, str] = {}
    if args.set == "all":
        listing = ctx.store.list_sets(settings.cas_name)
        manifests, damaged = listing.complete, listing.damaged
    else:
        manifests = [ctx.store.find_set(settings.cas_name, args.set)]
    for manifest in manifests:
        size = verify_set(_downloader(settings, ctx), manifest, ctx.credentials)
        log_event(log, logging.INFO, "set verified", set_id=manifest.set_id, size=size)
        print(f"{manifest.set_id} OK ({size} bytes)")
    for set_id, reason in sorted(damaged.items()):
        print(f"{set_id} DAMAGED: {reason}")
    if damaged:
        # Complete sets are fine, but a set that once committed is now broken: say so loudly.
        raise VerificationError(
            f"{len(damaged)} damaged set(s): {', '.join(sorted(damaged))} "
            "(their manifest exists but objects are missing or have the wrong size)"
        )
    return EXIT_OK


def cmd_restore(
    settings: BackupperSettings, stop: threading.Event, args: argparse.Namespace
) -> int:
    """`restore`: write cas.db and cas.key-store into --target."""
    ctx = open_store(settings, stop)
    manifest = ctx.store.find_set(settings.cas_name, args.set)
    written = restore_set(_downloader(settings, ctx), manifest, ctx.credentials, args.target)
    log_event(
        log,
        logging.INFO,
        "set restored",
        set_id=manifest.set_id,
        target=str(args.target),
        files=[p.name for p in written],
        peak_rss_bytes=peak_rss_bytes(),
    )
    print(f"restored {manifest.set_id} into {args.target}: " + ", ".join(p.name for p in written))
    print(f"next: kubectl provision cas <new-name> --cas-database-recovery {args.target} ...")
    return EXIT_OK


def cmd_drill(settings: BackupperSettings, stop: threading.Event) -> int:
    """`drill`: a restore of the newest set that is checked and then thrown away (drill.py)."""
    try:
        report = run_drill(settings, stop)
    except BackupperError as exc:
        print(f"restore drill FAILED: {redact(str(exc))}")
        raise
    log_event(
        log,
        logging.INFO,
        "drill passed",
        set_id=report.set_id,
        size=report.size,
        files=list(report.files),
        duration_seconds=round(report.duration_seconds, 3),
        peak_rss_bytes=peak_rss_bytes(),
    )
    print(
        f"restore drill OK: set {report.set_id} ({report.size} bytes) restored and checked as a "
        f"--cas-database-recovery directory ({', '.join(report.files)}); the copy is removed"
    )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `scone-backupper` console script."""
    pin_mmap_threshold()
    parser = build_parser()
    args = parser.parse_args(argv)
    flags = {k: v for k, v in vars(args).items() if isinstance(v, str) or v is None}
    setup_logging("info")
    stop = threading.Event()
    try:
        settings = resolve_settings(flags)
        setup_logging(settings.log_level)
        _install_stop_handlers(stop)
        commands: dict[str, Callable[[], int]] = {
            "run": lambda: cmd_run(settings, stop),
            "loop": lambda: cmd_loop(settings, stop),
            "list": lambda: cmd_list(settings, stop, args),
            "verify": lambda: cmd_verify(settings, stop, args),
            "restore": lambda: cmd_restore(settings, stop, args),
            "drill": lambda: cmd_drill(settings, stop),
        }
        return commands[args.command]()
    except BackupperError as exc:
        return _fail(exc, args.command)
    except KeyboardInterrupt:
        return _fail(InterruptedRun("interrupted"), args.command)
    except Exception as exc:
        log.exception("internal error", extra={"fields": {"error": redact(str(exc))}})
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
