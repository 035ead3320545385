"""Prometheus metrics (endpoint and textfile), the loop's schedule and its clean stop."""

from __future__ import annotations

import os
import re
import signal
import urllib.request

from backupper_harness import Harness, free_port, log_lines, wait_until

from scone_backupper.metrics import Metrics

NAMES = (
    "scone_backupper_last_success_timestamp_seconds",
    "scone_backupper_last_backup_size_bytes",
    "scone_backupper_last_run_duration_seconds",
    "scone_backupper_failures_total",
    "scone_backupper_runs_total",
)


def _value(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    assert match, f"{name} missing in\n{text}"
    return float(match.group(1))


def _scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            return str(resp.read().decode())
    except OSError:
        return ""


def test_metric_names_and_labels_are_the_documented_ones() -> None:
    metrics = Metrics()
    metrics.record_run("uploaded", 1.5, 1700000000.0, size=42)
    metrics.record_run("failed", 0.5, 1700000100.0, failure_kind="store")
    text = metrics.render()
    for name in NAMES:
        assert f"# TYPE {name} " in text
    assert _value(text, "scone_backupper_last_success_timestamp_seconds") == 1700000000.0
    assert _value(text, "scone_backupper_last_backup_size_bytes") == 42
    assert _value(text, "scone_backupper_last_run_duration_seconds") == 0.5
    assert _value(text, 'scone_backupper_failures_total{kind="store"}') == 1
    for result in ("uploaded", "skipped", "failed"):
        assert f'scone_backupper_runs_total{{result="{result}"}}' in text


def test_run_writes_the_metrics_textfile(harness: Harness) -> None:
    db = os.urandom(5000)
    harness.write_snapshot(db, b"ks")
    textfile = harness.root / "textfile" / "backupper.prom"

    result = harness.run("run", env={"METRICS_TEXTFILE": str(textfile)})

    assert result.returncode == 0, result.stderr
    text = textfile.read_text()
    assert _value(text, "scone_backupper_last_backup_size_bytes") == len(db) + 2
    assert _value(text, 'scone_backupper_runs_total{result="uploaded"}') == 1
    assert _value(text, "scone_backupper_last_success_timestamp_seconds") > 0


def test_failed_run_counts_the_failure_by_kind_in_the_textfile(harness: Harness) -> None:
    harness.snapshot_dir.mkdir(parents=True)
    (harness.snapshot_dir / "cas.db").write_bytes(b"only the db")
    textfile = harness.root / "m.prom"

    result = harness.run("run", env={"METRICS_TEXTFILE": str(textfile)})

    assert result.returncode == 5
    text = textfile.read_text()
    assert _value(text, 'scone_backupper_failures_total{kind="snapshot_incomplete"}') == 1
    assert _value(text, 'scone_backupper_runs_total{result="failed"}') == 1
    assert _value(text, "scone_backupper_last_success_timestamp_seconds") == 0


def test_loop_serves_metrics_runs_on_schedule_and_stops_cleanly_on_sigterm(
    harness: Harness,
) -> None:
    harness.write_snapshot(os.urandom(3000), b"ks")
    port = free_port()
    proc = harness.popen(
        "loop",
        env={
            "METRICS_PORT": str(port),
            "METRICS_ADDRESS": "127.0.0.1",
            "BACKUP_INTERVAL_SECONDS": "1",
        },
    )
    try:
        text = wait_until(
            lambda: (
                (t := _scrape(port))
                and _value(t, 'scone_backupper_runs_total{result="skipped"}') >= 2
                and t
            ),
            "two skipped runs after the first upload",
        )
        assert _value(text, 'scone_backupper_runs_total{result="uploaded"}') == 1
        assert _value(text, "scone_backupper_last_success_timestamp_seconds") > 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            assert resp.read() == b"ok\n"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0
    messages = [r["msg"] for r in log_lines(stderr)]
    assert "stop requested" in messages and messages[-1] == "loop stopped"
    assert len(harness.manifests()) == 1


def test_loop_retries_a_failed_run_sooner_than_the_interval(harness: Harness) -> None:
    harness.snapshot_dir.mkdir(parents=True)
    (harness.snapshot_dir / "cas.db").write_bytes(b"db")  # incomplete at first
    port = free_port()
    proc = harness.popen(
        "loop",
        env={
            "METRICS_PORT": str(port),
            "METRICS_ADDRESS": "127.0.0.1",
            "BACKUP_INTERVAL_SECONDS": "3600",
            "BACKUP_FAILURE_RETRY_SECONDS": "1",
        },
    )
    try:
        wait_until(
            lambda: (
                (t := _scrape(port))
                and _value(t, 'scone_backupper_failures_total{kind="snapshot_incomplete"}') >= 1
            ),
            "a failed run",
        )
        (harness.snapshot_dir / "cas.key-store").write_bytes(b"ks")  # CAS completes it
        wait_until(lambda: len(harness.manifests()) == 1, "the retried run's set")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_metrics_port_in_use_is_a_config_error_naming_the_setting(harness: Harness) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = harness.run(
            "loop", env={"METRICS_PORT": str(port), "METRICS_ADDRESS": "127.0.0.1"}
        )
    assert result.returncode == 2
    assert "METRICS_PORT" in result.stderr and "Traceback" not in result.stderr
