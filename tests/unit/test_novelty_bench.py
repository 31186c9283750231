"""``bench/novelty.py``: its two paths give the same flags on its own batches, and the
batch holds what the benchmark says (rewordings that are not news, titles that are)."""

from __future__ import annotations

import pytest

from bench.novelty import batch, index_flags, naive_flags, shingled


def test_both_paths_flag_a_batch_alike() -> None:
    stored_titles, new_titles = batch(300, 60, 0.25, "Apple", seed=3)
    assert len(stored_titles) == 300 and len(new_titles) == 60
    assert all(title.startswith("Apple ") for _, title in stored_titles)
    assert [at for at, _ in new_titles] == sorted(at for at, _ in new_titles)
    stored, new = shingled(stored_titles), shingled(new_titles)
    flags = naive_flags(stored, new)
    assert index_flags(stored, new) == flags
    # about a quarter are rewordings of stored titles; the rest are mostly news
    assert 5 <= flags.count(False) <= 40


def test_a_batch_larger_than_the_shipped_headlines_is_refused() -> None:
    with pytest.raises(SystemExit, match="at most"):
        batch(20_000, 100, 0.2, "Apple", seed=0)
