"""The system programs some tests run, found on PATH; a pytest plugin.

A test states what it needs with ``@pytest.mark.needs("chromium", "chromedriver")`` (or a
module's ``pytestmark``) and gets each path from :func:`program`. Where a program is not on
PATH the test is skipped, and the run ends with one line naming what is missing and the
Debian package that has it (``make test-deps`` installs them all, as root). With ``CI=true``
a missing program fails the tests that need it instead: CI must not pass by skipping.

Registered from ``tests/conftest.py`` (``pytest_plugins``).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass

import pytest

MARKER = "needs"
MARKER_HELP = f"{MARKER}(*programs): the system programs the test runs; skipped where missing"


@dataclass(frozen=True)
class Program:
    names: tuple[str, ...]  # the executables that will do, looked up on PATH in this order
    package: str  # the Debian package that has the first one


#: every program a test may need; the Makefile's TEST_PROGRAMS lists the same
PROGRAMS: dict[str, Program] = {
    "chromium": Program(("chromium", "chromium-browser", "google-chrome"), "chromium"),
    "chromedriver": Program(("chromedriver",), "chromium-driver"),
    "prometheus-alertmanager": Program(
        ("prometheus-alertmanager", "alertmanager"), "prometheus-alertmanager"
    ),
    "promtool": Program(("promtool",), "prometheus"),
}

#: where the run keeps the missing programs and the tests that needed each
MISSING = pytest.StashKey[dict[str, set[str]]]()


def find(name: str) -> str | None:
    """The path of a known program on PATH, or None."""
    for executable in PROGRAMS[name].names:
        path = shutil.which(executable)
        if path is not None:
            return path
    return None


def program(name: str) -> str:
    """The path of a program the calling test declared with ``needs``."""
    if name not in PROGRAMS:
        pytest.fail(f"unknown system program {name!r}: add it to {__name__}.PROGRAMS")
    path = find(name)
    if path is None:  # the marker skips such a test first: it is missing from `needs`
        pytest.fail(f"{name} is not on PATH and the test does not declare it with @needs")
    return path


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def install_hint(names: list[str]) -> str:
    """``chromium (apt-get install chromium), promtool (apt-get install prometheus)``"""
    return ", ".join(f"{n} (apt-get install {PROGRAMS[n].package})" for n in names)


def summary_line(missing: dict[str, set[str]], ci: bool) -> str:
    """The run's one line about missing programs; ``missing`` maps each to its tests."""
    names = [name for name in PROGRAMS if name in missing]
    tests = len({nodeid for nodeids in missing.values() for nodeid in nodeids})
    outcome = "failed (CI=true)" if ci else "skipped"
    return (
        f"missing system programs: {install_hint(names)}; "
        f"{tests} test{'' if tests == 1 else 's'} {outcome} — run 'make test-deps' as root"
    )


def pytest_configure(config: pytest.Config) -> None:
    if not any(re.match(rf"{MARKER}\b", line) for line in config.getini("markers")):
        config.addinivalue_line("markers", MARKER_HELP)  # a run without our pyproject.toml
    config.stash[MISSING] = {}


@pytest.hookimpl(tryfirst=True)  # before any fixture of the test is set up
def pytest_runtest_setup(item: pytest.Item) -> None:
    needed = [name for mark in item.iter_markers(MARKER) for name in mark.args]
    unknown = sorted(set(needed) - set(PROGRAMS))
    if unknown:
        pytest.fail(f"@{MARKER}: unknown system programs {unknown}; known: {sorted(PROGRAMS)}")
    missing = [name for name in PROGRAMS if name in needed and find(name) is None]
    if not missing:
        return
    record = item.config.stash[MISSING]
    for name in missing:
        record.setdefault(name, set()).add(item.nodeid)
    reason = f"not on PATH: {install_hint(missing)}; run 'make test-deps' as root"
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing system program fails the run)", pytrace=False)
    raise pytest.skip.Exception(reason, _use_item_location=True)  # -ra names the test


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    missing = terminalreporter.config.stash.get(MISSING, {})
    if missing:
        ci = in_ci()
        terminalreporter.write_line(summary_line(missing, ci), red=ci, yellow=not ci, bold=True)
