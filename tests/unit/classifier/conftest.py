"""Fixtures for the classifier: small labelled CSVs and one tiny model trained per session.

The tiny model is a real fine-tuning run from the offline MiniLM base (a few steps on
a few hundred rows): what it predicts is meaningless, but its directory, metrics and
card are exactly what a full run writes.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from classifier.train import TrainResult, train
from testkit.classifier_support import tiny_config

COMPANIES = [
    "Apple",
    "Tesla",
    "Nvidia",
    "Boeing",
    "Pfizer",
    "Exxon",
    "Intel",
    "Ford",
    "Netflix",
    "Oracle",
    "Siemens",
    "Nestle",
    "Shell",
    "Visa",
    "Airbus",
    "Sony",
    "Toyota",
    "Bayer",
]
TEMPLATES = {
    # raw labels in the shipped data's convention: 0 bearish, 1 bullish, 2 neutral
    "0": [
        "{c} shares plunge after profit warning",
        "{c} misses estimates and cuts its outlook https://t.co/abc",
        "${t} downgraded to sell at Morgan Stanley",
        "{c} faces probe over accounting, stock tumbles",
    ],
    "1": [
        "{c} shares jump after record quarterly profit",
        "{c} beats estimates and raises guidance https://t.co/xyz",
        "${t} upgraded to buy at Goldman Sachs",
        "{c} wins huge contract, stock soars",
    ],
    "2": [
        "{c} to present at investor conference on Tuesday",
        "{c} announces date of annual general meeting",
        "${t} files quarterly report with the SEC",
        "@reuters: {c} names new head of investor relations",
    ],
}


def write_rows(
    path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("text", "label")
) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def synthetic_rows(n: int, seed: int) -> list[tuple[str, str]]:
    """Finance-headline-like rows, neutral-heavy like the real data."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.choices(["0", "1", "2"], weights=[0.2, 0.2, 0.6])[0]
        company = rng.choice(COMPANIES)
        text = rng.choice(TEMPLATES[label]).format(c=company, t=company[:4].upper())
        rows.append((text, label))
    return rows


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    write_rows(folder / "train.csv", synthetic_rows(300, seed=1))
    write_rows(folder / "valid.csv", synthetic_rows(90, seed=2))
    write_rows(folder / "check.csv", synthetic_rows(60, seed=3))
    return folder


@pytest.fixture(scope="session")
def tiny_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    out = tmp_path_factory.mktemp("models") / "tiny"
    config = tiny_config(
        data_dir,
        out,
        epochs=2,
        max_steps=12,
        learning_rate=2e-4,
        checks=(str(data_dir / "check.csv"),),
        profile="test",
    )
    return train(config, progress=False)


@pytest.fixture(scope="session")
def tiny_model(tiny_run: TrainResult) -> Path:
    return Path(tiny_run.out)


@pytest.fixture
def texts() -> list[str]:
    return [
        "Apple shares jump after record quarterly profit",
        "Boeing misses estimates and cuts its outlook https://t.co/abc",
        "$NVDA to present at investor conference on Tuesday",
        "",
        "   \t\n ",
        "📈📉🚀",
        "Die Aktie von Siemens fällt nach der Gewinnwarnung deutlich",
        "央行宣布降息，股市大涨",
        "earnings " * 2000,
        "Ok",
    ]
