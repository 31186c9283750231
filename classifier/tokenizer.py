"""A model's fast tokenizer (``tokenizer.json``) and config read without transformers.

transformers imports torch; the ONNX Runtime serving path needs neither. These give
the engine the same token ids as ``AutoTokenizer`` (the same ``tokenizer.json`` run by
the same Rust library) and the few config values loading needs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from classifier.exceptions import ModelLoadError


class RustTokenizer:
    """``tokenizers.Tokenizer`` behind the small part of the transformers API we call."""

    model_input_names = ("input_ids", "attention_mask", "token_type_ids")

    def __init__(self, directory: Path) -> None:
        from tokenizers import Tokenizer

        path = directory / "tokenizer.json"
        try:
            self._tokenizer = Tokenizer.from_file(str(path))
        except Exception as e:  # the Rust library raises a bare Exception
            raise ModelLoadError(f"tokenizer {path} cannot be loaded: {e}") from e
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._max_length: int | None = None
        self.pad_token_id = self._pad_id(directory)

    def _pad_id(self, directory: Path) -> int | None:
        config = _read_json(directory / "tokenizer_config.json", required=False)
        token = config.get("pad_token")
        if isinstance(token, dict):
            token = token.get("content")
        if isinstance(token, str):
            found = self._tokenizer.token_to_id(token)
            if found is not None:
                return int(found)
        pad = _read_json(directory / "config.json", required=False).get("pad_token_id")
        return int(pad) if isinstance(pad, int) else None

    def __call__(
        self,
        texts: Sequence[str],
        *,
        truncation: bool = True,
        max_length: int | None = None,
        **_: Any,
    ) -> dict[str, list[list[int]]]:
        """Token ids with special tokens, truncated to ``max_length`` (special tokens included)."""
        wanted = max_length if truncation else None
        if wanted != self._max_length:
            if wanted is None:
                self._tokenizer.no_truncation()
            else:
                self._tokenizer.enable_truncation(wanted)
            self._max_length = wanted
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        return {"input_ids": [e.ids for e in encodings]}


def read_config(directory: Path) -> SimpleNamespace:
    """The values of ``config.json`` that loading needs, as attributes."""
    raw = _read_json(directory / "config.json", required=True)
    id2label = raw.get("id2label") or {}
    return SimpleNamespace(
        id2label={int(k): str(v) for k, v in id2label.items()},
        model_type=str(raw.get("model_type", "bert")),
        max_position_embeddings=raw.get("max_position_embeddings"),
        num_attention_heads=raw.get("num_attention_heads", 0),
        hidden_size=raw.get("hidden_size", 0),
    )


def _read_json(path: Path, *, required: bool) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if required:
            raise ModelLoadError(f"{path} is missing") from None
        return {}
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{path} cannot be read (corrupt: {e})") from e
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path} is not a JSON object (corrupt)")
    return data
