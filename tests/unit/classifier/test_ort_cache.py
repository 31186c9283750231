"""The ONNX cache built once when several workers start on one model at the same moment."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from classifier import ort


def test_workers_starting_together_build_each_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    calls: list[str] = []

    def slow_writer(step: str) -> Any:
        def write(*args: Any, **_: Any) -> None:
            dst = Path(args[1])
            calls.append(step)
            dst.write_bytes(b"half")  # what a reader must never see under the real name
            time.sleep(0.3)
            dst.write_bytes(f"{step} done".encode())

        return write

    monkeypatch.setattr(ort, "export", slow_writer("export"))
    monkeypatch.setattr(ort, "optimise", slow_writer("optimise"))
    monkeypatch.setattr(ort, "quantise", slow_writer("quantise"))
    got: list[Path] = []

    def start_worker() -> None:
        got.append(
            ort.prepare(
                "onnx-int8",
                model_dir=model,
                model_id="m",
                load_torch_model=lambda: None,
                config=None,
            )
        )

    threads = [threading.Thread(target=start_worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(calls) == ["export", "optimise", "quantise"]
    assert len(got) == 3 and len(set(got)) == 1
    assert got[0].parent == model / "onnx"  # the model's own cache, not the fallback
    assert got[0].read_bytes() == b"quantise done"
    assert not list((model / "onnx").glob("*.part*"))
