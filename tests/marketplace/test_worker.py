"""``marketplace worker`` as real processes: two at once run each scheduled job once per time
slot, and the demo's worker runs the anomaly scan without anyone pressing the button."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from marketplace.db import make_engine
from marketplace.worker import ScheduleRun

CLI = [sys.executable, "-c", "from marketplace.cli import main; main()"]
SCHEDULED = {"billing_run", "anomaly_scan", "audit_checkpoint"}  # and what others register


def _environment(database_url: str, folder: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MARKETPLACE_") and key != "DATABASE_URL"
    }
    env.update(
        MARKETPLACE_DATABASE_URL=database_url,
        MARKETPLACE_SEARCH_INDEX_DIR=str(folder / "index"),
        MARKETPLACE_UPLOAD_FOLDER=str(folder / "uploads"),
        MARKETPLACE_AUDIT_CHECKPOINT_DIR=str(folder / "checkpoints"),
    )
    return env


@pytest.fixture
def clean_schedule(database_url: str) -> Iterator[sa.Engine]:
    """The worker processes commit their runs; the test's database is left as it was."""
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.delete(ScheduleRun))
    yield engine
    with engine.begin() as connection:
        connection.execute(sa.delete(ScheduleRun))
    engine.dispose()


@pytest.mark.slow
def test_two_workers_at_once_run_each_scheduled_job_once_per_slot(
    database_url: str, clean_schedule: sa.Engine, tmp_path: Path
) -> None:
    env = _environment(database_url, tmp_path)
    workers = [
        subprocess.Popen(
            [*CLI, "worker", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, out + err
    with clean_schedule.connect() as connection:
        runs = connection.execute(
            sa.select(ScheduleRun.name, ScheduleRun.worker, ScheduleRun.ok)
        ).all()
    per_job = Counter(name for name, _worker, _ok in runs)
    assert set(per_job) >= SCHEDULED
    assert set(per_job.values()) == {1}, runs
    assert all(ok for name, _worker, ok in runs if name in SCHEDULED), runs
    # Each run is reported by the one process that won its slot, never by both.
    reported = Counter(
        line.split(":")[0]
        for out, _err in outputs
        for line in out.splitlines()
        if line.split(":")[0] in per_job
    )
    assert reported == per_job


@pytest.mark.slow
def test_the_demos_worker_runs_the_anomaly_scan_on_its_own(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    env = _environment(url, tmp_path)
    demo = subprocess.run(
        [*CLI, "demo", "--no-serve"], env=env, capture_output=True, text=True, timeout=600
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    engine = make_engine(url)
    # As if no officer had ever pressed the scan button on the demo's programs.
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM voucher_anomalies")
    worker = subprocess.run(
        [*CLI, "worker", "--once"], env=env, capture_output=True, text=True, timeout=300
    )
    assert worker.returncode == 0, worker.stdout + worker.stderr
    with engine.connect() as connection:
        found = connection.exec_driver_sql("SELECT count(*) FROM voucher_anomalies").scalar()
        run = connection.execute(
            sa.select(ScheduleRun.ok, ScheduleRun.result).where(ScheduleRun.name == "anomaly_scan")
        ).one()
    engine.dispose()
    assert found >= 1
    assert run.ok
    assert f"{found} new case(s)" in run.result
