"""Loading: a ready engine from plain values, or an error that says what to do."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from classifier.exceptions import ModelLoadError
from classifier.loading import DEFAULT_CPU_VARIANT, choose_variant, load_engine


def test_missing_directory_names_it_and_how_to_train(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "finsent-sentiment"
    with pytest.raises(ModelLoadError) as info:
        load_engine(str(missing))
    assert str(missing) in str(info.value)
    assert "finsent train" in str(info.value)


def test_a_directory_that_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"has no config\.json.*finsent train"):
        load_engine(str(tmp_path))


def test_a_file_instead_of_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"\0")
    with pytest.raises(ModelLoadError, match="is a file, not a model directory"):
        load_engine(str(path))


def test_missing_weights(tiny_model: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=rf"{broken} has no weights.*finsent train"):
        load_engine(str(broken), variant="fp32")


def test_corrupt_config(tiny_model: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelLoadError, match=rf"{broken} cannot be loaded \(corrupt"):
        load_engine(str(broken), variant="fp32")


def test_truncated_weights(tiny_model: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match=rf"{broken} cannot be loaded \(corrupt"):
        load_engine(str(broken), variant="fp32")


def test_hub_id_not_in_the_cache_explains_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match=r"not in the Hugging Face cache.*HF_HUB_OFFLINE=0"):
        load_engine("finsent-test/no-such-model")


def test_variants_per_device() -> None:
    assert choose_variant("auto", "cpu") == DEFAULT_CPU_VARIANT
    assert choose_variant("auto", "cuda:0") in ("fp16", "bf16")
    with pytest.raises(ModelLoadError, match="does not run on cpu"):
        choose_variant("fp16", "cpu")
    with pytest.raises(ModelLoadError, match="does not run on cuda"):
        choose_variant("onnx-int8", "cuda")
    with pytest.raises(ModelLoadError, match="'fp8' is not one of"):
        choose_variant("fp8", "cpu")


def test_cuda_without_a_gpu_is_a_clear_error(tiny_model: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    with pytest.raises(ModelLoadError, match="no CUDA GPU is visible"):
        load_engine(str(tiny_model), device="cuda")


def test_logs_what_it_chose(tiny_model: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="classifier.loading"):
        engine = load_engine(str(tiny_model), variant="fp32", batch_size=8, max_length=40)
    assert engine.variant == "fp32" and engine.device == "cpu"
    message = caplog.messages[-1]
    for fragment in (
        "variant=fp32",
        "device=cpu",
        "batch_size=8",
        "max_length=40",
        str(tiny_model),
    ):
        assert fragment in message
