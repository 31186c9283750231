"""First contact: the project copied into an empty directory runs ``finsent up --demo``
with nothing beside it, and the demo's planted surge reaches webhook-echo as a verified
``alert.firing`` and then ``alert.resolved``.

The copy holds what a clone holds (tracked and not-ignored files, no ``.venv``, no
data directory, no model) and runs from itself, with this run's interpreter for the
installed dependencies. Everything else is what a user gets: the embedded PostgreSQL
server, the embedded broker, a first model trained from the data that ships with
finsent. Only the training profile is smaller (``FINSENT_MODEL_FIRST_PROFILE=smoke``,
a setting; the user's default is ``quick``) and the replay faster.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streams.broker_process import free_port
from testkit.processes import FinsentProcess, wait_until
from tests.conftest import REPO


def clone_files(git: str) -> list[str]:
    """What a clone of the working tree would hold: tracked and not-ignored files."""
    listed = subprocess.run(
        [git, "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (REPO / name).is_file()]


@pytest.fixture
def fresh_copy(tmp_path: Path) -> Path:
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: nothing to copy as a clone would")
    root = tmp_path / "empty" / "finsent"  # nothing beside it: no sibling folders, no data
    for name in clone_files(git):
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    assert list(root.parent.iterdir()) == [root]
    return root


def echoed_events(log: str) -> list[dict[str, Any]]:
    """The events webhook-echo printed (it prints only those whose signature verified)."""
    events = []
    for line in log.splitlines():
        if line.startswith("[webhook-echo] {"):
            events.append(json.loads(line.removeprefix("[webhook-echo] "))["event"])
    return events


def test_a_fresh_copy_runs_the_demo_to_a_fired_and_resolved_alert(
    fresh_copy: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **cli_env,
        "PYTHONPATH": str(fresh_copy),  # the copy's code, not the checkout's
        "FINSENT_DATA_DIR": str(tmp_path / "user-data"),
        "FINSENT_BROKER_PORT": str(free_port()),
        "FINSENT_DASHBOARD_PORT": str(free_port()),
        "FINSENT_MODEL_FIRST_PROFILE": "smoke",
        "FINSENT_MODEL_THREADS": "2",
    }
    argv = [sys.executable, "-m", "finsent", "up", "--demo", "--demo-speed", "300"]
    up = FinsentProcess(["up"], env, tmp_path / "up.log", argv=argv, cwd=fresh_copy).start()
    try:
        up.wait_for_log("finsent is up: worker, webhook-echo, demo", timeout=600)
        log = up.log()
        assert f"training one (smoke profile) on {fresh_copy}/finsent/data/distil/train.csv" in log
        assert "real headlines from " + f"{fresh_copy}/finsent/data/tfns/valid.csv" in log
        assert (tmp_path / "user-data" / "postgres" / "PG_VERSION").is_file()

        def fired_and_resolved() -> bool:
            types = [e.get("type") for e in echoed_events(up.log())]
            return "alert.firing" in types and "alert.resolved" in types

        wait_until(fired_and_resolved, 600, "a verified alert.firing and alert.resolved")
        events = echoed_events(up.log())
        firing = next(e for e in events if e["type"] == "alert.firing")
        resolved = next(e for e in events if e["type"] == "alert.resolved")
        assert events.index(firing) < events.index(resolved)
        assert firing["data"]["fingerprint"] == resolved["data"]["fingerprint"]
        surge = log.split("planted surge of ", 1)[1].split(" headlines", 1)[0]
        assert f"'{firing['data']['topic']}'" in surge  # the planted topic, nothing else
        assert " 401 " not in up.log()  # every delivery verified
        assert up.interrupt(timeout=90) == 0, up.log()[-3000:]
    finally:
        up.kill()
    assert "finsent stopped" in up.log()
    assert "Traceback" not in up.log()
