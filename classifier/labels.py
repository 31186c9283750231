"""Canonical sentiment labels and the mapping of anyone else's labels onto them.

The canonical labels, in this order everywhere (probability vectors, confusion
matrices, the ``id2label`` of every model we train), are ``negative``, ``neutral``,
``positive``. Two things are mapped onto them:

* a data set's raw label values (``0``, ``1``, ``2``, or ``bearish`` ...), through a
  label map such as ``"0=negative,1=positive,2=neutral"``;
* a model's output indices, through its ``id2label``: names in any order and case
  (``Positive``, ``NEG``, ``bullish`` ...) map by name; generic names (``LABEL_0``)
  map through the same label map the data used (keys ``0`` or ``LABEL_0``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from classifier.exceptions import LabelMapError

NEGATIVE, NEUTRAL, POSITIVE = "negative", "neutral", "positive"
CANONICAL: tuple[str, str, str] = (NEGATIVE, NEUTRAL, POSITIVE)
CANONICAL_INDEX: dict[str, int] = {name: i for i, name in enumerate(CANONICAL)}

#: The Twitter Financial News Sentiment convention: 0 bearish, 1 bullish, 2 neutral.
DEFAULT_LABEL_MAP = "0=negative,1=positive,2=neutral"

_SYNONYMS: dict[str, str] = {
    "negative": NEGATIVE,
    "neg": NEGATIVE,
    "bearish": NEGATIVE,
    "bear": NEGATIVE,
    "neutral": NEUTRAL,
    "neu": NEUTRAL,
    "none": NEUTRAL,
    "positive": POSITIVE,
    "pos": POSITIVE,
    "bullish": POSITIVE,
    "bull": POSITIVE,
}
_GENERIC = re.compile(r"^label[_ -]?(\d+)$", re.IGNORECASE)


def canonical_name(name: str) -> str | None:
    """The canonical label a label name stands for (any case, common synonyms), else None."""
    return _SYNONYMS.get(name.strip().lower())


def parse_label_map(spec: str | Mapping[str, str] | None) -> dict[str, str]:
    """Parse ``"0=negative,1=positive,2=neutral"`` into ``{"0": "negative", ...}``.

    ``None`` or an empty string means the data already uses canonical names (or their
    synonyms). Every canonical label must appear exactly once.
    """
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return {}
    if isinstance(spec, str):
        pairs: list[tuple[str, str]] = []
        for part in spec.split(","):
            if not part.strip():
                continue
            raw, sep, target = part.partition("=")
            if not sep or not raw.strip() or not target.strip():
                raise LabelMapError(
                    f"label map {spec!r}: {part.strip()!r} is not RAW=LABEL "
                    f"(e.g. {DEFAULT_LABEL_MAP!r})"
                )
            pairs.append((raw.strip(), target.strip()))
    else:
        pairs = [(str(k).strip(), str(v).strip()) for k, v in spec.items()]
    out: dict[str, str] = {}
    for raw, target in pairs:
        name = canonical_name(target)
        if name is None:
            raise LabelMapError(
                f"label map {spec!r}: {target!r} is not one of {', '.join(CANONICAL)}"
            )
        if raw in out:
            raise LabelMapError(f"label map {spec!r}: {raw!r} is mapped twice")
        out[raw] = name
    missing = [c for c in CANONICAL if c not in out.values()]
    if missing or len(out) != len(CANONICAL):
        raise LabelMapError(
            f"label map {spec!r} must map exactly one raw label to each of "
            f"{', '.join(CANONICAL)}" + (f" (missing {', '.join(missing)})" if missing else "")
        )
    return out


def map_raw_label(raw: str, label_map: Mapping[str, str]) -> str | None:
    """The canonical label of one raw data label, or None when it is unknown."""
    key = raw.strip()
    if label_map:
        if key in label_map:
            return label_map[key]
        # "1.0" written by a spreadsheet for "1"
        try:
            as_float = float(key)
        except ValueError:
            return None
        if as_float.is_integer() and str(int(as_float)) in label_map:
            return label_map[str(int(as_float))]
        return None
    return canonical_name(key)


def model_order(
    id2label: Mapping[int, str] | Mapping[str, str], label_map: Mapping[str, str] | None = None
) -> tuple[int, int, int]:
    """For each canonical label, the index of the model output that carries it.

    ``probs_canonical = probs_model[:, list(model_order(...))]``. Names are matched by
    meaning; generic ``LABEL_k`` names (or bare ``k``) need ``label_map`` to say what
    ``k`` means. Raises ``LabelMapError`` naming the model's labels when it cannot tell.
    """
    entries = {int(k): str(v) for k, v in id2label.items()}
    shown = ", ".join(f"{k}={v}" for k, v in sorted(entries.items()))
    if sorted(entries) != list(range(len(CANONICAL))):
        raise LabelMapError(
            f"the model has {len(entries)} labels ({shown}); a sentiment model needs exactly "
            f"3 outputs: {', '.join(CANONICAL)}"
        )
    found: dict[str, int] = {}
    for index, name in sorted(entries.items()):
        canonical = canonical_name(name)
        if canonical is None:
            generic = _GENERIC.match(name.strip())
            key = generic.group(1) if generic else name.strip()
            if label_map:
                canonical = label_map.get(key) or label_map.get(name.strip())
            if canonical is None:
                raise LabelMapError(
                    f"the model's label {name!r} (output {index}) has no sentiment name "
                    f"({shown}): give a label map such as {DEFAULT_LABEL_MAP!r}"
                )
        if canonical in found:
            raise LabelMapError(
                f"the model's labels ({shown}) name {canonical!r} twice; "
                "give a label map that maps each output to a different label"
            )
        found[canonical] = index
    return (found[NEGATIVE], found[NEUTRAL], found[POSITIVE])


def canonical_id2label() -> dict[int, str]:
    return dict(enumerate(CANONICAL))


def canonical_label2id() -> dict[str, int]:
    return dict(CANONICAL_INDEX)
