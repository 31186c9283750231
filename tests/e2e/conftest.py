"""A running worker on this run's broker and database, for the e2e tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from testkit.processes import FinsentProcess


@pytest.fixture
def worker(worker_env: dict[str, str], tmp_path: Path, db: Engine) -> Iterator[FinsentProcess]:
    proc = FinsentProcess(["worker"], worker_env, tmp_path / "worker.log").start()
    proc.wait_for_log("[^Worker]: Ready", timeout=180)
    yield proc
    proc.stop()
