"""The data that ships with finsent: the labelled tweets, the news sets every trained model
is checked on, and the sets distilled from a larger teacher that models learn from.

The Twitter Financial News Sentiment splits (MIT; ``finsent/data/tfns/README.md`` names
the source) are package data, so a clone, an installed wheel and the Docker image all
have them. ``finsent/data/news_eval`` holds news sentences and headlines written for
finsent (its README says how), labelled like the tweets, and ``finsent/data/zh_eval``
Chinese ones; no training run reads them as training data. Nothing here reads anything
outside the installed package.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Literal

TFNS_DIR = Path(__file__).resolve().parent / "data" / "tfns"
NEWS_EVAL_CSV = Path(__file__).resolve().parent / "data" / "news_eval" / "news_eval.csv"
#: Chinese headlines, report sentences and forum posts written for finsent (its README
#: says how): every model is checked on it beside the English news set.
ZH_EVAL_CSV = Path(__file__).resolve().parent / "data" / "zh_eval" / "zh_eval.csv"
#: The tweets, 12,000 generated news-like texts (company releases and wire headlines, then
#: wider shapes: markets and macro, deals, ratings, analyst language, quotes, negation)
#: and 6,000 variants of the training tweets, with a teacher's probabilities (its README
#: says how it was made): what the quick profile (``finsent up``'s first model) learns
#: from by default.
DISTIL_CSV = Path(__file__).resolve().parent / "data" / "distil" / "train.csv"
#: The same tweets and generated texts with all 19,007 variants of the training tweets,
#: all with the teacher's probabilities: what the longer profiles learn from.
DISTIL_FULL_CSV = Path(__file__).resolve().parent / "data" / "distil" / "train_full.csv"
#: What a model for Chinese items learns from (its README says how it was made).
MULTILINGUAL_CSV = Path(__file__).resolve().parent / "data" / "multilingual" / "train.csv"


#: The shipped set each training profile learns from by default. The full and gpu
#: profiles' longer training learns from the wider shapes (news set accuracy 0.896 ->
#: 0.914, the mean of three seeds) and from the teacher's reading of all the tweets'
#: variants (``valid.csv`` 0.881 / 0.845 -> 0.891 / 0.859). Quick and smoke learn from the
#: smaller set, where 6,000 of the variants with the wider shapes lift two epochs by
#: 1.3-1.4 pt of accuracy on ``valid.csv`` at 1.8 times the training time
#: (``BENCHMARKS.md``, "Wider transfer texts", "Variants of the tweets" and "The quick
#: profile learns from the wider set").
DISTILLATION_SETS: Mapping[str, Path] = MappingProxyType(
    {
        "smoke": DISTIL_CSV,
        "quick": DISTIL_CSV,
        "full": DISTIL_FULL_CSV,
        "gpu": DISTIL_FULL_CSV,
    }
)


def distillation_csv(profile: str) -> Path:
    """The shipped set training ``profile`` learns from by default (``DISTILLATION_SETS``);
    ``ValueError`` naming the profiles for one that has none."""
    try:
        return DISTILLATION_SETS[profile]
    except KeyError:
        raise ValueError(
            f"no shipped training set for profile {profile!r}; the profiles are "
            f"{', '.join(DISTILLATION_SETS)}"
        ) from None


def tfns_csv(split: Literal["train", "valid"]) -> Path:
    """The shipped ``train.csv`` or ``valid.csv`` (columns ``text,label``; 0 = bearish)."""
    return TFNS_DIR / f"{split}.csv"
