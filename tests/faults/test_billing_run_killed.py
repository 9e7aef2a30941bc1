"""A billing run killed with SIGKILL midway, then started again, issues exactly the invoices
of a run that was never interrupted.

Two identical databases are seeded with CONTRACTS contracts due (half usage, half
subscription; bench/billing_run.py's seed), so the run commits several batches of
billing.run.BATCH_SIZE. ``marketplace billing run`` is started on both as a subprocess; on
the first it is SIGKILLed once some invoices are committed, then started again to the end.

What "exactly the same" means here: the same invoices (contract, reason, period, status,
amounts, card-retry state) with the same lines, the same ledger balances per account and
organization, the same audit chain length (and the chain verifies), no invoice twice for a
contract, period and reason, and the *same numbers*. Invoice numbers come from a counter row
updated inside each batch's transaction, so the batch the kill interrupted gives its
numbers back on rollback: the sequence has no gaps (a tax authority expects consecutive
numbers), and because batches are taken in contract order the same contract gets the same
number in both runs.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench.billing_run import seed
from billing import run as billing_run
from billing.ledger_models import LedgerEntry
from billing.models import Invoice, InvoiceLine
from marketplace import audit, create_app
from marketplace.db import make_engine
from tests.conftest import POSTGRES_URL
from tests.faults.conftest import migrated, postgres_databases, run_cli, start_cli

CONTRACTS = 2 * billing_run.BATCH_SIZE + 500  # three batches: room to kill between commits

pytestmark = pytest.mark.slow


def seed_database(url: str, workdir: Path) -> datetime:
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "faults",
            "TESTING": True,
            "SEARCH_INDEX_DIR": str(workdir / "index"),
        }
    )
    app.extensions["catalog.search"].create()
    now = seed(app, CONTRACTS)
    app.extensions["marketplace.db"].engine.dispose()
    return now


def invoice_count(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(sa.select(sa.func.count()).select_from(Invoice))
    finally:
        engine.dispose()


def run_killed_midway(url: str, workdir: Path, as_of: str) -> int:
    """Start the run, SIGKILL it once invoices exist; returns how many were committed."""
    process = start_cli(url, workdir, "billing", "run", "--as-of", as_of)
    # A plain engine: the app's SQLite engine begins IMMEDIATE, which would queue this
    # poll behind the run's write lock (WAL lets a plain reader look at any time).
    engine = sa.create_engine(url)
    try:
        deadline = time.monotonic() + 120
        while True:
            with engine.connect() as connection:
                found = connection.scalar(sa.select(sa.func.count()).select_from(Invoice))
            if found:
                break
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "no invoice within 120 s"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        process.stdout.close()
        process.stderr.close()
    finally:
        engine.dispose()
    assert process.returncode == -signal.SIGKILL
    return invoice_count(url)


def state(url: str) -> dict[str, Any]:
    """Everything the run produces, keyed by contract rather than by row id."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            invoices = connection.execute(
                sa.select(
                    Invoice.id,
                    Invoice.contract_id,
                    Invoice.reason,
                    Invoice.period_start,
                    Invoice.period_end,
                    Invoice.number,
                    Invoice.status,
                    Invoice.subtotal_fen,
                    Invoice.tax_fen,
                    Invoice.total_fen,
                    Invoice.voucher_fen,
                    Invoice.attempt_count,
                    Invoice.next_attempt_at,
                )
            ).all()
            lines = connection.execute(
                sa.select(
                    InvoiceLine.invoice_id,
                    InvoiceLine.position,
                    InvoiceLine.kind,
                    InvoiceLine.description,
                    InvoiceLine.quantity,
                    InvoiceLine.unit_fen,
                    InvoiceLine.amount_fen,
                    InvoiceLine.tax_fen,
                )
            ).all()
            balances = connection.execute(
                sa.select(
                    LedgerEntry.account,
                    LedgerEntry.organization_id,
                    sa.func.sum(LedgerEntry.amount_fen),
                ).group_by(LedgerEntry.account, LedgerEntry.organization_id)
            ).all()
            entries = connection.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))
            audit_rows = connection.scalar(sa.select(sa.func.count()).select_from(audit.AuditEvent))
    finally:
        engine.dispose()
    by_id = {row.id: row for row in invoices}
    lines_of: dict[int, list[tuple]] = {}
    for line in sorted(lines):
        lines_of.setdefault(line.invoice_id, []).append(tuple(line)[1:])
    return {
        "keys": Counter((i.contract_id, i.reason, i.period_start) for i in invoices),
        "invoices": sorted(
            (
                i.contract_id,
                i.reason,
                i.period_start,
                i.period_end,
                i.number,
                i.status,
                i.subtotal_fen,
                i.tax_fen,
                i.total_fen,
                i.voucher_fen,
                i.attempt_count,
                i.next_attempt_at,
                tuple(lines_of.get(i.id, [])),
            )
            for i in by_id.values()
        ),
        "numbers": sorted(i.number for i in invoices),
        "balances": sorted(balances, key=lambda r: (r[0], r[1] or 0)),
        "ledger_entries": entries,
        "audit_rows": audit_rows,
    }


def audit_verifies(url: str) -> bool:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return audit.verify(session).ok
    finally:
        engine.dispose()


def compare_runs(interrupted: str, uninterrupted: str, workdir: Path, as_of: str) -> None:
    # The uninterrupted run goes on meanwhile, on its own database.
    reference = start_cli(uninterrupted, workdir / "b", "billing", "run", "--as-of", as_of)
    try:
        committed = run_killed_midway(interrupted, workdir / "a", as_of)
        run_cli(interrupted, workdir / "a", "billing", "run", "--as-of", as_of)
        _out, err = reference.communicate(timeout=120)
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.communicate()
    assert reference.returncode == 0, err.decode()[-3000:]

    expected = state(uninterrupted)
    assert len(expected["invoices"]) == CONTRACTS  # one usage or renewal invoice each
    assert 0 < committed < CONTRACTS, "the kill must land between the first and last batch"

    got = state(interrupted)
    assert max(got["keys"].values()) == 1, "an invoice was issued twice"
    assert got["invoices"] == expected["invoices"]
    assert got["balances"] == expected["balances"]
    assert got["ledger_entries"] == expected["ledger_entries"]
    assert got["audit_rows"] == expected["audit_rows"]
    # Gapless: the numbers of the killed batch were rolled back and handed out again.
    serials = sorted(int(number.rsplit("-", 1)[-1]) for number in got["numbers"])
    assert serials == list(range(serials[0], serials[0] + len(serials)))
    assert audit_verifies(interrupted)


def test_sqlite_billing_run_killed_midway_resumes_to_the_same_invoices(tmp_path: Path):
    seeded = tmp_path / "seeded.db"
    url_a = migrated(f"sqlite:///{seeded}")
    now = seed_database(url_a, tmp_path)
    copy = tmp_path / "copy.db"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{seeded}{suffix}").exists():
            shutil.copy(f"{seeded}{suffix}", f"{copy}{suffix}")
    compare_runs(url_a, f"sqlite:///{copy}", tmp_path, now.isoformat())


@pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL (DATABASE_URL)")
def test_postgres_billing_run_killed_midway_resumes_to_the_same_invoices(tmp_path: Path):
    with postgres_databases("faults_a") as (url_a,):
        now = seed_database(migrated(url_a), tmp_path)
        with postgres_databases("faults_b", template="faults_a") as (url_b,):
            compare_runs(url_a, url_b, tmp_path, now.isoformat())
