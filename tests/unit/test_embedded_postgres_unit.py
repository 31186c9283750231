"""The embedded server's bookkeeping: dead holders are forgotten, readiness is read."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from storage.embedded import forget_dead_handles, socket_url, wait_ready


def test_dead_holders_are_dropped_and_live_ones_kept(tmp_path: Path) -> None:
    handles = tmp_path / ".handle_pids.json"
    handles.write_text(json.dumps([11, 22, 33]))
    assert forget_dead_handles(handles, alive=lambda pid: pid != 22) == [11, 33]
    assert json.loads(handles.read_text()) == [11, 33]


def test_a_missing_or_damaged_list_starts_afresh(tmp_path: Path) -> None:
    handles = tmp_path / ".handle_pids.json"
    assert forget_dead_handles(handles, alive=lambda pid: True) == []
    handles.write_text("{not json")
    assert forget_dead_handles(handles, alive=lambda pid: True) == []
    assert json.loads(handles.read_text()) == []


def test_readiness_is_the_eighth_line_of_the_pid_file(tmp_path: Path) -> None:
    pid_file = tmp_path / "postmaster.pid"
    starting = ["4242", str(tmp_path), "1765000000", "5432", str(tmp_path), "", "1 2"]
    pid_file.write_text("\n".join([*starting, "starting"]) + "\n")

    def become_ready() -> None:
        time.sleep(0.5)
        pid_file.write_text("\n".join([*starting, "ready   "]) + "\n")

    threading.Thread(target=become_ready).start()
    wait_ready(pid_file, timeout=10)
    pid_file.write_text("\n".join([*starting, "stopping"]) + "\n")
    with pytest.raises(TimeoutError, match=r"within 0\.5 s"):
        wait_ready(pid_file, timeout=0.5)


def test_the_url_reaches_the_socket_directory() -> None:
    url = socket_url("/run/finsent pg", 5432, "finsent")
    assert url.drivername == "postgresql+psycopg" and url.database == "finsent"
    assert url.query == {"host": "/run/finsent pg", "port": "5432"}
    assert url.host is None and url.password is None


def test_run_as_root_the_directories_above_become_searchable_not_listable(
    tmp_path: Path,
) -> None:
    import stat

    from storage.embedded import make_traversable

    home = tmp_path / "home"
    pgdata = home / "finsent" / "postgres"
    pgdata.mkdir(parents=True)
    for d in (home, home / "finsent"):
        d.chmod(0o700)
    make_traversable(pgdata)
    for d in (home, home / "finsent"):
        mode = stat.S_IMODE(d.stat().st_mode)
        assert mode & 0o011 == 0o011, oct(mode)  # others may pass through
        assert mode & 0o044 == 0, oct(mode)  # but not list what is there
