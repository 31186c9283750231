"""Every hint works: an error that suggests a fix names one that works when followed.

Each test meets the error as a user does, runs the command the message names, word for
word, and checks that the first command then gets past that error.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.integration.test_cli import one_line_error, run


def hinted_command(message: str) -> list[str]:
    """The ``finsent ...`` command a message suggests, as argv (without ``finsent``)."""
    found = re.search(r"`finsent ([^`]+)`", message)
    assert found, f"no command suggested in {message!r}"
    return shlex.split(found.group(1))


def test_no_model_hint_trains_one_that_then_loads(
    cli_env: dict[str, str], pg_url: str, tmp_path: Path
) -> None:
    model = tmp_path / "models" / "first"
    env = {
        **cli_env,
        "FINSENT_DATABASE_URL": pg_url,
        "FINSENT_MODEL_PATH": str(model),
        "FINSENT_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
    }
    error = one_line_error(run(["worker"], env))
    assert f"no model at {model}" in error
    hint = hinted_command(error)
    assert hint[0] == "train" and "--train" not in hint  # no data to find: it ships
    # The hinted command as it stands, on the smallest profile (a setting, so the command
    # is the same one a user types; theirs trains the full profile, ~45 min on 2 cores).
    trained = run(hint, {**env, "FINSENT_MODEL_TRAIN_PROFILE": "smoke"}, timeout=900)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert f"model written to {model}" in trained.stdout
    sample = tmp_path / "sample.csv"
    sample.write_text("text,label\nShares slump after profit warning,0\nStocks rally,1\n")
    scored = run(["evaluate", str(model), str(sample), "--variant", "fp32"], env, timeout=300)
    assert scored.returncode == 0, scored.stderr[-3000:]
    assert "accuracy" in scored.stdout


def test_database_behind_head_hint_brings_it_to_head(
    cli_env: dict[str, str], empty_pg_url: str
) -> None:
    env = {**cli_env, "FINSENT_DATABASE_URL": empty_pg_url}
    error = one_line_error(run(["db", "check"], env))
    assert run(hinted_command(error), env).returncode == 0
    assert run(["db", "check"], env).returncode == 0


def test_demo_data_needs_no_csv_of_the_users(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "demo.jsonl"
    made = run(["demo-data", "--out", str(out), "--items", "50", "--hours", "1"], cli_env)
    assert made.returncode == 0, made.stderr
    assert "real headlines from" in made.stdout and "tfns/valid.csv" in made.stdout
    assert len(out.read_text().splitlines()) > 50  # the background and the planted surge


def test_half_a_training_pair_names_the_missing_half(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    train = tmp_path / "train.csv"
    train.write_text("text,label\nStocks rally,1\n")
    env = {**cli_env, "FINSENT_MODEL_TRAIN_CSV": str(train)}
    result = run(["train", "--out", str(tmp_path / "m")], env)
    assert result.returncode == 2
    error = one_line_error(result)
    assert "no valid CSV (--valid / FINSENT_MODEL_VALID_CSV)" in error
    assert "or neither to train on the set that ships with finsent" in error
