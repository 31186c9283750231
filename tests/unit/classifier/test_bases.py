"""Named base models: a split archive checked, joined and unzipped once, clear errors."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from classifier.bases import (
    ALL_MPNET_BASE_V2,
    MARKER,
    BaseModelError,
    Piece,
    SplitBase,
    assembled,
    resolve_base,
)

FILES = {
    "tiny/config.json": b'{"model_type": "bert"}',
    "tiny/vocab.txt": b"[PAD]\n[UNK]\nhello\n" * 200,
    "tiny/1_Pooling/config.json": b"{}",
    "tiny/desktop.ini": b"[.ShellClassInfo]",
    "elsewhere/notes.txt": b"not the model's",
}


def split_archive(
    tmp_path: Path, files: dict[str, bytes], count: int = 3
) -> tuple[SplitBase, dict[str, Path]]:
    """A zip of ``files`` cut into ``count`` pieces, and the SplitBase that describes it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    blob = buffer.getvalue()
    size = -(-len(blob) // count)
    pieces, paths = [], {}
    for n in range(count):
        chunk = blob[n * size : (n + 1) * size]
        package = f"tiny-part-{n + 1:03d}"
        path = tmp_path / "site" / package / f"tiny.zip.{n + 1:03d}"
        path.parent.mkdir(parents=True)
        path.write_bytes(chunk)
        pieces.append(Piece(package, path.name, hashlib.sha256(chunk).hexdigest()))
        paths[package] = path
    return SplitBase("tiny", tuple(pieces), root="tiny", extra="tiny"), paths


def test_pieces_are_joined_into_the_model_directory_once(tmp_path: Path) -> None:
    split, paths = split_archive(tmp_path, FILES)
    calls: list[str] = []

    def locate(piece: Piece) -> Path | None:
        calls.append(piece.package)
        return paths[piece.package]

    target = assembled(split, tmp_path / "bases", locate)

    assert target == tmp_path / "bases" / "tiny"
    assert (target / "config.json").read_bytes() == FILES["tiny/config.json"]
    assert (target / "vocab.txt").read_bytes() == FILES["tiny/vocab.txt"]
    assert (target / "1_Pooling" / "config.json").is_file()
    assert not (target / "desktop.ini").exists()
    assert not (target / "notes.txt").exists()
    marker = json.loads((target / MARKER).read_text())
    assert [p["package"] for p in marker["pieces"]] == list(paths)
    assert sorted(p.name for p in (tmp_path / "bases").iterdir()) == ["tiny"]  # no leftovers

    calls.clear()
    assert assembled(split, tmp_path / "bases", locate) == target
    assert calls == []  # found under the cache: the pieces are not read again


def test_a_missing_piece_is_named_with_the_way_to_get_it(tmp_path: Path) -> None:
    split, paths = split_archive(tmp_path, FILES)
    paths.pop("tiny-part-002")

    with pytest.raises(BaseModelError) as caught:
        assembled(split, tmp_path / "bases", lambda piece: paths.get(piece.package))

    message = str(caught.value)
    assert "tiny-part-002" in message and "tiny-part-001" not in message
    assert "pip install 'finsent[tiny]'" in message
    assert not (tmp_path / "bases" / "tiny").exists()


def test_a_damaged_piece_is_refused_and_nothing_is_left_behind(tmp_path: Path) -> None:
    split, paths = split_archive(tmp_path, FILES)
    damaged = paths["tiny-part-003"]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))

    with pytest.raises(BaseModelError, match=r"tiny-part-003\) is damaged"):
        assembled(split, tmp_path / "bases", lambda piece: paths[piece.package])

    assert list((tmp_path / "bases").iterdir()) == []


def test_an_unfinished_directory_is_replaced(tmp_path: Path) -> None:
    split, paths = split_archive(tmp_path, FILES)
    stale = tmp_path / "bases" / "tiny"
    stale.mkdir(parents=True)
    (stale / "config.json").write_text("{}")  # no marker: an earlier run that did not finish

    target = assembled(split, tmp_path / "bases", lambda piece: paths[piece.package])

    assert (target / "config.json").read_bytes() == FILES["tiny/config.json"]
    assert (target / MARKER).is_file()


def test_an_archive_path_that_climbs_out_is_refused(tmp_path: Path) -> None:
    split, paths = split_archive(tmp_path, {**FILES, "tiny/../../escaped.txt": b"x"})

    with pytest.raises(BaseModelError, match="unsafe path"):
        assembled(split, tmp_path / "bases", lambda piece: paths[piece.package])

    assert not (tmp_path / "escaped.txt").exists()


def test_an_archive_without_the_model_is_refused(tmp_path: Path) -> None:
    split, paths = split_archive(tmp_path, {"other/config.json": b"{}"})

    with pytest.raises(BaseModelError, match=r"no tiny/config\.json"):
        assembled(split, tmp_path / "bases", lambda piece: paths[piece.package])


def test_resolve_base_passes_ids_and_directories_through(tmp_path: Path) -> None:
    assert resolve_base("ProsusAI/finbert", tmp_path) == "ProsusAI/finbert"
    assert resolve_base(str(tmp_path), None) == str(tmp_path)
    minilm = resolve_base(None, None)
    assert (Path(minilm) / "config.json").is_file()
    assert resolve_base("All-MiniLM-L6-v2", None) == minilm


def test_the_mpnet_base_without_its_pieces_says_how_to_install_them(tmp_path: Path) -> None:
    from importlib import metadata

    try:
        metadata.distribution(ALL_MPNET_BASE_V2.pieces[0].package)
    except metadata.PackageNotFoundError:
        pass
    else:
        pytest.skip("the mpnet pieces are installed here")

    with pytest.raises(BaseModelError, match=r"5 are not installed .*finsent\[teacher\]"):
        resolve_base("all-mpnet-base-v2", tmp_path)
    with pytest.raises(BaseModelError, match="no directory"):
        resolve_base("all-mpnet-base-v2", None)
