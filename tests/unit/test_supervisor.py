"""``finsent up``'s supervisor with real child processes."""

from __future__ import annotations

import io
import sys
import threading
from pathlib import Path

from finsent.supervisor import Child, supervise


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_child_that_asks_to_be_started_again_is_and_the_rest_keep_running(
    tmp_path: Path,
) -> None:
    """A worker whose broker lost its topics exits with 75; it is started again (here
    three times, then it stays up) and the other children are left alone."""
    starts = tmp_path / "starts"
    code = (
        "import pathlib, sys, time\n"
        f"p = pathlib.Path({str(starts)!r})\n"
        "p.write_text(p.read_text() + 'x' if p.exists() else 'x')\n"
        "if len(p.read_text()) <= 3: sys.exit(75)\n"
        "print('steady', flush=True); time.sleep(60)\n"
    )
    worker = Child("worker", python(code), restart_on=frozenset({75}))
    dashboard = Child("dashboard", python("import time; time.sleep(60)"))
    stop, out = threading.Event(), io.StringIO()
    thread = threading.Thread(target=supervise, args=([worker, dashboard], stop, out))
    thread.start()
    try:
        for _ in range(100):
            if "[worker] steady" in out.getvalue():
                break
            threading.Event().wait(0.1)
        assert worker.returncode is None and dashboard.returncode is None
        first_dashboard = dashboard.process
    finally:
        stop.set()
        thread.join(60)
    assert starts.read_text() == "xxxx"
    assert "[up] worker exited with status 75: starting it again (3 of at most 5)" in out.getvalue()
    assert dashboard.process is first_dashboard  # never restarted


def test_a_child_that_keeps_asking_ends_the_group_after_its_restarts(tmp_path: Path) -> None:
    worker = Child("worker", python("import sys; sys.exit(75)"), restart_on=frozenset({75}))
    worker.max_restarts = 2
    dashboard = Child("dashboard", python("import time; time.sleep(60)"))
    out = io.StringIO()
    assert supervise([worker, dashboard], threading.Event(), out) == 1
    assert worker.restarts == 2
    assert "[up] worker exited with status 75\n" in out.getvalue()
    assert dashboard.returncode is not None  # stopped with the group


def test_any_other_status_ends_the_group_at_once() -> None:
    worker = Child("worker", python("import sys; sys.exit(1)"), restart_on=frozenset({75}))
    out = io.StringIO()
    assert supervise([worker], threading.Event(), out) == 1
    assert worker.restarts == 0
    assert "[up] worker exited with status 1" in out.getvalue()
