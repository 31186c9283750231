"""``finsent up`` trains what is missing in a child ``finsent train``; a failure there is
one line that says what was being trained and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from finsent.cli.app import UserError
from finsent.cli.up import train_into


def test_a_failed_training_names_what_and_where(tmp_path: Path) -> None:
    out = tmp_path / "models" / "zh"
    with pytest.raises(UserError, match=r"training the model for Chinese items into .*zh failed"):
        train_into(out, "the model for Chinese items", ["--profile", "no-such-profile"])
    assert not out.exists()
