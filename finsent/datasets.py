"""The data that ships with finsent: the labelled set a first model is trained on, and the
news set every trained model is checked on, and the set distilled from a larger teacher
that a first model learns from.

The Twitter Financial News Sentiment splits (MIT; ``finsent/data/tfns/README.md`` names
the source) are package data, so a clone, an installed wheel and the Docker image all
have them. ``finsent/data/news_eval`` holds news sentences and headlines written for
finsent (its README says how), labelled like the tweets, and ``finsent/data/zh_eval``
Chinese ones; no training run reads them as training data. Nothing here reads anything
outside the installed package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

TFNS_DIR = Path(__file__).resolve().parent / "data" / "tfns"
NEWS_EVAL_CSV = Path(__file__).resolve().parent / "data" / "news_eval" / "news_eval.csv"
#: Chinese headlines, report sentences and forum posts written for finsent (its README
#: says how): every model is checked on it beside the English news set.
ZH_EVAL_CSV = Path(__file__).resolve().parent / "data" / "zh_eval" / "zh_eval.csv"
#: The tweets and 6,000 generated news-like texts with a teacher's probabilities (its
#: README says how it was made): what ``finsent train`` learns from by default.
DISTIL_CSV = Path(__file__).resolve().parent / "data" / "distil" / "train.csv"
#: What a model for Chinese items learns from (its README says how it was made).
MULTILINGUAL_CSV = Path(__file__).resolve().parent / "data" / "multilingual" / "train.csv"


def tfns_csv(split: Literal["train", "valid"]) -> Path:
    """The shipped ``train.csv`` or ``valid.csv`` (columns ``text,label``; 0 = bearish)."""
    return TFNS_DIR / f"{split}.csv"
