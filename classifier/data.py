"""Labelled CSV loading with clear errors, and the text normalisation train and serve share.

Normalisation replaces what a model should not learn by heart with placeholders:
URLs become ``http``, @handles become ``@user`` and cashtags become ``$ticker``, so a
model trained on finance tweets does not lean on which ticker or link a sentence has
and carries over to news headlines that have neither.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from classifier.exceptions import DataError
from classifier.labels import CANONICAL, CANONICAL_INDEX, map_raw_label

TEXT_COLUMN = "text"
LABEL_COLUMN = "label"
#: Optional columns with a teacher's probabilities per row (soft labels to distil from).
SOFT_COLUMNS = tuple(f"p_{name}" for name in CANONICAL)
#: How far a row's soft labels may sum from 1 before the row is refused (rounding).
SOFT_SUM_TOLERANCE = 0.01

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@\w{1,30}")
_CASHTAG = re.compile(r"(?<![\w$])\$[A-Za-z][A-Za-z0-9._-]{0,9}\b")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The model's view of a text: placeholders for URLs, handles and cashtags; one space."""
    text = _URL.sub("http", text)
    text = _HANDLE.sub("@user", text)
    text = _CASHTAG.sub("$ticker", text)
    return _SPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class LabelledData:
    """Texts and their canonical label indices (0 negative, 1 neutral, 2 positive), and
    when the CSV had them, soft labels: canonical-order probabilities per row."""

    path: str
    texts: list[str]
    labels: list[int]
    soft: list[tuple[float, float, float]] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def sample(self, n: int | None, seed: int) -> LabelledData:
        """A seeded random subset of ``n`` rows (all rows when ``n`` is None or too big)."""
        if n is None or n >= len(self.texts):
            return self
        import random

        rng = random.Random(seed)  # noqa: S311  (sampling rows, not security)
        rows = sorted(rng.sample(range(len(self.texts)), n))
        return LabelledData(
            path=self.path,
            texts=[self.texts[i] for i in rows],
            labels=[self.labels[i] for i in rows],
            soft=[self.soft[i] for i in rows] if self.soft is not None else None,
        )

    def counts(self) -> dict[str, int]:
        """Rows per canonical label, every label present (0 when absent)."""
        seen = Counter(self.labels)
        return {name: seen.get(i, 0) for i, name in enumerate(CANONICAL)}


def load_csv(
    path: str | Path, label_map: dict[str, str], *, limit: int | None = None
) -> LabelledData:
    """Read a ``text,label`` CSV (UTF-8, header row) and map its labels to canonical ones.

    ``label_map`` comes from ``labels.parse_label_map`` (empty: labels are names).
    Raises ``DataError`` naming the file and, where it applies, the line and value.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror})") from e
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(
            f"{path}: not UTF-8 (byte 0x{raw[e.start]:02x} on line {line}); save the file as UTF-8"
        ) from None
    if not content.strip():
        raise DataError(
            f"{path}: the file is empty; expected a header row with columns "
            f"{TEXT_COLUMN},{LABEL_COLUMN}"
        )
    reader = csv.DictReader(content.splitlines(keepends=True), strict=False)
    columns = [c.strip() for c in (reader.fieldnames or [])]
    reader.fieldnames = columns
    missing = [c for c in (TEXT_COLUMN, LABEL_COLUMN) if c not in columns]
    if missing:
        raise DataError(
            f"{path}: missing column {', '.join(repr(m) for m in missing)} "
            f"(found {', '.join(repr(c) for c in columns) or 'none'}); "
            f"expected columns {TEXT_COLUMN},{LABEL_COLUMN}"
        )
    soft_present = [c for c in SOFT_COLUMNS if c in columns]
    if soft_present and len(soft_present) != len(SOFT_COLUMNS):
        absent = [c for c in SOFT_COLUMNS if c not in columns]
        raise DataError(
            f"{path}: soft labels need all of {', '.join(SOFT_COLUMNS)}; "
            f"{', '.join(absent)} missing"
        )
    texts: list[str] = []
    labels: list[int] = []
    soft: list[tuple[float, float, float]] | None = [] if soft_present else None
    try:
        for row in reader:
            if limit is not None and len(texts) >= limit:
                break
            line = reader.line_num
            value = row.get(LABEL_COLUMN)
            text = row.get(TEXT_COLUMN)
            if value is None or text is None:
                raise DataError(f"{path}, line {line}: the row has too few fields")
            canonical = map_raw_label(value, label_map)
            if canonical is None:
                known = ", ".join(sorted(label_map)) if label_map else ", ".join(CANONICAL)
                raise DataError(
                    f"{path}, line {line}: unknown label {value!r} (known: {known}); "
                    "pass a label map such as --labels 0=negative,1=positive,2=neutral"
                )
            if soft is not None:
                soft.append(_soft_row(path, line, [row.get(c) for c in SOFT_COLUMNS]))
            texts.append(text)
            labels.append(CANONICAL_INDEX[canonical])
    except csv.Error as e:
        raise DataError(f"{path}, line {reader.line_num}: malformed CSV ({e})") from None
    if not texts:
        raise DataError(f"{path}: the header is there but there are no rows")
    return LabelledData(path=str(path), texts=texts, labels=labels, soft=soft)


def _soft_row(path: Path, line: int, values: list[str | None]) -> tuple[float, float, float]:
    """One row's soft labels: three finite probabilities summing to 1 (renormalised)."""
    try:
        probs = [float(v) for v in values]  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataError(f"{path}, line {line}: soft labels {values} are not all numbers") from None
    if not all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in probs):
        raise DataError(f"{path}, line {line}: soft labels {probs} are not probabilities in [0, 1]")
    total = sum(probs)
    if abs(total - 1.0) > SOFT_SUM_TOLERANCE:
        raise DataError(f"{path}, line {line}: soft labels {probs} sum to {total:.4f}, not 1")
    a, b, c = (p / total for p in probs)
    return (a, b, c)
