"""Benchmark tool: a news-like transfer set, labelled by a teacher, for distillation.

    .venv/bin/python bench/transfer_set.py --teacher /tmp/teacher-mpnet --n 6000 \\
        --out /tmp/transfer.csv --mix-with-train

A student distilled on the teacher's probabilities for the training tweets learns to
imitate the teacher on tweets; on news it stays the student it was. This writes
sentences and headlines in the shape of company releases and wire news (generated
from templates: company names from finsent's entity registry, figures, periods and
events drawn at random with ``--seed``; nothing is taken from any data set, the
shipped news set included), has the teacher score them, and writes a training CSV
(``text,label,p_negative,p_neutral,p_positive``: the label is the teacher's argmax in
the shipped label map) that ``finsent train --train`` distils from directly. With
``--mix-with-train`` the shipped training rows come first, with their own labels and
the teacher's probabilities for them. ``--shapes wide`` draws half of the texts from
``bench/news_shapes.py`` (markets, macro, company events, analyst language, quotes,
boilerplate) instead of only the release and headline templates here (``basic``).
``--tweet-variants K`` adds K variants of each training tweet (``bench/tweet_variants.py``:
words swapped for their neighbours in the teacher's embedding table, dropped, cashtags and
figures redrawn), labelled by the teacher like the generated texts.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.news_shapes import wide_text  # noqa: E402
from bench.tweet_variants import neighbour_table, variants  # noqa: E402
from classifier.data import SOFT_COLUMNS, load_csv  # noqa: E402
from classifier.engine import Classifier, TorchBackend  # noqa: E402
from classifier.labels import CANONICAL, DEFAULT_LABEL_MAP, parse_label_map  # noqa: E402
from classifier.loading import load_engine  # noqa: E402
from entities.registry import load_registry, short_name  # noqa: E402
from finsent.datasets import tfns_csv  # noqa: E402

GENERIC = (
    "The company",
    "The group",
    "The bank",
    "The retailer",
    "The insurer",
    "The miner",
    "The airline",
    "The carmaker",
    "The chipmaker",
    "The utility",
    "The brewer",
    "The software maker",
    "The steelmaker",
    "The lender",
    "The drugmaker",
    "The operator",
)
METRICS = (
    "net sales",
    "revenue",
    "operating profit",
    "net profit",
    "EBITDA",
    "pre-tax profit",
    "earnings per share",
    "order intake",
    "the order backlog",
    "gross margin",
    "operating margin",
    "net interest income",
    "comparable sales",
    "free cash flow",
    "net debt",
    "operating loss",
    "net loss",
    "deliveries",
    "passenger numbers",
    "production volume",
    "sales volume",
    "adjusted EBIT",
    "cash flow from operations",
)
UP = (
    "rose",
    "increased",
    "grew",
    "climbed",
    "jumped",
    "improved",
    "surged",
    "was up",
    "edged up",
    "advanced",
)
DOWN = (
    "fell",
    "decreased",
    "declined",
    "dropped",
    "slipped",
    "was down",
    "plunged",
    "slumped",
    "shrank",
    "contracted",
)
FLAT = (
    "remained flat at",
    "was unchanged at",
    "stood at",
    "totalled",
    "amounted to",
    "was stable at",
    "came in at",
)
CURRENCIES = ("EUR", "USD", "SEK", "GBP", "JPY", "NOK", "DKK", "CHF", "$", "€")
UNITS = ("mn", "million", "bn", "billion", "m")
PERIODS = (
    "in the first quarter",
    "in the second quarter",
    "in the third quarter",
    "in the fourth quarter",
    "in January-June",
    "in January-September",
    "in 2025",
    "for the full year",
    "in the first half",
    "in the reporting period",
    "last year",
    "in the quarter",
    "in the three months to September",
)
EARLIER = (
    "a year earlier",
    "in the corresponding period of 2024",
    "a year ago",
    "in the same period last year",
    "in the previous quarter",
)
HEADLINES_UP = (
    "{c} shares jump after results beat forecasts",
    "{c} raises full-year outlook",
    "{c} lifts dividend by {p}%",
    "{c} wins {a} contract",
    "{c} profit beats estimates",
    "{c} shares rally on takeover bid",
    "Analysts upgrade {c} to buy",
    "{c} posts record quarterly sales",
    "{c} to buy back up to {p}% of shares",
    "{c} secures regulatory approval for new plant",
    "{c} orders surge {p}%",
    "{c} swings to profit",
    "{c} stock climbs as demand recovers",
)
HEADLINES_DOWN = (
    "{c} shares slump after profit warning",
    "{c} cuts full-year guidance",
    "{c} to cut {n} jobs",
    "{c} suspends dividend",
    "{c} misses profit estimates",
    "{c} recalls {n} vehicles",
    "Moody's downgrades {c}",
    "{c} fined {a} by regulator",
    "{c} shares tumble as sales fall {p}%",
    "{c} swings to loss",
    "{c} faces lawsuit over data breach",
    "{c} warns of weaker demand",
    "{c} writes down {a} of assets",
)
HEADLINES_NEUTRAL = (
    "{c} to publish third-quarter results on {d}",
    "{c} appoints new chief financial officer",
    "{c} to hold annual general meeting on {d}",
    "{c} completes share capital registration",
    "{c} names {n}-member board",
    "{c} prices {a} bond",
    "{c} to present at investor conference",
    "{c} moves listing date to {d}",
    "{c} files annual report",
    "{c} renames unit",
    "{c} opens office in Singapore",
    "{c} CEO to speak at industry event",
)
DATES = (
    "24 October",
    "5 February",
    "March 12",
    "April 28",
    "July 17",
    "November 3",
    "9 May",
    "August 21",
)
EVENTS = (
    "{c} said it expects {m} to grow in the coming year.",
    "{c} said it will close {n} stores as sales weaken.",
    "{c} signed an agreement to acquire a maker of industrial pumps for {a}.",
    "{c} will pay a dividend of {x} per share.",
    "{c} said the transaction is expected to close in the first half of next year.",
    "{c} expects its {m} to be lower than last year.",
    "{c} has appointed a new head of its retail division.",
    "{c} said demand from customers in Asia remained weak.",
    "{c} said the strike cost it about {a}.",
    "{c}'s board proposed an unchanged dividend.",
    "{c} is the largest producer of packaging board in the Nordic countries.",
    "The shares of {c} have been listed on the exchange since 1998.",
)


def money(rng: random.Random, cur: str | None = None, unit: str | None = None) -> str:
    """An amount in ``cur`` and ``unit`` (random when None), as releases write it."""
    cur, unit = cur or rng.choice(CURRENCIES), unit or rng.choice(UNITS)
    value = round(rng.uniform(0.5, 950), rng.choice((0, 1, 1, 2)))
    if cur in "$€" and unit in ("m", "bn") and rng.random() < 0.5:
        return f"{cur}{value}{unit}"
    return f"{cur} {value} {unit}"


def company(rng: random.Random, names: list[str]) -> str:
    return rng.choice(GENERIC) if rng.random() < 0.35 else rng.choice(names)


def report_sentence(rng: random.Random, names: list[str]) -> str:
    who, metric, period = company(rng, names), rng.choice(METRICS), rng.choice(PERIODS)
    cur, unit = rng.choice(CURRENCIES), rng.choice(UNITS)
    owned = metric.removeprefix("the ")
    way = rng.random()
    if way < 0.4:
        verb = rng.choice(UP if rng.random() < 0.5 else DOWN)
        return (
            f"{who}'s {owned} {verb} to {money(rng, cur, unit)} {period} from "
            f"{money(rng, cur, unit)} {rng.choice(EARLIER)}."
        )
    if way < 0.7:
        verb = rng.choice(UP if rng.random() < 0.5 else DOWN)
        pct = round(rng.uniform(0.3, 45), 1)
        said = who.lower() if who in GENERIC else who
        amount = money(rng, cur)
        return (
            f"{period[0].upper()}{period[1:]}, {metric} {verb} by {pct}% to {amount}, {said} said."
        )
    if way < 0.85:
        return f"{who}'s {owned} {rng.choice(FLAT)} {money(rng, cur)} {period}."
    return rng.choice(EVENTS).format(
        c=who, m=metric, n=rng.randint(2, 900), a=money(rng), x=money(rng).replace(" mn", "")
    )


def headline(rng: random.Random, names: list[str]) -> str:
    pool = rng.choice((HEADLINES_UP, HEADLINES_DOWN, HEADLINES_NEUTRAL))
    text = rng.choice(pool).format(
        c=rng.choice(names),
        p=rng.randint(2, 40),
        a=money(rng),
        n=rng.randint(50, 12000),
        d=rng.choice(DATES),
    )
    return text.title() if rng.random() < 0.3 else text


SHAPES = ("basic", "wide")


def generate(n: int, seed: int, names: list[str], *, shapes: str = "basic") -> list[str]:
    """``n`` distinct texts; ``shapes="wide"`` draws half of them from ``news_shapes``."""
    if shapes not in SHAPES:
        raise ValueError(f"unknown shapes {shapes!r}; expected one of {SHAPES}")
    rng = random.Random(seed)
    makers: tuple[Callable[[random.Random, list[str]], str], ...] = (report_sentence, headline)
    seen: set[str] = set()
    texts: list[str] = []
    while len(texts) < n:
        if shapes == "wide" and rng.random() < 0.5:
            text = wide_text(rng, names)
        else:
            text = rng.choice(makers)(rng, names)
        if text not in seen:
            seen.add(text)
            texts.append(text)
    return texts


def teacher_neighbours(teacher: Classifier, k: int = 8) -> dict[str, tuple[str, ...]]:
    """The neighbour table of the teacher's own input embeddings and vocabulary (from the
    loaded PyTorch teacher: its weights are read once)."""
    backend = teacher.backend
    if not isinstance(backend, TorchBackend):
        raise TypeError(f"the teacher must be loaded in PyTorch, not {backend.name}")
    tokenizer = teacher.tokenizer
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    model: Any = backend.model  # a transformers model: get_input_embeddings()
    vectors = model.get_input_embeddings().weight.detach().cpu().numpy()
    return neighbour_table(vocab, vectors, k=k)


def labelled_rows(
    texts: list[str], probs: Any, raw: dict[str, str], labels: list[int] | None = None
) -> list[list[str]]:
    """``text,label,p_...`` rows: the label given (canonical index) or, without one, the
    teacher's most probable class."""
    given = labels if labels is not None else [int(row.argmax()) for row in probs]
    return [
        [t, raw[CANONICAL[y]], *(f"{p:.6f}" for p in row)]
        for t, y, row in zip(texts, given, probs, strict=True)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mix-with-train", action="store_true")
    parser.add_argument("--shapes", choices=SHAPES, default="basic")
    parser.add_argument("--tweet-variants", type=int, default=0, metavar="K")
    args = parser.parse_args()
    if args.tweet_variants < 0:
        parser.error(f"--tweet-variants must be 0 or more, not {args.tweet_variants}")

    entities = load_registry().entities
    names = sorted({short_name(e.name) for e in entities} - {""})
    texts = generate(args.n, args.seed, names, shapes=args.shapes)
    teacher = load_engine(args.teacher, variant="fp32", threads=args.threads, ngram_weight=0)
    raw = {name: key for key, name in parse_label_map(DEFAULT_LABEL_MAP).items()}
    train = load_csv(tfns_csv("train"), parse_label_map(DEFAULT_LABEL_MAP))
    rows: list[list[str]] = []
    if args.mix_with_train:
        probs = teacher.predict_proba(train.texts)
        rows += labelled_rows(train.texts, probs, raw, train.labels)
    if args.tweet_variants:
        tickers = sorted({e.ticker for e in entities if e.ticker.isalpha()})
        neighbours = teacher_neighbours(teacher)
        made = variants(train.texts, args.tweet_variants, args.seed, neighbours, tickers)
        print(f"{len(made)} variants of {len(train.texts)} training tweets")
        texts += made
    if texts:
        probs = teacher.predict_proba(texts)
        rows += labelled_rows(texts, probs, raw)
        counts = {c: int((probs.argmax(axis=1) == i).sum()) for i, c in enumerate(CANONICAL)}
        print(f"the teacher labels the {len(texts)} new texts {counts}")
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label", *SOFT_COLUMNS])
        writer.writerows(rows)
    print(f"{len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
