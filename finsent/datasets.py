"""The data that ships with finsent: the labelled set a first model is trained on.

The Twitter Financial News Sentiment splits (MIT; ``finsent/data/tfns/README.md`` names
the source) are package data, so a clone, an installed wheel and the Docker image all
have them. Nothing here reads anything outside the installed package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

TFNS_DIR = Path(__file__).resolve().parent / "data" / "tfns"


def tfns_csv(split: Literal["train", "valid"]) -> Path:
    """The shipped ``train.csv`` or ``valid.csv`` (columns ``text,label``; 0 = bearish)."""
    return TFNS_DIR / f"{split}.csv"
