"""tests/system_programs.py: programs found on PATH, skips, the summary line, CI=true."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.system_programs import PROGRAMS, find, summary_line

REPO = Path(__file__).resolve().parents[2]

SUITE = """
import pytest
from tests.system_programs import program

@pytest.mark.needs("chromium", "chromedriver")
def test_browser():
    assert program("chromium") and program("chromedriver")

@pytest.mark.needs("promtool")
def test_rules():
    assert program("promtool").endswith("promtool")

@pytest.mark.needs("promtool")
def test_more_rules():
    pass

def test_plain():
    pass
"""


def bin_dir(tmp_path: Path, *names: str) -> Path:
    """A folder with an executable stub for each name: the only thing on PATH."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    for name in names:
        stub = folder / name
        stub.write_text("#!/bin/sh\n")
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return folder


def run(tmp_path: Path, path: Path, ci: str | None = None) -> tuple[int, dict[str, str], str]:
    """Run the suite in tmp_path in a fresh pytest with only ``path`` on PATH: the exit
    code, each test's outcome, the output."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env.update(PATH=str(path), PYTHONPATH=str(REPO))
    if ci is not None:
        env["CI"] = ci
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-p", "tests.system_programs", "--strict-markers"),
            *("-v", "-ra", "-p", "no:cacheprovider", "test_suite.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    outcomes = dict(
        re.findall(r"^test_suite\.py::(\w+) (PASSED|SKIPPED|ERROR|FAILED)", done.stdout, re.M)
    )
    return done.returncode, outcomes, done.stdout + done.stderr


def summary(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("missing system programs:")]


def test_the_summary_line_names_each_program_and_its_package() -> None:
    missing = {"promtool": {"a", "b"}, "chromium": {"c"}, "chromedriver": {"c"}}
    assert summary_line(missing, ci=False) == (
        "missing system programs: chromium (apt-get install chromium), "
        "chromedriver (apt-get install chromium-driver), promtool (apt-get install prometheus); "
        "3 tests skipped — run 'make test-deps' as root"
    )
    assert summary_line({"promtool": {"a"}}, ci=True) == (
        "missing system programs: promtool (apt-get install prometheus); "
        "1 test failed (CI=true) — run 'make test-deps' as root"
    )


def test_programs_are_found_on_path_and_alternatives_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(bin_dir(tmp_path, "google-chrome", "alertmanager")))
    assert find("chromium") == str(tmp_path / "bin" / "google-chrome")
    assert find("prometheus-alertmanager") == str(tmp_path / "bin" / "alertmanager")
    assert find("chromedriver") is None
    assert find("promtool") is None


def test_exactly_the_tests_that_need_a_missing_program_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    rc, outcomes, output = run(tmp_path, bin_dir(tmp_path, "chromium"))  # no driver, no promtool
    assert outcomes == {
        "test_browser": "SKIPPED",
        "test_rules": "SKIPPED",
        "test_more_rules": "SKIPPED",
        "test_plain": "PASSED",
    }, output
    assert rc == 0, output
    assert summary(output) == [
        "missing system programs: chromedriver (apt-get install chromium-driver), "
        "promtool (apt-get install prometheus); 3 tests skipped — run 'make test-deps' as root"
    ], output
    assert "not on PATH: chromedriver (apt-get install chromium-driver);" in output


def test_with_every_program_on_path_all_run_and_no_line_is_printed(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    found = bin_dir(tmp_path, "chromium", "chromedriver", "promtool")
    rc, outcomes, output = run(tmp_path, found, ci="true")
    assert set(outcomes.values()) == {"PASSED"} and len(outcomes) == 4, output
    assert rc == 0, output
    assert summary(output) == [], output


def test_in_ci_a_missing_program_fails_the_tests_that_need_it(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    rc, outcomes, output = run(tmp_path, bin_dir(tmp_path, "chromium", "chromedriver"), "true")
    assert outcomes == {
        "test_browser": "PASSED",
        "test_rules": "ERROR",
        "test_more_rules": "ERROR",
        "test_plain": "PASSED",
    }, output
    assert rc == pytest.ExitCode.TESTS_FAILED, output
    assert summary(output) == [
        "missing system programs: promtool (apt-get install prometheus); "
        "2 tests failed (CI=true) — run 'make test-deps' as root"
    ], output
    assert "CI=true: a missing system program fails the run" in output


def test_an_unknown_program_name_fails_the_test(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(
        'import pytest\n\n@pytest.mark.needs("chromiun")\ndef test_typo():\n    pass\n'
    )
    rc, outcomes, output = run(tmp_path, bin_dir(tmp_path, "chromium"))
    assert outcomes == {"test_typo": "ERROR"}, output
    assert rc == pytest.ExitCode.TESTS_FAILED
    assert "unknown system programs ['chromiun']" in output


def test_the_makefile_installs_the_same_programs_from_the_same_packages() -> None:
    makefile = (REPO / "Makefile").read_text()
    match = re.search(r"^TEST_PROGRAMS := ((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    assert match, "the Makefile has no TEST_PROGRAMS"
    listed = {}
    for spec in match.group(1).replace("\\\n", " ").split():
        names, package = spec.split(":")
        listed[names.split("|")[0]] = (tuple(names.split("|")), package)
    assert listed == {name: (p.names, p.package) for name, p in PROGRAMS.items()}
